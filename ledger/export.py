"""Streaming export of the audit trail as CSV or JSON Lines.

Both are generators of text chunks over a server-side cursor (``iterator``), so a
million records leave in constant memory; hand them to ``StreamingHttpResponse`` or
write them to a file. Each row names the seal covering the record, if any.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from django.db.models import F, QuerySet

from core.json import canonical_json
from ledger.hashing import HASHED_FIELDS
from ledger.models import AuditRecord

# What a regulator needs to recompute each record hash and find its seal.
COLUMNS = ("seq", *HASHED_FIELDS, "record_hash", "seal_seq")
FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _rows(queryset: QuerySet[AuditRecord], chunk_size: int) -> Iterator[dict[str, Any]]:
    values = queryset.order_by("seq").values(*COLUMNS[:-1], seal_seq=F("membership__seal_id"))
    for row in values.iterator(chunk_size=chunk_size):
        row["created_at"] = row["created_at"].astimezone(UTC).isoformat(timespec="microseconds")
        yield row


class _Line:
    """A file-like object whose write returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def export_csv(queryset: QuerySet[AuditRecord], *, chunk_size: int = 2000) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in _rows(queryset, chunk_size):
        row["data"] = canonical_json(row["data"])
        yield writer.writerow([row[column] for column in COLUMNS])


def export_jsonl(queryset: QuerySet[AuditRecord], *, chunk_size: int = 2000) -> Iterator[str]:
    for row in _rows(queryset, chunk_size):
        yield json.dumps({column: row[column] for column in COLUMNS}, ensure_ascii=False) + "\n"


def export_stream(
    queryset: QuerySet[AuditRecord], *, fmt: str, chunk_size: int = 2000
) -> Iterator[str]:
    if fmt == "csv":
        return export_csv(queryset, chunk_size=chunk_size)
    if fmt == "jsonl":
        return export_jsonl(queryset, chunk_size=chunk_size)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
