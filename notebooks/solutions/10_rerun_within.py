def rerun_within(heartbeat, sweep, abort_wait):
    """The heartbeat lapses, a sweep notices, the sweep waits for an abort: one after another."""
    return heartbeat + sweep + abort_wait
