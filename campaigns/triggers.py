"""What a campaign's trigger reads in the signal: the shape of ``trigger_conditions``.

``Campaign.trigger_conditions`` maps a trigger event type to what an event of that type
must be for the campaign to fire::

    {
        "card_transaction": {"condition": 'merchant_category in ("fuel") and amount > 0'},
        "page_view": {"pages": ["/loans/*"], "max_age_hours": 6},
    }

- ``condition``: a rule over the event's payload, in the rule language (any key name,
  typed by the value it is compared with); empty = every event of the type;
- ``pages``: page patterns (``/loans/*``) the payload's ``page`` must match; empty = any;
- ``max_age_hours``: how late the campaign may fire (default 24): after the event, or for
  a journey after its wait ended.

A trigger event type the mapping does not name fires on every event of that type within
the default age. The engine reads the same shape (``decisioning.decisions.snapshots``).

Conditions are parsed with the engine's payload-rule parser, which decisioning hands
down at start-up (``register_condition_parser``; campaigns sits below decisioning).
Without it (never the case in the running app), a lexical check stands in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# The lexical check of rule text, without the customer-field names a registered rule
# parser would insist on: payload keys are free.
from compliance.prechecks import RuleSyntaxError
from compliance.prechecks import _scan_rule_fields as lexical_rule_check

DEFAULT_MAX_AGE_HOURS = 24
MAX_AGE_HOURS_LIMIT = 24 * 366
MAX_PAGES = 50
MAX_PAGE_PATTERN = 200
KEYS = ("condition", "pages", "max_age_hours")

ConditionParser = Callable[[str], Any]
_condition_parser: ConditionParser | None = None


def register_condition_parser(parser: ConditionParser | None) -> ConditionParser | None:
    """Plug in the engine's ``parse_payload_rule`` (raises an error with ``position``).
    Returns the previous parser so tests can restore it."""
    global _condition_parser
    previous, _condition_parser = _condition_parser, parser
    return previous


def condition_problem(text: str) -> str | None:
    """Why a payload condition cannot be used, or None when it can."""
    if not isinstance(text, str):
        return "must be text in the rule language"
    if not text.strip():
        return None
    try:
        if _condition_parser is not None:
            _condition_parser(text)
        else:
            lexical_rule_check(text)
    except (ValueError, RuleSyntaxError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        if "position" not in message:
            message = f"{message} (at position {getattr(exc, 'position', 0)})"
        return message
    return None


def _page_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str) or not pattern:
        return "a page pattern is a non-empty text"
    if not pattern.startswith("/"):
        return f"page pattern {pattern!r} must start with '/' (e.g. /loans/*)"
    if len(pattern) > MAX_PAGE_PATTERN:
        return f"page pattern {pattern[:40]!r}... is longer than {MAX_PAGE_PATTERN} characters"
    if any(char.isspace() for char in pattern):
        return f"page pattern {pattern!r} contains a space"
    return None


def normalised_trigger_conditions(
    value: Any, trigger_event_types: list[str] | Any
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``value`` in its stored shape, and the problems found (empty when valid).

    Stored entries hold only what differs from the default (no condition, any page,
    ``DEFAULT_MAX_AGE_HOURS``); an entry left with nothing is dropped.
    """
    if value in (None, ""):
        return {}, []
    if not isinstance(value, Mapping):
        return {}, ["must be an object: trigger event type -> condition, pages, max_age_hours"]
    types = [t for t in trigger_event_types or () if isinstance(t, str)]
    problems: list[str] = []
    stored: dict[str, dict[str, Any]] = {}
    for event_type, entry in value.items():
        if event_type not in types:
            listed = ", ".join(types) or "none"
            problems.append(
                f"{event_type}: not one of the campaign's trigger event types ({listed})"
            )
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{event_type}: must be an object with {', '.join(KEYS)}")
            continue
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            problems.append(
                f"{event_type}: unknown setting(s) {', '.join(map(str, unknown))} "
                f"(allowed: {', '.join(KEYS)})"
            )
            continue
        clean: dict[str, Any] = {}
        condition = entry.get("condition") or ""
        problem = condition_problem(condition)
        if problem is not None:
            problems.append(f"{event_type}: condition: {problem}")
        elif condition.strip():
            clean["condition"] = condition.strip()
        pages = entry.get("pages") or []
        if not isinstance(pages, list | tuple):
            problems.append(f"{event_type}: pages must be a list of page patterns")
        elif len(pages) > MAX_PAGES:
            problems.append(f"{event_type}: at most {MAX_PAGES} page patterns")
        else:
            found = [p for p in (_page_problem(pattern) for pattern in pages) if p]
            problems += [f"{event_type}: {p}" for p in found]
            if not found and pages:
                clean["pages"] = list(dict.fromkeys(pages))
        hours = entry.get("max_age_hours", DEFAULT_MAX_AGE_HOURS)
        if hours is None:
            hours = DEFAULT_MAX_AGE_HOURS
        if (
            isinstance(hours, bool)
            or not isinstance(hours, int)
            or not 1 <= hours <= MAX_AGE_HOURS_LIMIT
        ):
            problems.append(
                f"{event_type}: max_age_hours must be a whole number of hours from 1 to "
                f"{MAX_AGE_HOURS_LIMIT}"
            )
        elif hours != DEFAULT_MAX_AGE_HOURS:
            clean["max_age_hours"] = hours
        if clean:
            stored[event_type] = clean
    return stored, problems


def trigger_settings(
    conditions: Mapping[str, Any] | None, event_type: str
) -> tuple[str, tuple[str, ...], int]:
    """(condition, pages, max_age_hours) of one trigger event type, defaults filled in."""
    entry = (conditions or {}).get(event_type) or {}
    hours = entry.get("max_age_hours") or DEFAULT_MAX_AGE_HOURS
    return entry.get("condition") or "", tuple(entry.get("pages") or ()), int(hours)
