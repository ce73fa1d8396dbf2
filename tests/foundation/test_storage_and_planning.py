"""``core.db``'s storage and planning helpers on PostgreSQL: the large JSON columns are
compressed with lz4, and ``joins_as_written`` holds the join order for its block only."""

import pytest
from django.db import connection, transaction

from core.db import joins_as_written
from decisioning.models import Decision
from ledger.models import AuditRecord
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's storage"),
]


def _server_has_lz4() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        return bool(cursor.fetchone()[0])


def _compression(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            [table, column],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("model", "column"),
    [
        (Decision, "explanation"),
        (Decision, "offers"),
        (Decision, "suppressed"),
        (AuditRecord, "data"),
    ],
)
def test_large_json_columns_are_compressed_with_lz4(model, column):
    if not _server_has_lz4():
        pytest.fail("this PostgreSQL was built without lz4; the migration keeps pglz there")
    assert _compression(model._meta.db_table, column) == "l"


def test_a_stored_explanation_reads_back_the_same_after_lz4():
    customer = CustomerFactory()
    explanation = {
        "candidates": [{"offer_code": f"OFFER_{i}", "v": list(range(40))} for i in range(80)]
    }
    decision = Decision.objects.create(
        customer=customer,
        mode="inbound",
        created_at=customer.created_at,
        snapshot_version="s",
        explanation=explanation,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(explanation) FROM decisioning_decision WHERE id = %s",
            [decision.pk],
        )
        assert cursor.fetchone()[0] == "lz4"
    assert Decision.objects.get(pk=decision.pk).explanation == explanation


def _join_collapse_limit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW join_collapse_limit")
        return cursor.fetchone()[0]


def test_joins_as_written_holds_for_its_block_and_gives_the_limit_back():
    with transaction.atomic():
        before = _join_collapse_limit()
        with joins_as_written():
            assert _join_collapse_limit() == "1"
        assert _join_collapse_limit() == before


@pytest.mark.django_db(transaction=True)
def test_joins_as_written_refuses_to_run_outside_a_transaction():
    # The setting is transaction-local: in autocommit it would silently do nothing.
    with pytest.raises(RuntimeError, match="needs a transaction"), joins_as_written():
        pass  # pragma: no cover
