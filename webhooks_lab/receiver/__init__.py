"""HTTP in: endpoints (endpoint), verification, dedupe and handlers (receiver), the inbox, chaos,
the inbox page, its live feed, replay."""
