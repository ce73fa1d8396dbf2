"""The audit ledger: appending, sealing and verifying.

Each record stores the SHA-256 of its own canonical JSON (everything but ``seq``,
which the database assigns); seals chain records in batches. Appending takes no
ledger-wide lock, so the hot path never waits on the ledger; only the sealer is
serialised. ``verify_ledger`` recomputes every record hash and every seal.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, router, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from compliance.models import AuditRecord, AuditSeal, AuditSealerState, AuditSealMembership
from core.actors import actor_name
from core.request_context import current_request_id

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
    _insert(record)
    return record


_INSERT_COLUMNS = (*HASHED_FIELDS, "record_hash")
_insert_sql: dict[str, str] = {}


def _insert(record: AuditRecord) -> None:
    """``record.save(force_insert=True)`` without the ORM's per-call query compilation:
    one prepared INSERT ... RETURNING seq. This is the hot path of every release."""
    connection_ = connections[router.db_for_write(AuditRecord)]
    sql = _insert_sql.get(connection_.alias)
    returning = connection_.features.can_return_columns_from_insert
    if sql is None:
        quote = connection_.ops.quote_name
        columns = ", ".join(quote(AuditRecord._meta.get_field(n).column) for n in _INSERT_COLUMNS)
        placeholders = ", ".join(["%s"] * len(_INSERT_COLUMNS))
        sql = f"INSERT INTO {quote(AuditRecord._meta.db_table)} ({columns}) VALUES ({placeholders})"
        if returning:
            sql += f" RETURNING {quote(AuditRecord._meta.pk.column)}"
        _insert_sql[connection_.alias] = sql
    params = [
        AuditRecord._meta.get_field(name).get_db_prep_save(getattr(record, name), connection_)
        for name in _INSERT_COLUMNS
    ]
    with connection_.cursor() as cursor:
        cursor.execute(sql, params)
        record.seq = cursor.fetchone()[0] if returning else cursor.lastrowid
    record._state.adding = False
    record._state.db = connection_.alias


def audit_many(records: list[AuditRecord]) -> None:
    if records:
        AuditRecord.objects.bulk_create(records, batch_size=1000)


# --- sealing ----------------------------------------------------------------------------
#
# Appenders insert records and never wait on anything shared. The sealer alone is
# serialised (a row lock on AuditSealerState; on SQLite the write transaction is enough):
# it takes the records no seal covers yet, in seq order, and writes one AuditSeal
#
#     records_hash = sha256("<seq>:<record_hash>\n" for each covered record, by seq)
#     seal_hash    = sha256("<prev_hash>|<records_hash>|<count>|<first seq>|<last seq>")
#
# where prev_hash is the previous seal's seal_hash (64 zeros for the first), plus one
# AuditSealMembership per record. Everything is insert-only, and a record is covered by
# at most one seal (membership's primary key is the record).
#
# Which records are unsealed: those above the sealer's high-water mark, plus the "gaps"
# below it — seqs the sealer skipped because their transaction had not committed yet
# (or rolled back). Both are looked up by primary-key range with an anti-join on the
# membership, so a run costs what it seals, not the size of the ledger.

ZERO_HASH = "0" * 64
DEFAULT_SEAL_BATCH = 10_000
MAX_GAP_RANGES_PER_QUERY = 32
MAX_OPEN_GAPS = 10_000
DEFAULT_GAP_RETENTION_SECONDS = 3600


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


def _gap_retention_seconds() -> int:
    return int(
        getattr(settings, "CROSSSELL_AUDIT_GAP_RETENTION_SECONDS", DEFAULT_GAP_RETENTION_SECONDS)
    )


def _lock_sealer() -> AuditSealerState | None:
    """Lock the sealer row, or None when another sealer holds it (it is doing the work)."""
    if not connection.features.has_select_for_update_skip_locked:
        return AuditSealerState.objects.get_or_create(pk=1)[0]
    state = AuditSealerState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
    if state is None and not AuditSealerState.objects.filter(pk=1).exists():
        AuditSealerState.objects.get_or_create(pk=1)
        state = AuditSealerState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
    return state


def _query_ranges(gaps: list[list[int]]) -> list[tuple[int, int]]:
    """At most MAX_GAP_RANGES_PER_QUERY ranges covering every gap, merging the closest."""
    ranges = sorted((int(g[0]), int(g[1])) for g in gaps)
    if len(ranges) <= MAX_GAP_RANGES_PER_QUERY:
        return ranges
    distances = sorted(
        range(1, len(ranges)),
        key=lambda i: ranges[i][0] - ranges[i - 1][1],
        reverse=True,
    )
    splits = sorted(distances[: MAX_GAP_RANGES_PER_QUERY - 1])
    merged, start = [], 0
    for split in [*splits, len(ranges)]:
        merged.append((ranges[start][0], max(r[1] for r in ranges[start:split])))
        start = split
    return merged


def _subtract_sealed(gaps: list[list[int]], sealed: list[int]) -> list[list[int]]:
    """The gaps minus the (sorted) seqs just sealed."""
    remaining: list[list[int]] = []
    for first, last, noticed in gaps:
        cursor = first
        for seq in sealed[bisect_left(sealed, first) : bisect_right(sealed, last)]:
            if seq > cursor:
                remaining.append([cursor, seq - 1, noticed])
            cursor = seq + 1
        if cursor <= last:
            remaining.append([cursor, last, noticed])
    return remaining


def _window_sql(column: str, windows: list[tuple[int, int | None]]) -> tuple[str, list[int]]:
    parts, params = [], []
    for first, last in windows:
        if last is None:
            parts.append(f"{column} >= %s")
            params.append(first)
        else:
            parts.append(f"{column} BETWEEN %s AND %s")
            params += [first, last]
    return "(" + " OR ".join(parts) + ")", params


def _unsealed(windows: list[tuple[int, int | None]] | None, limit: int) -> list[tuple[int, str]]:
    """(seq, record_hash) of records no seal covers, by seq, within the seq windows.

    The windows restrict both sides of the anti-join, so the database range-scans the
    two primary keys instead of reading every membership: a run costs what it seals.
    ``None`` looks at the whole ledger (the full sweep).
    """
    record_table = AuditRecord._meta.db_table
    membership_table = AuditSealMembership._meta.db_table
    if windows is None:
        on, where, params = "", "", []
    else:
        on_sql, on_params = _window_sql("m.record_id", windows)
        where_sql, where_params = _window_sql("r.seq", windows)
        on, where, params = f" AND {on_sql}", f"{where_sql} AND", [*on_params, *where_params]
    sql = (
        f"SELECT r.seq, r.record_hash FROM {record_table} r "
        f"LEFT JOIN {membership_table} m ON m.record_id = r.seq{on} "
        f"WHERE {where} m.record_id IS NULL ORDER BY r.seq LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [(int(seq), record_hash) for seq, record_hash in cursor.fetchall()]


def seal_pending(
    *, max_records: int = DEFAULT_SEAL_BATCH, full_sweep: bool = False
) -> AuditSeal | None:
    """Seal up to ``max_records`` unsealed records; None when there was nothing to seal
    (or another sealer is running).

    ``full_sweep`` looks for unsealed records over the whole ledger instead of only
    above the high-water mark and in the open gaps: it finds records whose transaction
    stayed open longer than the gap retention. Run hourly and on demand.
    """
    if max_records < 1:
        raise ValueError("max_records must be at least 1")
    with transaction.atomic():
        state = _lock_sealer()
        if state is None:
            return None
        now = timezone.now()
        if state.last_run_at is None:
            # A new (or recreated) sealer row knows nothing: start above the highest
            # record any seal covers, and look over the whole ledger once for the rest.
            state.high_water_seq = (
                AuditSeal.objects.aggregate(high=Max("last_record_seq"))["high"] or 0
            )
            state.open_gaps = []
            full_sweep = True
        horizon = now.timestamp() - _gap_retention_seconds()
        gaps = [list(g) for g in state.open_gaps if g[2] >= horizon][-MAX_OPEN_GAPS:]
        high = state.high_water_seq

        windows = None if full_sweep else [(high + 1, None), *_query_ranges(gaps)]
        rows = _unsealed(windows, max_records)

        state.last_run_at = now
        if full_sweep:
            state.last_sweep_at = now
        if not rows:
            state.open_gaps = gaps
            state.save()
            return None

        seqs = [seq for seq, _ in rows]
        below = [seq for seq in seqs if seq <= high]
        above = [seq for seq in seqs if seq > high]
        gaps = _subtract_sealed(gaps, below)
        previous = high
        for seq in above:
            if seq > previous + 1:
                gaps.append([previous + 1, seq - 1, now.timestamp()])
            previous = seq

        last_seal = AuditSeal.objects.order_by("-seq").values_list("seal_hash", flat=True).first()
        prev_hash = last_seal or ZERO_HASH
        records_hash = records_hash_of(rows)
        seal = AuditSeal(
            created_at=now,
            prev_hash=prev_hash,
            records_hash=records_hash,
            record_count=len(rows),
            first_record_seq=seqs[0],
            last_record_seq=seqs[-1],
            seal_hash=seal_hash_of(
                prev_hash=prev_hash,
                records_hash=records_hash,
                record_count=len(rows),
                first_record_seq=seqs[0],
                last_record_seq=seqs[-1],
            ),
        )
        seal.save(force_insert=True)
        AuditSealMembership.objects.bulk_create(
            [AuditSealMembership(record_id=seq, seal_id=seal.seq) for seq in seqs],
            batch_size=5000,
        )
        state.high_water_seq = max(high, seqs[-1])
        state.open_gaps = gaps[-MAX_OPEN_GAPS:]
        state.save()
        return seal


def seal_all_pending(
    *,
    max_records: int = DEFAULT_SEAL_BATCH,
    full_sweep: bool = False,
    time_budget_seconds: float = 5.0,
) -> int:
    """Seal until nothing is left (or the time budget is spent); returns records sealed."""
    deadline = time.monotonic() + time_budget_seconds
    sealed = 0
    while True:
        seal = seal_pending(max_records=max_records, full_sweep=full_sweep)
        if seal is None:
            return sealed
        sealed += seal.record_count
        if seal.record_count < max_records or time.monotonic() >= deadline:
            return sealed


# --- verification -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerReport:
    ok: bool
    records: int
    seals: int
    sealed_records: int
    unsealed_records: int
    stale_unsealed_records: int
    stale_after_seconds: int
    oldest_unsealed_seq: int | None = None
    broken_record_seq: int | None = None
    broken_record_reason: str = ""
    broken_seal_seq: int | None = None
    broken_seal_reason: str = ""

    @property
    def broken_seq(self) -> int | None:
        """The first thing found broken: a record seq, else a seal seq."""
        if self.broken_record_seq is not None:
            return self.broken_record_seq
        return self.broken_seal_seq

    @property
    def reason(self) -> str:
        return self.broken_record_reason or self.broken_seal_reason

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "records": self.records,
            "seals": self.seals,
            "sealed_records": self.sealed_records,
            "unsealed_records": self.unsealed_records,
            "stale_unsealed_records": self.stale_unsealed_records,
            "oldest_unsealed_seq": self.oldest_unsealed_seq,
        }
        if not self.ok:
            body.update(
                {
                    "seq": self.broken_seq,
                    "broken": "record" if self.broken_record_seq is not None else "seal",
                    "broken_record_seq": self.broken_record_seq,
                    "broken_seal_seq": self.broken_seal_seq,
                    "reason": self.reason,
                }
            )
        return body

    def summary(self) -> str:
        if self.ok:
            text = (
                f"audit ledger OK: {self.records} records, {self.seals} seals, "
                f"{self.sealed_records} sealed, {self.unsealed_records} awaiting a seal"
            )
        else:
            parts = []
            if self.broken_record_seq is not None:
                parts.append(f"record #{self.broken_record_seq}: {self.broken_record_reason}")
            if self.broken_seal_seq is not None:
                parts.append(f"seal #{self.broken_seal_seq}: {self.broken_seal_reason}")
            text = "audit ledger BROKEN: " + "; ".join(parts)
        if self.stale_unsealed_records:
            text += (
                f"; WARNING {self.stale_unsealed_records} record(s) unsealed for more than "
                f"{self.stale_after_seconds}s (oldest #{self.oldest_unsealed_seq}) — is the "
                "sealer running?"
            )
        return text


def _first_broken_record(chunk_size: int) -> tuple[int | None, str]:
    columns = ("seq", "record_hash", *HASHED_FIELDS)
    rows = AuditRecord.objects.order_by("seq").values_list(*columns)
    for row in rows.iterator(chunk_size=chunk_size):
        fields = dict(zip(HASHED_FIELDS, row[2:], strict=True))
        if record_hash_of(fields) != row[1]:
            return row[0], "its content does not match its record_hash"
    return None, ""


def _first_broken_seal(chunk_size: int) -> tuple[int | None, str]:
    """(seq of the first broken seal, why) or (None, "").

    Sealers are serialised and a seal commits with its memberships, so bounding both
    streams by the last seal seen first gives them the same view while sealing goes on.
    """
    last_seal = AuditSeal.objects.aggregate(last=Max("seq"))["last"] or 0
    memberships = (
        AuditSealMembership.objects.filter(seal_id__lte=last_seal)
        .order_by("seal_id", "record_id")
        .values_list("seal_id", "record_id", "record__record_hash")
        .iterator(chunk_size=chunk_size)
    )
    seals = (
        AuditSeal.objects.filter(seq__lte=last_seal)
        .order_by("seq")
        .values_list(
            "seq",
            "prev_hash",
            "records_hash",
            "seal_hash",
            "record_count",
            "first_record_seq",
            "last_record_seq",
        )
        .iterator(chunk_size=chunk_size)
    )
    expected_prev = ZERO_HASH
    pending = next(memberships, None)
    for seq, prev_hash, records_hash, seal_hash, count, first, last in seals:
        if pending is not None and pending[0] < seq:
            return seq, f"the membership of record #{pending[1]} names a missing seal"
        digest = hashlib.sha256()
        members: list[int] = []
        while pending is not None and pending[0] == seq:
            digest.update(f"{pending[1]}:{pending[2]}\n".encode())
            members.append(pending[1])
            pending = next(memberships, None)
        if prev_hash != expected_prev:
            return seq, "its prev_hash is not the previous seal's hash"
        if len(members) != count:
            return seq, f"it says {count} records but covers {len(members)}"
        if members and (members[0] != first or members[-1] != last):
            return seq, "its first/last record seq do not match what it covers"
        if digest.hexdigest() != records_hash:
            return seq, "the records it covers no longer hash to its records_hash"
        recomputed = seal_hash_of(
            prev_hash=prev_hash,
            records_hash=records_hash,
            record_count=count,
            first_record_seq=first,
            last_record_seq=last,
        )
        if recomputed != seal_hash:
            return seq, "its seal_hash does not match its fields"
        expected_prev = seal_hash
    return None, ""


def verify_ledger(*, chunk_size: int = 2000, stale_after_seconds: int = 60) -> LedgerReport:
    """Recompute every record hash and every seal, streaming; report the first break.

    Also counts records no seal covers yet, and those older than ``stale_after_seconds``
    (a sealer that is not running). Unsealed records do not make the ledger broken: each
    still carries its own hash.
    """
    broken_record, record_reason = _first_broken_record(chunk_size)
    broken_seal, seal_reason = _first_broken_seal(chunk_size)
    unsealed = AuditRecord.objects.filter(membership__isnull=True)
    stats = unsealed.aggregate(count=Count("seq"), oldest=Min("seq"))
    stale = unsealed.filter(
        created_at__lt=timezone.now() - timedelta(seconds=stale_after_seconds)
    ).count()
    return LedgerReport(
        ok=broken_record is None and broken_seal is None,
        records=AuditRecord.objects.count(),
        seals=AuditSeal.objects.count(),
        sealed_records=AuditSealMembership.objects.count(),
        unsealed_records=stats["count"],
        stale_unsealed_records=stale,
        stale_after_seconds=stale_after_seconds,
        oldest_unsealed_seq=stats["oldest"],
        broken_record_seq=broken_record,
        broken_record_reason=record_reason,
        broken_seal_seq=broken_seal,
        broken_seal_reason=seal_reason,
    )
