"""The hash that names one exact version of the contact policy.

An approval of a policy change covers (policy row id, version, this hash); the version
becomes the active one only when a checker approves it, and only if its stored values
still hash to what was approved.

Pure Python with no Django, like ``campaigns.policy_defaults``.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from typing import Any

from core.json import canonical_json

# The fields a policy version covers (every one a marketer may change).
POLICY_FIELDS: tuple[str, ...] = (
    "daily_cap",
    "weekly_cap",
    "quiet_start",
    "quiet_end",
    "quiet_channels",
    "decline_cooldown_days",
    "fatigue_ignored_in_row",
    "fatigue_backoff_days",
    "presented_elsewhere_days",
    "hardship_event_types",
    "hardship_days",
)


def _time(value: datetime.time | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%H:%M:%S")


def policy_values(source: Any) -> dict[str, Any]:
    """The policy fields of a ``ContactPolicy`` row, as stored."""
    return {name: getattr(source, name) for name in POLICY_FIELDS}


def normalised(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe, byte-stable values: what is hashed, shown and diffed."""
    out: dict[str, Any] = {}
    for name in POLICY_FIELDS:
        value = values.get(name)
        if name in ("quiet_start", "quiet_end"):
            out[name] = _time(value)
        elif name in ("quiet_channels", "hardship_event_types"):
            out[name] = sorted(str(item) for item in value or ())
        else:
            out[name] = int(value or 0)
    return out


def policy_hash(*, version: int, values: Mapping[str, Any]) -> str:
    payload = {"version": int(version), **normalised(values)}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def policy_hash_of(policy: Any) -> str:
    return policy_hash(version=policy.version, values=policy_values(policy))
