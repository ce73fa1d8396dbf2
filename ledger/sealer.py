"""The sealer: chains unsealed records into hash-linked seals, in batches."""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from ledger.hashing import ZERO_HASH, records_hash_of, seal_hash_of
from ledger.models import AuditRecord, AuditSeal, AuditSealerState, AuditSealMembership

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

DEFAULT_SEAL_BATCH = 10_000
MAX_GAP_RANGES_PER_QUERY = 32
MAX_OPEN_GAPS = 10_000
DEFAULT_GAP_RETENTION_SECONDS = 3600


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


def _query_ranges(gaps: list[list[float]]) -> list[tuple[int, int]]:
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


def _subtract_sealed(gaps: list[list[float]], sealed: list[int]) -> list[list[float]]:
    """The gaps minus the (sorted) seqs just sealed."""
    remaining: list[list[float]] = []
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
