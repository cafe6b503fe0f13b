def apply_update(orders, event):
    order, version = event.data["order"], event.data["version"]
    current = orders.get(order)
    if current is not None and current["version"] >= version:
        return  # a repeat, or older news than what we already have: ignore it
    orders[order] = {"status": event.data["status"], "version": version}
