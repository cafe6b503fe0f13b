async def ask_or_give_up(client, url, seconds):
    try:
        # wait_for cancels the request if it is not answered within `seconds`.
        return await asyncio.wait_for(client.post(url, json={"type": "ping", "data": {}}), seconds)
    except asyncio.TimeoutError:  # the same class as TimeoutError from Python 3.11 on
        return None
