async def make_thumbnails(images, *, progress):
    thumbnails = []
    for done, name in enumerate(images, start=1):
        await asyncio.sleep(0.01)  # pretend to resize one image
        thumbnails.append(f"thumb_{name}")
        progress(done, f"{name} done", of=len(images))  # 1 of 8, 2 of 8, ... 8 of 8 = 100%
    return thumbnails
