def requests_per_event(rate, interval):
    # One request every `interval` seconds; `rate * interval` events happen in that time.
    return 1 / (rate * interval)
