"""The audit ledger: record hashes, seals, verification, the database's refusals,
export, and the management commands."""

from __future__ import annotations

import datetime
import io
import json
import tracemalloc

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.selectors import audit_record_list
from customers.pseudonyms import pseudonym_for
from ledger.choices import AuditKind
from ledger.export import COLUMNS, export_csv, export_jsonl
from ledger.hashing import HASHED_FIELDS, record_hash_of, records_hash_of, seal_hash_of
from ledger.models import AuditRecord, AuditSealerState, AuditSealMembership
from ledger.sealer import seal_all_pending, seal_pending
from ledger.services import (
    audit,
    audit_many,
    audit_many_sent,
    audit_many_statement,
    build_record,
)
from ledger.tasks import seal_audit_ledger
from ledger.testing import LEDGER_TABLES, ledger_triggers_dropped
from ledger.verify import verify_ledger

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _append(n: int, **overrides) -> list[AuditRecord]:
    return [
        audit(
            kind=overrides.get("kind", AuditKind.DECISION),
            action=overrides.get("action", "decided"),
            actor="system:test",
            object_type="decision",
            object_id=i,
            customer_ref=overrides.get("customer_ref", "cust_x"),
            channel="sms",
            data={"i": i, "score": 1.5},
        )
        for i in range(n)
    ]


def _insert_with_seq(seq: int) -> AuditRecord:
    record = build_record(
        kind=AuditKind.DECISION, action="late", actor="system:test", data={"seq": seq}
    )
    record.seq = seq
    record.save(force_insert=True)
    return record


# --- record hashes ----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    repr_text=st.text(max_size=50),
)
def test_a_record_hash_survives_the_database_round_trip(data, repr_text):
    record = audit(
        kind=AuditKind.DECISION,
        action="decided",
        actor="system:test",
        object_repr=repr_text,
        data=data,
    )
    stored = AuditRecord.objects.values_list(
        *HASHED_FIELDS,
        "record_hash",
    ).get(seq=record.seq)
    fields = dict(zip(HASHED_FIELDS, stored[:-1], strict=True))
    assert record_hash_of(fields) == stored[-1] == record.record_hash


def test_audit_many_appends_in_bulk_with_each_record_hashed(ledger_baseline):
    audit_many(
        [
            build_record(kind=AuditKind.DECISION, action="x", actor="system:t", data={"n": n})
            for n in range(5)
        ]
    )
    assert ledger_baseline.records().count() == 5
    assert verify_ledger().ok


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.lists(st.dictionaries(st.text(max_size=10), json_values, max_size=5), max_size=4),
    repr_text=st.text(max_size=50),
)
def test_records_appended_in_one_statement_keep_their_hash_and_order(data, repr_text):
    """``audit_many_statement`` (the decision store's one-round-trip path on PostgreSQL):
    every record reads back with the hash ``build_record`` gave it, seqs in list order."""
    records = [
        build_record(
            kind=AuditKind.OFFER_RELEASED,
            action="inbound_offer_released",
            actor="api:web",
            object_id=f"d-{n}",
            object_repr=repr_text,
            data=item,
            at=datetime.datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=datetime.UTC),
        )
        for n, item in enumerate([{"first": True}, *data])
    ]
    if connection.vendor != "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL"):
            audit_many_statement(records, connection)
        return
    sql, params = audit_many_statement(records, connection)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        audit_many_sent(connection)
    hashes = [record.record_hash for record in records]
    stored = list(
        AuditRecord.objects.filter(record_hash__in=hashes)
        .order_by("seq")
        .values_list(*HASHED_FIELDS, "record_hash")
    )
    assert [row[-1] for row in stored][-len(records) :] == hashes
    for row in stored:
        assert record_hash_of(dict(zip(HASHED_FIELDS, row[:-1], strict=True))) == row[-1]


def test_one_statement_of_no_records_is_refused():
    with pytest.raises(ValueError, match="at least one record"):
        audit_many_statement([], connection)


def test_record_hash_covers_every_field_but_seq():
    record = build_record(
        kind=AuditKind.CONSENT, action="consent_revoked", actor="api:sms", data={"a": 1}
    )
    # Every stored field but the database's seq and the hash itself, read off the model.
    hashed = [f.name for f in AuditRecord._meta.fields if f.name not in ("seq", "record_hash")]
    fields = {name: getattr(record, name) for name in hashed}
    for name, value in [
        ("action", "consent_granted"),
        ("actor", "api:other"),
        ("data", {"a": 2}),
        ("customer_ref", "cust_y"),
        ("created_at", fields["created_at"] + datetime.timedelta(microseconds=1)),
    ]:
        assert record_hash_of({**fields, name: value}) != record.record_hash


# --- sealing ------------------------------------------------------------------------------


def test_sealer_chains_seals_and_covers_each_record_exactly_once(ledger_baseline):
    first_batch = _append(3)
    seal_one = seal_pending()
    second_batch = _append(2)
    seal_two = seal_pending()

    assert seal_pending() is None  # nothing left
    assert seal_one.prev_hash == ledger_baseline.seal_hash  # 64 zeros for the first seal
    assert seal_two.prev_hash == seal_one.seal_hash
    assert (seal_one.record_count, seal_two.record_count) == (3, 2)
    assert seal_one.first_record_seq == first_batch[0].seq
    assert seal_one.last_record_seq == first_batch[-1].seq
    assert seal_one.records_hash == records_hash_of((r.seq, r.record_hash) for r in first_batch)
    assert seal_two.seal_hash == seal_hash_of(
        prev_hash=seal_one.seal_hash,
        records_hash=seal_two.records_hash,
        record_count=2,
        first_record_seq=second_batch[0].seq,
        last_record_seq=second_batch[-1].seq,
    )
    members = dict(
        AuditSealMembership.objects.filter(record_id__gt=ledger_baseline.seq).values_list(
            "record_id", "seal_id"
        )
    )
    assert members == {
        **{r.seq: seal_one.seq for r in first_batch},
        **{r.seq: seal_two.seq for r in second_batch},
    }
    report = verify_ledger()
    assert report.ok
    assert report.unsealed_records == 0
    assert report.records == report.sealed_records
    assert ledger_baseline.records().count() == 5
    assert ledger_baseline.seals().count() == 2


def test_sealer_takes_at_most_max_records_per_seal(ledger_baseline):
    _append(5)
    assert seal_pending(max_records=2).record_count == 2
    assert seal_all_pending(max_records=2) == 3
    assert ledger_baseline.seals().count() == 3
    assert verify_ledger().ok


def test_sealer_seals_a_late_commit_below_its_high_water_mark():
    # Seqs 1_000_000 and 1_000_002 commit first; 1_000_001 (an in-flight transaction) later.
    _insert_with_seq(1_000_000)
    _insert_with_seq(1_000_002)
    seal_pending()
    state = AuditSealerState.objects.get()
    assert state.high_water_seq == 1_000_002
    assert [1_000_001, 1_000_001] in [gap[:2] for gap in state.open_gaps]

    late = _insert_with_seq(1_000_001)
    seal = seal_pending()

    assert seal.record_count == 1
    assert AuditSealMembership.objects.get(record_id=late.seq).seal_id == seal.seq
    state.refresh_from_db()
    assert [1_000_001, 1_000_001] not in [gap[:2] for gap in state.open_gaps]
    assert verify_ledger().ok


def test_a_gap_older_than_the_retention_is_left_to_the_full_sweep():
    _insert_with_seq(2_000_000)
    _insert_with_seq(2_000_002)
    seal_pending()
    with override_settings(CROSSSELL_AUDIT_GAP_RETENTION_SECONDS=-1):
        late = _insert_with_seq(2_000_001)
        assert seal_pending() is None  # the gap was forgotten
        report = verify_ledger(stale_after_seconds=0)
        # intact, but a record waiting too long for a seal fails verification
        assert report.intact and not report.ok and report.unsealed_records == 1
        assert report.oldest_unsealed_seq == report.oldest_stale_seq == late.seq
        assert report.stale_unsealed_records == 1
        assert report.broken == "stale_unsealed" and report.broken_seq == late.seq
        assert "unsealed" in report.summary()

        seal = seal_pending(full_sweep=True)
    assert seal.record_count == 1
    assert verify_ledger().unsealed_records == 0
    assert AuditSealerState.objects.get().last_sweep_at is not None


def test_seal_task_seals_everything_pending(ledger_baseline):
    records = _append(4)
    seal_audit_ledger.delay()
    assert AuditSealMembership.objects.filter(record__in=records).count() == 4


def test_seal_pending_refuses_a_silly_batch_size():
    with pytest.raises(ValueError):
        seal_pending(max_records=0)


# --- the database refuses changes ---------------------------------------------------------

UPDATES = {
    "compliance_auditrecord": "UPDATE compliance_auditrecord SET action = 'changed'",
    "compliance_auditseal": "UPDATE compliance_auditseal SET record_count = record_count + 1",
    "compliance_auditsealmembership": "UPDATE compliance_auditsealmembership SET seal_id = seal_id",
}


@pytest.fixture
def sealed_ledger():
    _append(3)
    seal_pending()
    return {table: _count(table) for table in LEDGER_TABLES}


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_raw_sql_update_of_the_ledger_is_refused(sealed_ledger, table):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(UPDATES[table])
    assert verify_ledger().ok


@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_raw_sql_delete_from_the_ledger_is_refused(sealed_ledger, table):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table}")
    assert {t: _count(t) for t in LEDGER_TABLES} == sealed_ledger


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE exists on PostgreSQL only")
@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_raw_sql_truncate_of_the_ledger_is_refused(sealed_ledger, table):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Flush the deferred foreign-key checks of this test's inserts first, or
        # PostgreSQL refuses the TRUNCATE for that reason before the trigger can.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert {t: _count(t) for t in LEDGER_TABLES} == sealed_ledger


def test_the_orm_cannot_change_or_delete_a_record_either(sealed_ledger):
    record = AuditRecord.objects.first()
    record.action = "changed"
    with pytest.raises(DatabaseError), transaction.atomic():
        record.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.all().delete()


# --- tampering is found -------------------------------------------------------------------

TAMPERABLE = (
    "action",
    "actor",
    "object_repr",
    "customer_ref",
    "channel",
    "kind",
    "data",
    "created_at",
)


def _tamper(seq: int, column: str, value) -> None:
    if column == "data":
        cast = "::jsonb" if connection.vendor == "postgresql" else ""
        sql, params = (
            f"UPDATE compliance_auditrecord SET data = %s{cast} WHERE seq = %s",
            [json.dumps(value), seq],
        )
    else:
        sql, params = (
            f"UPDATE compliance_auditrecord SET {column} = %s WHERE seq = %s",
            [value, seq],
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _different(column: str, record: AuditRecord):
    if column == "data":
        return {**record.data, "tampered": True}
    if column == "created_at":
        return record.created_at + datetime.timedelta(seconds=1)
    if column == "kind":
        return AuditKind.OVERRIDE if record.kind != AuditKind.OVERRIDE else AuditKind.DECISION
    return getattr(record, column) + "!"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    count=st.integers(min_value=1, max_value=25),
    sealed=st.integers(min_value=0, max_value=25),
    pick=st.integers(min_value=0, max_value=24),
    column=st.sampled_from(TAMPERABLE),
)
def test_tampering_with_any_stored_record_is_named_by_verify(count, sealed, pick, column):
    try:
        with transaction.atomic():
            records = _append(count)
            if sealed:
                seal_pending(max_records=sealed)
            victim = records[pick % count]
            with ledger_triggers_dropped():
                _tamper(victim.seq, column, _different(column, victim))
            report = verify_ledger(chunk_size=7)
            assert not report.ok
            assert report.broken_record_seq == victim.seq
            assert report.broken_seq == victim.seq
            assert "record_hash" in report.broken_record_reason
            raise _Rollback
    except _Rollback:
        pass
    # The triggers are back: the database refuses changes again.
    _append(1)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(UPDATES["compliance_auditrecord"])


def test_a_tampered_record_given_a_fresh_hash_is_caught_by_its_seal():
    records = _append(3)
    seal = seal_pending()
    victim = records[1]
    forged = {
        name: getattr(victim, name)
        for name in (
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
    }
    forged["action"] = "nothing_to_see"
    with ledger_triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_auditrecord SET action = %s, record_hash = %s WHERE seq = %s",
            ["nothing_to_see", record_hash_of(forged), victim.seq],
        )
    report = verify_ledger()
    assert not report.ok
    assert report.broken_record_seq is None
    assert report.broken_seal_seq == seal.seq
    assert "records_hash" in report.broken_seal_reason
    assert report.as_dict()["seq"] == seal.seq
    assert report.as_dict()["broken"] == "seal"


def test_a_record_removed_from_its_seal_breaks_the_seal():
    records = _append(3)
    seal = seal_pending()
    with ledger_triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM compliance_auditsealmembership WHERE record_id = %s", [records[0].seq]
        )
    report = verify_ledger()
    assert report.broken_seal_seq == seal.seq
    assert "covers 2" in report.broken_seal_reason


def test_a_rewritten_seal_breaks_the_chain_at_that_seal():
    _append(2)
    first = seal_pending()
    _append(2)
    second = seal_pending()
    with ledger_triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_auditseal SET prev_hash = %s WHERE seq = %s", ["f" * 64, second.seq]
        )
    report = verify_ledger()
    assert report.broken_seal_seq == second.seq
    assert "prev_hash" in report.broken_seal_reason
    with ledger_triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_auditseal SET seal_hash = %s WHERE seq = %s", ["e" * 64, first.seq]
        )
    assert verify_ledger().broken_seal_seq == first.seq


# --- verify_audit -------------------------------------------------------------------------


def test_verify_audit_command_prints_ok_and_exits_zero():
    _append(2)
    out = io.StringIO()
    call_command("verify_audit", "--seal-first", stdout=out)
    assert out.getvalue().startswith("sealed 2 pending record(s)\naudit ledger OK: ")
    assert "0 awaiting a seal" in out.getvalue()


def test_verify_audit_command_exits_non_zero_naming_the_broken_record():
    records = _append(2)
    with ledger_triggers_dropped():
        _tamper(records[1].seq, "action", "changed")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_audit", "--json", stdout=out)
    assert exit_.value.code == 1
    body = json.loads(out.getvalue())
    assert body["ok"] is False
    assert body["seq"] == records[1].seq
    assert body["broken"] == "record"


def test_verify_audit_can_fail_when_records_wait_too_long_for_a_seal():
    _append(1)
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_audit", "--stale-after", "0", "--fail-on-stale", stdout=io.StringIO())
    assert exit_.value.code == 2


def test_seal_audit_command_seals_pending_records():
    _append(3)
    out = io.StringIO()
    call_command("seal_audit", stdout=out)
    assert out.getvalue().strip() == "sealed 3 record(s)"


# --- export -------------------------------------------------------------------------------


@pytest.fixture
def trail():
    ana, rui = pseudonym_for("C-ANA"), pseudonym_for("C-RUI")
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    records = []
    for n, (ref, kind) in enumerate(
        [
            (ana, AuditKind.CONSENT),
            (rui, AuditKind.CONSENT),
            (ana, AuditKind.OFFER_RELEASED),
            (ana, AuditKind.DECISION),
        ]
    ):
        records.append(
            audit(
                kind=kind,
                action=f"a{n}",
                actor="system:t",
                customer_ref=ref,
                data={"n": n, "text": 'çé,"quoted"'},
                at=t0 + datetime.timedelta(hours=n),
            )
        )
    seal_pending(max_records=2)
    return {"ana": ana, "rui": rui, "t0": t0, "records": records}


def test_export_filters_by_customer_external_id_time_and_kind(trail):
    rows = audit_record_list(external_id="C-ANA")
    assert [r.action for r in rows] == ["a0", "a2", "a3"]
    rows = audit_record_list(
        external_id="C-ANA",
        since=trail["t0"] + datetime.timedelta(minutes=30),
        until=trail["t0"] + datetime.timedelta(hours=3),
    )
    assert [r.action for r in rows] == ["a2"]
    january = {"since": trail["t0"], "until": trail["t0"] + datetime.timedelta(days=1)}
    assert [r.action for r in audit_record_list(kinds=[AuditKind.CONSENT], **january)] == [
        "a0",
        "a1",
    ]
    assert [r.action for r in audit_record_list(customer_ref=trail["rui"])] == ["a1"]


def test_jsonl_export_has_one_object_per_record_with_its_seal(trail):
    lines = list(export_jsonl(audit_record_list(external_id="C-ANA")))
    rows = [json.loads(line) for line in lines]
    assert [row["action"] for row in rows] == ["a0", "a2", "a3"]
    assert set(rows[0]) == set(COLUMNS)
    assert rows[0]["seal_seq"] is not None and rows[1]["seal_seq"] is None
    assert rows[0]["data"] == {"n": 0, "text": 'çé,"quoted"'}
    assert rows[0]["record_hash"] == trail["records"][0].record_hash
    assert rows[0]["created_at"] == "2026-01-01T00:00:00.000000+00:00"


def test_csv_export_has_a_header_and_quoted_rows(trail):
    import csv

    rows = audit_record_list(
        kinds=[AuditKind.CONSENT], until=trail["t0"] + datetime.timedelta(days=1)
    )
    text = "".join(export_csv(rows))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["action"] for row in rows] == ["a0", "a1"]
    assert json.loads(rows[0]["data"]) == {"n": 0, "text": 'çé,"quoted"'}
    assert rows[1]["customer_ref"] == trail["rui"]


def test_export_audit_command_streams_csv_and_jsonl(trail, tmp_path):
    out = io.StringIO()
    call_command(
        "export_audit", "--format", "jsonl", "--customer", "C-ANA", "--kind", "consent", stdout=out
    )
    assert [json.loads(line)["action"] for line in out.getvalue().splitlines()] == ["a0"]
    target = tmp_path / "audit.csv"
    call_command(
        "export_audit",
        "--format",
        "csv",
        "--since",
        "2026-01-01T01:00:00+00:00",
        "--until",
        "2026-01-02",
        "-o",
        str(target),
    )
    assert target.read_text().splitlines()[0].startswith("seq,created_at,kind")
    assert len(target.read_text().splitlines()) == 4


def test_export_audit_command_rejects_unknown_kinds():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown kind"):
        call_command("export_audit", "--kind", "gossip", stdout=io.StringIO())


def test_export_streams_in_constant_memory():
    audit_many(
        [
            build_record(
                kind=AuditKind.DECISION,
                action="decided",
                actor="system:t",
                customer_ref="cust_big",
                data={"n": n, "pad": "x" * 200},
            )
            for n in range(12_000)
        ]
    )
    queryset = audit_record_list(customer_ref="cust_big")
    tracemalloc.start()
    try:
        total = 0
        for chunk in export_jsonl(queryset, chunk_size=500):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 3_000_000  # what was streamed
    assert peak < total / 3  # what was held at once


# --- the sealer's gap bookkeeping (pure) ----------------------------------------------------


def test_sealing_stragglers_splits_the_gaps_they_fill():
    from ledger.sealer import _subtract_sealed

    gaps = [[10, 20, 1.0], [30, 30, 2.0]]
    assert _subtract_sealed(gaps, [10, 15, 30]) == [[11, 14, 1.0], [16, 20, 1.0]]
    assert _subtract_sealed(gaps, []) == gaps


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=200, unique=True))
def test_many_gaps_are_queried_as_at_most_32_ranges_covering_them_all(starts):
    from ledger.sealer import MAX_GAP_RANGES_PER_QUERY, _query_ranges

    gaps = [[start * 10, start * 10 + start % 5, 0.0] for start in starts]
    ranges = _query_ranges(gaps)
    assert len(ranges) <= MAX_GAP_RANGES_PER_QUERY
    for first, last, _ in gaps:
        assert any(low <= first and last <= high for low, high in ranges)
