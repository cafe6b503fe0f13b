def notify(event, seen, emails):
    """Email once per job: a rerun sends a new webhook id, but the job's id stays the same."""
    data = event["data"]
    if data["id"] in seen:
        return
    seen.add(data["id"])
    emails.append(f"{data['id']} {data['status']}")
