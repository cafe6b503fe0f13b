"""HTTP in: endpoints, verification, dedupe, the inbox, chaos,
the inbox page, its live feed, replay."""
