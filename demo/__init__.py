"""The demo bank: a deterministic synthetic retail bank and the ``manage.py demo`` steps.

- ``catalog`` / ``campaigns``: the products, offers, content and campaigns (fixed);
- ``population``, ``consents``, ``history``: customers drawn from a seed (NumPy);
- ``ground_truth``: the acceptance model the response history was drawn from;
- ``seed``: ``seed_demo_bank(SeedOptions(...))``, everything in one transaction;
- ``pipeline``: the ordered ``DEMO_STEPS`` of ``manage.py demo`` and how to add one.
"""
