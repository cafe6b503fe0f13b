"""What every route shares: RFC 9457 problem answers and size-limited body reading."""
