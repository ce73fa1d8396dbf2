"""Pagination for console lists.

Small tables (catalog, campaigns, approvals) use Django's ``Paginator`` with page
numbers. The big ones (the decision ledger, the audit ledger) use keyset pagination: a
page is "the N rows before (or after) this cursor" along an indexed ordering, so page 1
and page 10,000 cost the same and no page counts the whole table.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest


def page_of(request: HttpRequest, queryset: QuerySet, per_page: int = 50) -> Page:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]
    newer: str | None  # cursor for the page of newer rows, None on the newest page
    older: str | None  # cursor for the page of older rows, None on the oldest page
    # Set when the page stopped at its scan window, not at the end of the rows.
    searched: int | None = None


# --- ordered by (-created_at, -id): the decision ledger ----------------------------------


def time_cursor(created_at: datetime.datetime, pk: Any) -> str:
    """The opaque cursor of a row in ``(created_at, id)`` order."""
    raw = f"{created_at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_time_id(cursor: str) -> tuple[datetime.datetime, uuid.UUID] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        stamp, _, pk = text.partition("|")
        moment = datetime.datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            return None
        return moment, uuid.UUID(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _newer_than(moment: datetime.datetime, pk: Any) -> Q:
    return Q(created_at__gte=moment) & (Q(created_at__gt=moment) | Q(created_at=moment, id__gt=pk))


def _older_than(moment: datetime.datetime, pk: Any) -> Q:
    return Q(created_at__lte=moment) & (Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk))


# Sentinels that make a (time, id) cursor mean "strictly before / after this instant".
_LOWEST_ID = uuid.UUID(int=0)
_HIGHEST_ID = uuid.UUID(int=(1 << 128) - 1)


def keyset_by_time(
    queryset: QuerySet,
    *,
    before: str | None,
    after: str | None,
    per_page: int,
    window_queryset: QuerySet | None = None,
    window_rows: int | None = None,
) -> KeysetPage:
    """Newest first along ``(created_at, id)``; ``created_at`` must be indexed.

    The redundant ``created_at <= t`` (or ``>= t``) lets the database start the index
    scan at the cursor; the ``id`` tie-break keeps rows that share a timestamp (a batch
    run stores thousands with one) on exactly one page.

    Filters no index serves (a channel, an outcome) could make the database walk the
    whole table to fill a page of rare rows. Given ``window_queryset`` (every row, with
    only the time bounds) and ``window_rows``, a page looks only at the ``window_rows``
    rows of the ledger just past the cursor — the window's edge is read from the time
    index alone (one index-only seek). When the window runs out before the page is full,
    the page's ``older`` (or ``newer``) cursor goes on from the window's edge and
    ``searched`` says so. Rows sharing the edge's timestamp all fall in the window.
    """
    cursor = _decode_time_id(before or after or "")
    going_newer = cursor is not None and bool(after) and not before
    ascending, descending = ("created_at", "id"), ("-created_at", "-id")
    if cursor is not None:
        moment, pk = cursor
        bound = _newer_than(moment, pk) if going_newer else _older_than(moment, pk)
        queryset = queryset.filter(bound)
        if window_queryset is not None:
            window_queryset = window_queryset.filter(bound)

    edge = None
    if window_queryset is not None and window_rows:
        edge = (
            window_queryset.order_by("created_at" if going_newer else "-created_at")
            .values_list("created_at", flat=True)[window_rows - 1 : window_rows]
            .first()
        )
        if edge is not None:
            window = {"created_at__lte" if going_newer else "created_at__gte": edge}
            queryset = queryset.filter(**window)

    rows = list(queryset.order_by(*(ascending if going_newer else descending))[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    searched = window_rows if edge is not None and not more else None
    if going_newer:
        rows.reverse()
        newer = time_cursor(rows[0].created_at, rows[0].pk) if more and rows else None
        if searched and edge is not None:  # the window ran out: go on from just after its edge
            newer = time_cursor(edge, _HIGHEST_ID)
        older = time_cursor(rows[-1].created_at, rows[-1].pk) if rows else after
        return KeysetPage(rows, newer, older, searched)
    if cursor is None:
        newer = None
    else:  # back to where we came from, even when this page found nothing
        newer = time_cursor(rows[0].created_at, rows[0].pk) if rows else before
    older = time_cursor(rows[-1].created_at, rows[-1].pk) if more else None
    if searched and edge is not None:  # the window ran out: go on from just before its edge
        older = time_cursor(edge, _LOWEST_ID)
    return KeysetPage(rows, newer, older, searched)


# --- ordered by an integer sequence, shown oldest first: the audit ledger ----------------


def _int_cursor(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def keyset_by_seq(
    queryset: QuerySet, *, before: str | None, after: str | None, per_page: int, field: str = "seq"
) -> KeysetPage:
    """Pages of rows shown in ascending ``field`` order ("newest last").

    Without a cursor: the newest page. ``before=N``: the page just older than row N;
    ``after=N``: the page just newer than row N. Cursors are plain sequence numbers.
    """
    before_seq, after_seq = _int_cursor(before), _int_cursor(after)
    if after_seq is not None and before_seq is None:
        rows = list(queryset.filter(**{f"{field}__gt": after_seq}).order_by(field)[: per_page + 1])
        has_newer = len(rows) > per_page
        rows = rows[:per_page]
        return KeysetPage(
            items=rows,
            newer=str(getattr(rows[-1], field)) if has_newer and rows else None,
            older=str(getattr(rows[0], field)) if rows else None,
        )
    if before_seq is not None:
        queryset = queryset.filter(**{f"{field}__lt": before_seq})
    rows = list(queryset.order_by(f"-{field}")[: per_page + 1])
    has_older = len(rows) > per_page
    rows = rows[:per_page]
    rows.reverse()
    return KeysetPage(
        items=rows,
        newer=str(getattr(rows[-1], field)) if before_seq is not None and rows else None,
        older=str(getattr(rows[0], field)) if has_older else None,
    )
