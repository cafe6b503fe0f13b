async def make_thumbnail(name):
    # resize_pixels blocks; in a worker thread it blocks only that thread, and the loop stays free.
    return await asyncio.to_thread(resize_pixels, name)
