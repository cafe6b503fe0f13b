def make_album(photos):
    # Fan out: start one job per photo. start() answers at once, so all six are soon under way.
    jobs = [
        lab.jobs.start("image.resize", {"source": photo, "width": 200, "height": 200})
        for photo in photos
    ]
    # Fan in: wait for every one, then collect the results in the order of the photos.
    lab.jobs.wait_all(jobs)
    return [job.wait()["url"] for job in jobs]
