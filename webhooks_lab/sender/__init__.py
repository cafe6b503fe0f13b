"""HTTP out: signed deliveries with retries (sender), what to do after each answer (decision),
the records (records), the SQLite outbox (outbox), the SSRF guard (ssrf)."""
