"""What only the course needs: the polling race, plots, the email outbox, the environment check,
and the end-to-end scenarios."""
