"""HTTP out: signed deliveries with retries, the SQLite outbox, the SSRF guard."""
