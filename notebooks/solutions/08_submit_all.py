import time

from webhooks_lab.retry import parse_retry_after


def submit_all(client, requests):
    job_ids = []
    for request in requests:
        while True:
            answer = client.post("/jobs", json=request)
            if answer.status_code != 503:
                break
            # The queue is full: wait as long as the server asks (a number of seconds or an
            # HTTP date, both read by parse_retry_after), then send the same request again.
            time.sleep(parse_retry_after(answer.headers["retry-after"]))
        answer.raise_for_status()  # anything but 202 (and 503) is a real error
        job_ids.append(answer.json()["id"])
    return job_ids
