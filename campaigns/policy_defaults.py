"""The bank's default contact policy (DESIGN.md rules 3 and 8), defined once.

``crosssell.baseline`` creates the first ``ContactPolicy`` row from it, and
``campaigns.selectors.active_contact_policy`` answers it, as an unsaved version
``FALLBACK_POLICY_VERSION``, while no row is active. Every reader of the policy (the
engine's snapshot, the pre-send gate, responses) goes through that selector, so none of
them has defaults of its own.

Pure Python with no Django, so the engine's tests can build their policy from it too.
"""

from __future__ import annotations

import datetime
from typing import Any

from core.channels import QUIET_HOURS_DEFAULT

# The version a policy has when no row is active (rows start at 1).
FALLBACK_POLICY_VERSION = 0

HARDSHIP_EVENT_TYPES: tuple[str, ...] = ("payment_failed", "overdraft", "missed_loan_payment")


def default_contact_policy() -> dict[str, Any]:
    """The default policy's field values, as ``ContactPolicy`` keeps them (JSON lists).

    At most 1 outbound marketing message a day and 3 a week; quiet hours 21:00-08:00 on
    the channels the registry marks ``quiet_hours``; 30 days' cooldown after a decline;
    after 3 ignored offers in a row, 14 days' back-off; an offer presented on one channel
    is not presented on another for 7 days; a hardship event suppresses sales of credit
    products for 30 days. A new dict (and new lists) each call.
    """
    return {
        "daily_cap": 1,
        "weekly_cap": 3,
        "quiet_start": datetime.time(21, 0),
        "quiet_end": datetime.time(8, 0),
        "quiet_channels": list(QUIET_HOURS_DEFAULT),
        "decline_cooldown_days": 30,
        "fatigue_ignored_in_row": 3,
        "fatigue_backoff_days": 14,
        "presented_elsewhere_days": 7,
        "hardship_event_types": list(HARDSHIP_EVENT_TYPES),
        "hardship_days": 30,
    }
