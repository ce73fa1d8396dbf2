"""Appending to the audit ledger: ``audit()`` inside the transaction of the write it
describes, or ``build_record`` + ``audit_many`` for bulk appends.

Appending takes no ledger-wide lock, so the hot path never waits on the ledger; only the
sealer (``ledger.sealer``) is serialised. Under the embedded default (no broker, no beat)
an append also asks this process to seal once its transaction commits
(``ledger.autoseal``).

Free text a caller supplies never goes into ``data`` or ``object_repr`` as is: route it
through ``ledger.redaction.free_text`` (see that module).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import orjson
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.utils import timezone

from core.actors import actor_name
from core.request_context import current_request_id
from ledger.autoseal import seal_after_commit
from ledger.hashing import HASHED_FIELDS, _normalise, _text, record_hash_of
from ledger.models import AuditRecord


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
        "actor": _text(actor_name(actor)),
        "request_id": current_request_id(),
        "object_type": object_type,
        "object_id": _text(str(object_id)) if object_id != "" else "",
        "object_repr": _text(object_repr[:200]),
        "customer_ref": customer_ref,
        "channel": channel,
        "data": _normalise(data or {}),
    }
    return AuditRecord(record_hash=record_hash_of(fields), **fields)


def audit(**kwargs: Any) -> AuditRecord:
    """Append one record. Call inside the transaction of the write it describes."""
    record = build_record(**kwargs)
    seal_after_commit(_insert(record))
    return record


_INSERT_COLUMNS = (*HASHED_FIELDS, "record_hash")
_insert_sql: dict[str, str] = {}


def _concrete_field(name: str) -> Field[Any, Any]:
    # every inserted name is a concrete field of AuditRecord, never a reverse relation
    return cast("Field[Any, Any]", AuditRecord._meta.get_field(name))


def _column(field: Field[Any, Any]) -> str:
    column = field.column
    assert column is not None, field  # a concrete field always has its column
    return column


def _insert(record: AuditRecord) -> BaseDatabaseWrapper:
    """``record.save(force_insert=True)`` without the ORM's per-call query compilation:
    one prepared INSERT ... RETURNING seq. This is the hot path of every release."""
    connection_ = connections[router.db_for_write(AuditRecord)]
    sql = _insert_sql.get(connection_.alias)
    returning = connection_.features.can_return_columns_from_insert
    if sql is None:
        quote = connection_.ops.quote_name
        columns = ", ".join(quote(_column(_concrete_field(n))) for n in _INSERT_COLUMNS)
        placeholders = ", ".join(["%s"] * len(_INSERT_COLUMNS))
        sql = f"INSERT INTO {quote(AuditRecord._meta.db_table)} ({columns}) VALUES ({placeholders})"
        if returning:
            sql += f" RETURNING {quote(_column(AuditRecord._meta.pk))}"
        _insert_sql[connection_.alias] = sql
    params = [
        _concrete_field(name).get_db_prep_save(getattr(record, name), connection_)
        for name in _INSERT_COLUMNS
    ]
    with connection_.cursor() as cursor:
        cursor.execute(sql, params)
        record.seq = cursor.fetchone()[0] if returning else cursor.lastrowid
    record._state.adding = False
    record._state.db = connection_.alias
    return connection_


def audit_many(records: list[AuditRecord]) -> None:
    if records:
        AuditRecord.objects.bulk_create(records, batch_size=1000)
        seal_after_commit(router.db_for_write(AuditRecord))


def audit_many_statement(
    records: list[AuditRecord], connection_: BaseDatabaseWrapper
) -> tuple[str, list[Any]]:
    """``audit_many`` as one statement and its parameters, for a caller that sends it
    with the other writes of its transaction in one round trip
    (``decisioning.decisions.store`` on PostgreSQL): ``INSERT ... SELECT`` from one JSON
    array of the records (``json_populate_recordset`` over the table's row type), in
    their order, so the database assigns ``seq`` in that order.

    The records are exactly those ``build_record`` hashed, with the columns ``_insert``
    writes; ``data`` goes in as the normalised dict itself (jsonb keeps the value, not
    the text, and the hash was taken over ``canonical_json`` at build time, so how the
    text is spelt here changes nothing). PostgreSQL only. Execute it inside the
    transaction of the write the records describe, then call ``audit_many_sent``."""
    if not records:
        raise ValueError("audit_many_statement needs at least one record")
    if connection_.vendor != "postgresql":
        raise ValueError("audit_many_statement is for PostgreSQL; use audit_many elsewhere")
    quote = connection_.ops.quote_name
    names = [(n, _column(_concrete_field(n))) for n in _INSERT_COLUMNS]
    columns = ", ".join(quote(column) for _, column in names)
    table = quote(AuditRecord._meta.db_table)
    rows = [
        {
            column: (value.astimezone(UTC) if isinstance(value, datetime) else value)
            for name, column in names
            for value in (getattr(record, name),)
        }
        for record in records
    ]
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM"
        f" json_populate_recordset(NULL::{table}, %s::json) WITH ORDINALITY AS r"
        " ORDER BY r.ordinality"
    )
    return sql, [jsonb_text(rows)]


def audit_many_sent(connection_: BaseDatabaseWrapper) -> None:
    """After an ``audit_many_statement`` was executed: seal once its transaction commits
    (at once when it ran in autocommit, as one implicit transaction)."""
    seal_after_commit(connection_)


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def jsonb_text(value: Any) -> str:
    """``value`` as JSON text for a ``json``/``jsonb`` parameter, encoded with orjson:
    datetimes as ISO 8601 with their offset (microseconds kept), UUIDs as strings.

    Only for storage: jsonb keeps the parsed value, so this spelling never reaches a hash
    (hashes are over ``core.json.canonical_json``). What orjson cannot encode (an integer
    beyond 64 bits) goes to ``json.dumps``, which encodes it; anything else neither
    knows (a Decimal, an arbitrary object) is refused with ``TypeError``."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, default=_plain)
