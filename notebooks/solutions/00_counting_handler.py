orders = {"count": 0}


@lab.receiver.on("count", "order.created")
def count_order(event):
    orders["count"] += 1
