import email.utils
import time


def seconds_to_wait(retry_after):
    # Retry-After is a number of seconds ("2") or an HTTP date ("Tue, 01 Dec 2026 13:05:09 GMT").
    if retry_after.isdigit():
        return int(retry_after)
    come_back_at = email.utils.parsedate_to_datetime(retry_after).timestamp()
    return max(0, come_back_at - time.time())  # a date is wall-clock time


def poll_job(client, url):
    while True:
        answer = client.get(url)  # no follow_redirects: we want to see the 303 ourselves
        if answer.status_code == 303:  # the job has ended; its outcome is at the Location
            return client.get(answer.headers["location"]).json()["result"]
        time.sleep(seconds_to_wait(answer.headers["retry-after"]))  # as long as asked, no less
