def handle_thin(table, event, fetch):
    ref = event.data["related_object"]
    state = fetch(ref["type"], ref["id"])  # the current state, not what the event once said
    key = (state["type"], state["id"])  # an id is unique only within its type
    held = table.get(key)
    if held is None or state["version"] > held["version"]:
        table[key] = state  # a stale answer (a lagging replica, a late event) changes nothing
