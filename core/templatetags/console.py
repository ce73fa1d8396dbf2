"""Small template helpers for the console: roles, reason codes, JSON, hashes."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder

from core.permissions import roles_of as _roles_of

register = template.Library()

_BADGES = {
    # statuses that are fine
    "active": "ok",
    "approved": "ok",
    "running": "ok",
    "completed": "ok",
    "granted": "ok",
    "released": "ok",
    "delivered": "ok",
    "processed": "ok",
    "accept": "ok",
    "click": "ok",
    "pass": "ok",
    "done": "ok",
    # statuses waiting for someone
    "pending": "wait",
    "pending_approval": "wait",
    "changes_requested": "wait",
    "queued": "wait",
    "leased": "wait",
    "paused": "wait",
    "accepted": "wait",
    "draft": "muted",
    "retired": "muted",
    "archived": "muted",
    "cancelled": "muted",
    "withdrawn": "muted",
    "impression": "muted",
    "dismiss": "muted",
    # statuses that stopped something
    "rejected": "bad",
    "revoked": "bad",
    "failed": "bad",
    "decline": "bad",
    "unresolved": "bad",
    "control_group": "info",
}


@register.simple_tag
def roles_of(user: Any) -> frozenset[str]:
    return _roles_of(user)


@register.filter
def badge(status: Any) -> str:
    """The CSS modifier of a status badge: ok, wait, bad, muted, info."""
    return _BADGES.get(str(status), "neutral")


@register.filter
def reason(code: Any) -> str:
    """A stable snake_case reason code as words: ``no_consent`` -> ``No consent``."""
    text = str(code or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else ""


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)


@register.filter
def compact_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)


@register.filter
def short_hash(value: Any, length: int = 12) -> str:
    text = str(value or "")
    return text[: int(length)]


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    if isinstance(mapping, dict):
        return mapping.get(key, mapping.get(str(key)))
    return None


@register.filter
def is_mapping(value: Any) -> bool:
    return isinstance(value, dict)


@register.filter
def is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple)


@register.filter
def score(value: Any, digits: int = 4) -> str:
    """A number with a fixed number of decimals; dashes for missing values."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def percent(value: Any, total: Any) -> str:
    try:
        value, total = float(value), float(total)
    except (TypeError, ValueError):
        return "—"
    if not total:
        return "—"
    return f"{100.0 * value / total:.1f}%"


@register.filter
def startswith(value: Any, prefix: str) -> bool:
    return str(value).startswith(prefix)
