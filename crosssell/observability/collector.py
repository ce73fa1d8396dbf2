"""Gauges read from the database when Prometheus scrapes: how much work is waiting.

Each is an index lookup or a count over a partial index, so a scrape costs what is
waiting, not the size of the tables:

- ``crosssell_queue_messages{channel,status}``: outbound messages ``queued`` (waiting for
  their channel's gateway to lease them) and ``leased`` (handed out, not acknowledged
  yet), every outbound channel listed even at 0 (partial indexes ``message_queue_idx`` /
  ``message_lease_idx``);
- ``crosssell_queue_oldest_due_age_seconds{channel}``: how long the oldest queued message
  whose delivery time has come has been waiting; 0 when none is due. A gateway that
  stopped leasing shows here first;
- ``crosssell_events_pending``: events accepted and not processed yet (``event_pending_idx``),
  and ``crosssell_events_pending_oldest_age_seconds`` the age of the oldest one;
- ``crosssell_events_unresolved``: events kept until an identity link names their
  customer (``event_unresolved_idx``);
- ``crosssell_audit_unsealed_records`` and ``crosssell_audit_sealer_lag_seconds``: records
  no seal covers yet, and the age of the oldest (the health endpoint's
  ``sealer_lag_seconds``), read from the sealer's own bookkeeping;
- ``crosssell_worker_heartbeat_age_seconds``: the age of the newest worker heartbeat
  (absent with eager tasks or before any worker wrote one);
- ``crosssell_metrics_database_up``: 1 when the gauges above were read in this scrape, 0
  when the database did not answer (the gauges are then absent, not zero).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.api.exceptions import DATABASE_UNAVAILABLE
from core.channels import OUTBOUND_CHANNELS
from crosssell.api.health import _unsealed_windows, sealer_lag_seconds, worker_status
from customers.choices import EventStatus
from customers.models import Event
from decisioning.choices import MessageStatus
from decisioning.models import Message
from ledger.models import AuditRecord

logger = logging.getLogger(__name__)

_DB_ERRORS: tuple[type[Exception], ...] = (DatabaseError, *DATABASE_UNAVAILABLE)
_WAITING: tuple[str, ...] = (MessageStatus.QUEUED.value, MessageStatus.LEASED.value)


def _age(since: datetime | None, now: datetime) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())


def queue_depth() -> dict[tuple[str, str], int]:
    """(channel, status) -> messages, for every outbound channel and waiting status."""
    depth = {(channel, status): 0 for channel in OUTBOUND_CHANNELS for status in _WAITING}
    for status in _WAITING:
        rows = (
            Message.objects.filter(status=status)
            .values_list("channel")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for channel, n in rows:
            depth[(channel, status)] = n
    return depth


def oldest_due(now: datetime) -> dict[str, datetime | None]:
    """channel -> the delivery time of its oldest queued message that is due (one probe
    of ``message_queue_idx`` per channel)."""
    return {
        channel: Message.objects.filter(
            status=MessageStatus.QUEUED, channel=channel, deliver_after__lte=now
        )
        .order_by("deliver_after")
        .values_list("deliver_after", flat=True)
        .first()
        for channel in OUTBOUND_CHANNELS
    }


def unsealed_records() -> int:
    """Audit records no seal covers yet, counted over the sealer's own windows (its open
    gaps and everything above its high-water mark), as the health probe reads them."""
    total = 0
    for first, last in _unsealed_windows():
        waiting = AuditRecord.objects.filter(seq__gte=first, membership__isnull=True)
        if last is not None:
            waiting = waiting.filter(seq__lte=last)
        total += waiting.count()
    return total


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class DatabaseCollector(Collector):
    """The gauges above, read when ``collect`` is called (at each scrape)."""

    def collect(self) -> Iterator[Metric]:
        try:
            families = self._read(timezone.now())
        except _DB_ERRORS:
            logger.warning("metrics: the database gauges could not be read", exc_info=True)
            families = None
        yield _gauge(
            "crosssell_metrics_database_up",
            "1 when the database gauges were read in this scrape, 0 when it did not answer.",
            0 if families is None else 1,
        )
        yield from families or ()

    def _read(self, now: datetime) -> list[Metric]:
        queue = GaugeMetricFamily(
            "crosssell_queue_messages",
            "Outbound messages waiting for (queued) or handed to (leased) their channel.",
            labels=["channel", "status"],
        )
        for (channel, status), n in sorted(queue_depth().items()):
            queue.add_metric([channel, status], n)
        due = GaugeMetricFamily(
            "crosssell_queue_oldest_due_age_seconds",
            "Seconds the oldest due queued message has waited for its channel (0: none due).",
            labels=["channel"],
        )
        for channel, deliver_after in oldest_due(now).items():
            due.add_metric([channel], _age(deliver_after, now))
        pending = Event.objects.filter(status=EventStatus.ACCEPTED)
        oldest_pending = pending.order_by("received_at").values_list("received_at", flat=True)
        families: list[Metric] = [
            queue,
            due,
            _gauge(
                "crosssell_events_pending",
                "Events accepted and not processed yet.",
                pending.count(),
            ),
            _gauge(
                "crosssell_events_pending_oldest_age_seconds",
                "Seconds the oldest event awaiting processing has waited (0: none waiting).",
                _age(oldest_pending.first(), now),
            ),
            _gauge(
                "crosssell_events_unresolved",
                "Events kept until an identity link names their customer.",
                Event.objects.filter(status=EventStatus.UNRESOLVED).count(),
            ),
            _gauge(
                "crosssell_audit_unsealed_records",
                "Audit records no seal covers yet.",
                unsealed_records(),
            ),
        ]
        lag = sealer_lag_seconds(now)
        if lag is not None:
            families.append(
                _gauge(
                    "crosssell_audit_sealer_lag_seconds",
                    "Age of the oldest audit record no seal covers yet (0: all sealed).",
                    lag,
                )
            )
        _, heartbeat_age = worker_status(now)
        if heartbeat_age is not None:
            families.append(
                _gauge(
                    "crosssell_worker_heartbeat_age_seconds",
                    "Age of the newest worker heartbeat (beat asks for one every 30 s).",
                    heartbeat_age,
                )
            )
        return families
