"""Database plumbing the hot paths share.

``prepared_cursor`` runs a statement the server plans once per connection. Django's
PostgreSQL backend binds parameters on the client and never prepares (so that
transaction-mode poolers keep working), which is right for the ORM's many shapes of
query. The decision path, though, repeats one large context query per decision whose
planning costs PostgreSQL three to ten times its execution (EXPLAIN on the 100k demo
bank: planning 0.42-1.37 ms, execution 0.13-0.28 ms). Prepared, each connection plans
it once. ``CROSSSELL_PREPARED_STATEMENTS=false`` turns it off, e.g. behind a pooler in
transaction mode that does not track prepared statements (PgBouncer before 1.21).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, migrations
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


class PreparingCursor(psycopg.Cursor):
    """A server-side binding cursor whose every statement is prepared (psycopg keeps the
    connection's last ``prepared_max`` statements, 100 by default)."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kw: Any):
        return super().execute(query, params, prepare=True, **kw)


_ONLY_WHEN_ASKED = 2**31 - 1


class _LoggedCursor(CursorDebugWrapper):
    """Django's debug wrapper logs a statement as psycopg's client-side binding wrote it,
    which a server-bound cursor does not keep; this one logs the statement as given."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(sql, params, use_last_executed_query=False):
            return CursorWrapper.execute(self, sql, params)


def _same_time_zone_as_django(cursor: Any) -> None:
    """What Django's ``create_cursor`` does for its own cursors: load timestamps in the
    connection's time zone when the adapters' default differs."""
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    oid = psycopg.adapters.types["timestamptz"].oid
    if (
        connection.timezone
        != cursor.connection.adapters.get_loader(oid, psycopg.pq.Format.TEXT).timezone
    ):
        register_tzloader(connection.timezone, cursor)


@contextmanager
def prepared_cursor() -> Iterator[Any]:
    """A cursor on the default connection whose statements PostgreSQL plans once per
    connection; on other databases, or with prepared statements turned off, Django's
    ordinary cursor. Either way it goes through Django's wrapper, so query logging,
    ``execute_wrapper`` and the query-count assertions see it."""
    if connection.vendor != "postgresql" or not settings.CROSSSELL_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        if connection.connection.prepare_threshold is None:
            # Django turns psycopg's preparing off (None), which refuses even an explicit
            # ``prepare=True``; a threshold never reached prepares only what asks to be.
            connection.connection.prepare_threshold = _ONLY_WHEN_ASKED
        raw: Any = PreparingCursor(connection.connection)
        _same_time_zone_as_django(raw)
        connection.validate_thread_sharing()
        cursor = (
            _LoggedCursor(raw, connection)
            if connection.queries_logged
            else connection.make_cursor(raw)
        )
    try:
        yield cursor
    finally:
        cursor.close()


@contextmanager
def joins_as_written() -> Iterator[None]:
    """Inside a transaction: PostgreSQL joins the following statements' tables in the
    order the query writes them instead of searching every order.

    For a ``select_related`` over many tables whose first table is already narrowed by
    an index (each join a primary-key lookup), that search is all the planning costs: a
    message with its six related rows planned in 6.5-7 ms and ran in 0.5-0.9 ms; joined
    as written, 1.2-1.4 ms of planning and the same plan. The previous limit comes back
    on leaving."""
    if connection.vendor != "postgresql":
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("joins_as_written() needs a transaction (the setting is local)")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('join_collapse_limit'),"
            " set_config('join_collapse_limit', '1', true)"
        )
        previous = cursor.fetchone()[0]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('join_collapse_limit', %s, true)", [previous])


def compress_with_lz4(table: str, *columns: str) -> migrations.RunPython:
    """A migration operation: PostgreSQL compresses these columns' large values (over
    ~2 kB, moved out of line) with lz4 instead of its default pglz.

    pglz is what made storing a decision expensive: inserting the demo bank's decisions
    (explanation, offers and suppressed: ~14.6 kB of JSON a row) cost PostgreSQL
    0.93-1.0 ms a row with pglz and 0.41 ms with lz4, and lz4 reads back faster too.
    Only new values are compressed the new way; nothing is rewritten. Skipped on other
    databases and on a server built without lz4 (it then keeps pglz)."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        _set_compression(schema_editor, table, columns, "lz4")

    def backwards(apps: Any, schema_editor: Any) -> None:
        _set_compression(schema_editor, table, columns, "pglz")

    return migrations.RunPython(forwards, backwards, elidable=False)


def _set_compression(schema_editor: Any, table: str, columns: tuple[str, ...], method: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
            [method],
        )
        row = cursor.fetchone()
    if not row or not row[0]:
        return
    quote = schema_editor.quote_name
    alterations = ", ".join(
        f"ALTER COLUMN {quote(column)} SET COMPRESSION {method}" for column in columns
    )
    schema_editor.execute(f"ALTER TABLE {quote(table)} {alterations}")
