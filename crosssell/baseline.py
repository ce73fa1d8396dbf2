"""Rows every installation needs, re-created after migrate and after a flush.

Data migrations create them the first time; ``post_migrate`` (which Django also sends
after ``flush``) puts them back if they went missing, so a flushed database — or the
test database between transactional tests — still has the console groups, the catalog
version counter and a default contact policy.
"""

import datetime

from core.choices import CONSOLE_GROUPS

DEFAULT_POLICY = {
    "daily_cap": 1,
    "weekly_cap": 3,
    "quiet_start": datetime.time(21, 0),
    "quiet_end": datetime.time(8, 0),
    "quiet_channels": ["push", "sms"],
    "decline_cooldown_days": 30,
    "fatigue_ignored_in_row": 3,
    "fatigue_backoff_days": 14,
    "presented_elsewhere_days": 7,
    "hardship_event_types": ["payment_failed", "overdraft", "missed_loan_payment"],
    "hardship_days": 30,
}


def ensure_baseline(using: str = "default", **kwargs) -> None:
    from django.contrib.auth.models import Group

    from campaigns.models import ContactPolicy
    from compliance.models import CatalogVersion

    for name in CONSOLE_GROUPS:
        Group.objects.using(using).get_or_create(name=str(name))
    CatalogVersion.objects.using(using).get_or_create(pk=1)
    if not ContactPolicy.objects.using(using).exists():
        ContactPolicy.objects.using(using).create(
            version=1,
            is_active=True,
            note="Bank default contact policy",
            created_by="system:baseline",
            **DEFAULT_POLICY,
        )
