"""Time helpers shared by scalar and batch evaluation (one definition of each window)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
DAY_US = 86_400_000_000


def require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def to_us(value: datetime) -> int:
    """Exact microseconds since the epoch (batch arrays compare these as int64)."""
    return (value - EPOCH) // MICROSECOND


@lru_cache(maxsize=1024)
def zone(name: str | None, default: str = "UTC") -> tzinfo:
    """The customer's time zone; an unknown or blank name falls back to ``default``."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ValueError, KeyError, OSError):
                continue
    return UTC


def quiet_hours(now: datetime, tz: tzinfo, start: time, end: time) -> datetime | None:
    """The end of the quiet period ``now`` falls in (local ``end``), or None if not quiet.

    ``start > end`` is a period across midnight (21:00-08:00); ``start == end`` is none.
    """
    if start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start > end:
        if clock >= start:
            return datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
        if clock < end:
            return datetime.combine(local.date(), end, tzinfo=tz)
        return None
    if start <= clock < end:
        return datetime.combine(local.date(), end, tzinfo=tz)
    return None
