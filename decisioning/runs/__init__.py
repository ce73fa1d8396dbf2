"""Batch runs: chunks by customer-id range, loaded as columns, decided in bulk, stored with
COPY; simulation of a draft over the same engine."""
