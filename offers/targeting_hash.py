"""The hash that names one exact version of an offer's targeting.

An offer's targeting is who may get it and how strongly it is pushed: its eligibility
rule, validity window, lever, value, cooldown and trigger weights. An approval covers
(offer id, targeting version, this hash); the engine's snapshot recomputes it over the
offer row to prove the targeting in force is the targeting approved. Every writer of
``OfferTargeting.content_hash`` (the offers services, the migration that recorded the
targeting in force before versioning, the demo seeder) calls this one function.

Pure Python over plain values, so the data migration uses it as the services do.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.json import canonical_json

# The fields of ``Offer`` (and ``OfferTargeting``) a targeting version covers.
TARGETING_FIELDS: tuple[str, ...] = (
    "eligibility_rule",
    "valid_from",
    "valid_until",
    "lever",
    "value",
    "cooldown_days",
    "trigger_weights",
)

_LEVER = Decimal("0.001")
_CENTS = Decimal("0.01")


def _moment(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def _decimal(value: Any, quantum: Decimal) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(quantum))


def targeting_values(source: Any) -> dict[str, Any]:
    """The targeting fields of an ``Offer`` or ``OfferTargeting`` row, as stored."""
    return {name: getattr(source, name) for name in TARGETING_FIELDS}


def normalised(values: Mapping[str, Any]) -> dict[str, Any]:
    """The targeting as JSON-safe, byte-stable values: what is hashed, shown and diffed."""
    return {
        "eligibility_rule": str(values.get("eligibility_rule") or ""),
        "valid_from": _moment(values.get("valid_from")),
        "valid_until": _moment(values.get("valid_until")),
        "lever": _decimal(values.get("lever"), _LEVER),
        "value": _decimal(values.get("value"), _CENTS),
        "cooldown_days": int(values.get("cooldown_days") or 0),
        "trigger_weights": {
            str(event): float(weight)
            for event, weight in sorted((values.get("trigger_weights") or {}).items())
        },
    }


def targeting_hash(*, offer_code: str, version: int, values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the offer code, version and targeting."""
    payload = {"offer_code": offer_code, "version": int(version), **normalised(values)}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def targeting_hash_of(source: Any, *, offer_code: str, version: int) -> str:
    """The hash of a row's targeting fields under ``version``."""
    return targeting_hash(offer_code=offer_code, version=version, values=targeting_values(source))
