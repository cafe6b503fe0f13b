def poll_job(client, url):
    while True:
        answer = client.get(url)  # no follow_redirects: we want to see the 303 ourselves
        if answer.status_code == 303:  # the job has ended; its outcome is at the Location
            return client.get(answer.headers["location"]).json()["result"]
        time.sleep(int(answer.headers["retry-after"]))  # as long as the server asked, no less
