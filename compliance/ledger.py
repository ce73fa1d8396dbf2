"""Appending to the audit ledger.

Each record stores the SHA-256 of its own canonical JSON (everything but ``seq``,
which the database assigns); seals chain records in batches. Appending takes no
ledger-wide lock, so the hot path never waits on the ledger.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from compliance.models import AuditRecord
from crosssell.actors import actor_name
from crosssell.request_context import current_request_id

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


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    )


def _normalise(data: dict) -> dict:
    # Store exactly what we hash: a JSON round trip turns dates, decimals and UUIDs into
    # the strings the database will give back.
    return json.loads(canonical_json(data))


def record_hash_of(fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    created_at = payload["created_at"]
    if isinstance(created_at, datetime):
        payload["created_at"] = created_at.astimezone(UTC).isoformat(timespec="microseconds")
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def build_record(
    *,
    kind: str,
    action: str,
    actor: Any,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
    customer_ref: str = "",
    channel: str = "",
    data: dict | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """An unsaved record with its hash; use for bulk appends."""
    fields: dict[str, Any] = {
        "created_at": (at or timezone.now()).astimezone(UTC),
        "kind": kind,
        "action": action,
        "actor": actor_name(actor),
        "request_id": current_request_id(),
        "object_type": object_type,
        "object_id": str(object_id) if object_id != "" else "",
        "object_repr": object_repr[:200],
        "customer_ref": customer_ref,
        "channel": channel,
        "data": _normalise(data or {}),
    }
    return AuditRecord(record_hash=record_hash_of(fields), **fields)


def audit(**kwargs: Any) -> AuditRecord:
    """Append one record. Call inside the transaction of the write it describes."""
    record = build_record(**kwargs)
    record.save(force_insert=True)
    return record


def audit_many(records: list[AuditRecord]) -> None:
    if records:
        AuditRecord.objects.bulk_create(records, batch_size=1000)
