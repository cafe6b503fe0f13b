stock = {"mug": 10}
handled = set()  # ids of the payment events already taken from stock
lab.receiver.endpoint("shop-payments").handlers.clear()


@lab.receiver.on("shop-payments", "payment.succeeded")
def take_from_stock(event):
    if event.id in handled:
        return  # seen it: acknowledge, change nothing
    handled.add(event.id)
    for product, quantity in event.data["items"].items():
        stock[product] -= quantity
