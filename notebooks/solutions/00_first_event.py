httpx.post(
    f"{lab.receiver.url}/webhooks/hello",
    json={"type": "user.created", "data": {"email": "ada@example.com"}},
)
