"""Test support for the append-only ledger: drop and reinstall its triggers.

The triggers (``ledger.triggers``, installed by migration ``compliance/0002``) make the database refuse UPDATE, DELETE and
TRUNCATE on the ledger tables. Two kinds of test need them out of the way for a moment:
tamper tests (which must alter a stored record to prove verification notices), and
transactional tests, whose teardown empties every table. Never call these outside tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

from ledger.triggers import LEDGER_TABLES, drop_sql, trigger_sql


def drop_ledger_triggers(connection: BaseDatabaseWrapper | None = None) -> None:
    connection = connection or default_connection
    with connection.cursor() as cursor:
        for table in LEDGER_TABLES:
            for statement in drop_sql(connection.vendor, table):
                cursor.execute(statement)


def install_ledger_triggers(connection: BaseDatabaseWrapper | None = None) -> None:
    connection = connection or default_connection
    drop_ledger_triggers(connection)
    with connection.cursor() as cursor:
        for table in LEDGER_TABLES:
            for statement in trigger_sql(connection.vendor, table):
                cursor.execute(statement)


@contextmanager
def ledger_triggers_dropped(connection: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    drop_ledger_triggers(connection)
    try:
        yield
    finally:
        install_ledger_triggers(connection)
