"""Fast row writers: COPY on PostgreSQL, batched ``executemany`` INSERTs elsewhere.

Rows are plain tuples in the order of the ``fields`` given (attribute names, so a
foreign key is ``customer_id``). The COPY writer reaches the raw psycopg 3 cursor
through Django's connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from django.core.management.color import no_style
from django.db import connection, models

BATCH_SIZE = 5_000


class RowWriter(Protocol):
    def write(
        self, model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]
    ) -> int: ...


def _remember_last(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Seeding repeats one ``now`` in every row: convert it once."""
    last: list[Any] = [object(), None]

    def converted(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return converted


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    """How a Python value of this field becomes a database parameter (None: as is)."""
    ops = connection.ops
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, separators=(",", ":"))
    if isinstance(field, models.DateTimeField):
        return _remember_last(ops.adapt_datetimefield_value)
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    return None


class InsertWriter:
    """Any database: multi-row ``executemany`` INSERTs in large batches.

    ``bulk_create`` would build a model instance and run every field's preparation per
    value; here each column's conversion is chosen once, which is several times faster.
    """

    def write(self, model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
        meta = model._meta
        columns = [meta.get_field(name) for name in fields]
        converters = [(i, c) for i, f in enumerate(columns) if (c := _converter(f)) is not None]
        quote = connection.ops.quote_name
        statement = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        count = 0
        batch: list[list[Any]] = []
        with connection.cursor() as cursor:
            for row in rows:
                values = list(row)
                for i, convert in converters:
                    if values[i] is not None:
                        values[i] = convert(values[i])
                batch.append(values)
                if len(batch) >= BATCH_SIZE:
                    cursor.executemany(statement, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cursor.executemany(statement, batch)
                count += len(batch)
        return count


class CopyWriter:
    """PostgreSQL: ``COPY ... FROM STDIN`` through psycopg 3."""

    def write(self, model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
        meta = model._meta
        columns = [meta.get_field(name) for name in fields]
        json_positions = [i for i, f in enumerate(columns) if isinstance(f, models.JSONField)]
        names = ", ".join(connection.ops.quote_name(f.column) for f in columns)
        statement = f"COPY {connection.ops.quote_name(meta.db_table)} ({names}) FROM STDIN"
        count = 0
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in rows:
                if json_positions:
                    row = list(row)
                    for i in json_positions:
                        row[i] = json.dumps(row[i], separators=(",", ":"))
                copy.write_row(row)
                count += 1
        return count


def writer_for_connection() -> RowWriter:
    return CopyWriter() if connection.vendor == "postgresql" else InsertWriter()


def reset_sequences(*models_with_explicit_ids: type[models.Model]) -> None:
    """After inserting explicit primary keys, move the id sequences past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models_with_explicit_ids))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
