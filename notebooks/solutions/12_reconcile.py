def reconcile(list_page, process, cursor):
    while True:
        page = list_page(cursor)
        for event in page["data"]:
            process(event)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor
