"""Signals: events ingested idempotently, decided on per campaign, journeys on absence, and
customers arriving after their events."""
