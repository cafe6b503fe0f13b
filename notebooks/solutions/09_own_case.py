stars_secret = signing.generate_secret()
starred = []
lab.receiver.endpoint("stars").handlers.clear()

# 1. Your app: only signed deliveries get in, and a handler acts on each star.
lab.receiver.endpoint("stars").require(stars_secret)


@lab.receiver.on("stars", "star.created")
def post_to_chat(event):
    starred.append(event.data["repository"])


# 2. The source: your URL, registered for star.created, signed with the same secret.
lab.sender.add_endpoint(lab.receiver.url_for("stars"), secret=stars_secret, types=["star.created"])
