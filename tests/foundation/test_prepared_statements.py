"""``core.db.prepared_cursor``: PostgreSQL plans the decision path's context query once per
connection, the ORM's queries stay client-bound, and the setting turns it off."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.db import prepared_cursor
from decisioning.decisions.context import load_customer_context_and_version
from decisioning.decisions.snapshots import active_policy_spec
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
    ),
]

PROBE = "SELECT %s::int + 1 AS crosssell_prepared_probe"


def _prepared_statements(text: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{text}%"]
        )
        return cursor.fetchone()[0]


def test_prepared_cursor_plans_a_statement_once_per_connection(settings):
    settings.CROSSSELL_PREPARED_STATEMENTS = True
    for value in (1, 2, 3):
        with prepared_cursor() as cursor:
            cursor.execute(PROBE, [value])
            assert cursor.fetchone() == (value + 1,)
    assert _prepared_statements("crosssell_prepared_probe") == 1


def test_turned_off_nothing_is_prepared(settings):
    settings.CROSSSELL_PREPARED_STATEMENTS = False
    with prepared_cursor() as cursor:
        cursor.execute(PROBE.replace("probe", "probe_off"), [1])
        assert cursor.fetchone() == (2,)
    assert _prepared_statements("crosssell_prepared_probe_off") == 0


def test_prepared_queries_are_logged_like_any_other(settings):
    settings.CROSSSELL_PREPARED_STATEMENTS = True
    with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
        cursor.execute(PROBE, [5])
    assert [q["sql"] for q in queries.captured_queries if "crosssell_prepared_probe" in q["sql"]]


def test_the_context_read_gives_the_same_customer_prepared_or_not(settings):
    customer = CustomerFactory()
    policy = active_policy_spec()
    now = timezone.now()
    settings.CROSSSELL_PREPARED_STATEMENTS = False
    plain = load_customer_context_and_version(customer.external_id, now=now, policy=policy)
    settings.CROSSSELL_PREPARED_STATEMENTS = True
    prepared = [
        load_customer_context_and_version(customer.external_id, now=now, policy=policy)
        for _ in range(2)
    ]
    assert plain is not None
    for found in prepared:
        assert found is not None
        assert found[0].pk == customer.pk and found[0].birth_date == customer.birth_date
        assert found[1] == plain[1]
        assert found[2] == plain[2]
    assert _prepared_statements("compliance_catalogversion") >= 1
