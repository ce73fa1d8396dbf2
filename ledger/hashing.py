"""What the ledger hashes, and how: record hashes, records hashes and seal hashes.

Each record stores the SHA-256 of its own canonical JSON (everything but ``seq``, which
the database assigns); a seal hashes the records it covers and the previous seal.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.json import canonical_json

HASHED_FIELDS = (
    "created_at",
    "kind",
    "action",
    "actor",
    "request_id",
    "object_type",
    "object_id",
    "object_repr",
    "customer_ref",
    "channel",
    "data",
)


ZERO_HASH = "0" * 64


def _normalise(data: dict) -> dict:
    # Store exactly what we hash: a JSON round trip turns dates, decimals and UUIDs into
    # the strings the database will give back.
    return _stable(json.loads(canonical_json(data)))


def _stable(value: Any) -> Any:
    """Make JSON values survive every backend unchanged (PostgreSQL's jsonb included).

    jsonb stores numbers as ``numeric`` and prints them without exponent, so a float of
    1e16 or more (always integral) comes back as an int: store it as that int; nor has
    it a negative zero: store 0.0. NaN and
    infinities are not JSON: store them as strings. NUL cannot be stored in text: replace
    it with U+FFFD.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        if abs(value) >= 1e16:
            return int(Decimal(repr(value)))
        return value + 0.0  # -0.0 -> 0.0: numeric has no negative zero
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        return [_stable(item) for item in value]
    if isinstance(value, dict):
        return {_text(key): _stable(item) for key, item in value.items()}
    return value


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def record_hash_of(fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    created_at = payload["created_at"]
    if isinstance(created_at, datetime):
        payload["created_at"] = created_at.astimezone(UTC).isoformat(timespec="microseconds")
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def records_hash_of(lines: Iterable[tuple[int, str]]) -> str:
    digest = hashlib.sha256()
    for seq, record_hash in lines:
        digest.update(f"{seq}:{record_hash}\n".encode())
    return digest.hexdigest()


def seal_hash_of(
    *,
    prev_hash: str,
    records_hash: str,
    record_count: int,
    first_record_seq: int,
    last_record_seq: int,
) -> str:
    payload = f"{prev_hash}|{records_hash}|{record_count}|{first_record_seq}|{last_record_seq}"
    return hashlib.sha256(payload.encode()).hexdigest()
