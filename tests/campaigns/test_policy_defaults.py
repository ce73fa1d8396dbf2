"""The contact policy's one set of defaults: the fallback, the baseline row, the migration."""

from __future__ import annotations

import datetime

import pytest

from campaigns.models import ContactPolicy
from campaigns.policy_defaults import FALLBACK_POLICY_VERSION, default_contact_policy
from campaigns.selectors import active_contact_policy, fallback_contact_policy
from core.channels import CHANNELS
from crosssell.baseline import ensure_baseline

pytestmark = pytest.mark.django_db

# Bookkeeping of a version, not the policy it states.
NOT_POLICY = {"id", "version", "is_active", "note", "created_by", "created_at"}


def values(policy: ContactPolicy) -> dict:
    return {
        f.name: getattr(policy, f.name)
        for f in ContactPolicy._meta.fields
        if f.name not in NOT_POLICY
    }


def test_the_defaults_are_the_design_policy():
    assert default_contact_policy() == {
        "daily_cap": 1,
        "weekly_cap": 3,
        "quiet_start": datetime.time(21, 0),
        "quiet_end": datetime.time(8, 0),
        "quiet_channels": [spec.code for spec in CHANNELS if spec.quiet_hours],
        "decline_cooldown_days": 30,
        "fatigue_ignored_in_row": 3,
        "fatigue_backoff_days": 14,
        "presented_elsewhere_days": 7,
        "hardship_event_types": ["payment_failed", "overdraft", "missed_loan_payment"],
        "hardship_days": 30,
    }
    # every policy field is in it, and nothing else
    assert set(default_contact_policy()) == {
        f.name for f in ContactPolicy._meta.fields if f.name not in NOT_POLICY
    }
    # each call is a fresh copy: a caller changing its lists changes nobody else's
    default_contact_policy()["quiet_channels"].append("email")
    assert "email" not in default_contact_policy()["quiet_channels"]


def test_the_fallback_policy_equals_the_baseline_row():
    migrated = active_contact_policy()
    assert migrated.pk is not None and values(migrated) == default_contact_policy()

    ContactPolicy.objects.all().delete()
    fallback = active_contact_policy()
    assert fallback.pk is None and fallback.version == FALLBACK_POLICY_VERSION
    assert values(fallback) == values(fallback_contact_policy())

    ensure_baseline()
    baseline = ContactPolicy.objects.get(is_active=True)
    assert (baseline.version, baseline.created_by) == (1, "system:baseline")
    baseline.refresh_from_db()  # as stored: JSON lists and times read back
    assert values(baseline) == values(fallback) == default_contact_policy()
    assert active_contact_policy() == baseline


def test_a_weekly_cap_below_the_daily_cap_is_refused_in_plain_words(db):
    from django.core.exceptions import ValidationError

    from campaigns.models import ContactPolicy

    policy = ContactPolicy(daily_cap=5, weekly_cap=2, version=99)
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    text = " ".join(refused.value.messages)
    assert "The weekly cap must be at least the daily cap." in text
    assert "Constraint" not in text
