async def send_all(client, url, events):
    # Make every request first (nothing is sent yet: they are just coroutines), then await them
    # together. gather runs them side by side and returns the answers in the order given.
    return await asyncio.gather(*(client.post(url, json=event) for event in events))
