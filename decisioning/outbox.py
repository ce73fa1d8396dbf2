"""The outbox: work is in the database before anything is queued, and a sweeper queues
again whatever the queue lost.

What a task does is always first a row: an accepted event (with its ``EventOutbox`` row,
written in the transaction that accepts it) or a pending batch-run chunk (with its
``ChunkDispatch`` row, written with the run). The broker only carries a pointer to that
row. So:

- handing a task to the broker happens after commit and never fails the caller
  (``enqueue`` / ``enqueue_on_commit``): a broker that is down is logged and counted, and
  the row waits;
- ``sweep`` (Celery beat every ``CROSSSELL_SWEEPER_INTERVAL_SECONDS``, or
  ``manage.py sweep``) finds rows whose last dispatch is older than
  ``CROSSSELL_SWEEPER_THRESHOLD_SECONDS`` and queues them again: events still
  ``accepted``, and pending chunks of running runs that no worker holds. A chunk a worker
  claimed more than ``CROSSSELL_RUN_CHUNK_LEASE_SECONDS`` ago without finishing counts as
  a failed attempt and is queued again; a run whose chunk failed
  ``CROSSSELL_RUN_CHUNK_MAX_FAILURES`` times is marked ``failed`` with the reason.

Queuing twice is harmless by construction: an event decides once per campaign (the
unique (event, campaign) decision, ``decisioning/decisions/store.py``), a chunk stores
once (its row is locked and checked in the transaction that stores it, and a decision is
unique per (run, customer)). Journey steps (absence triggers) need no outbox: beat's
``decisioning.absence_triggers`` derives every due step from the events in the database
each time it runs, and the unique (event, campaign) decision makes it idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable
from prometheus_client import Counter

from campaigns.choices import ChunkStatus, RunStatus
from campaigns.models import CampaignRun, CampaignRunChunk
from customers.choices import EventStatus
from decisioning.models import ChunkDispatch, EventOutbox

logger = logging.getLogger(__name__)

ENQUEUE_FAILURES = Counter(
    "crosssell_enqueue_failures",
    "Tasks that could not be handed to the broker after commit (left for the sweeper).",
    ["task"],
)
REDISPATCHED = Counter(
    "crosssell_sweeper_redispatched",
    "Work the sweeper queued again, by kind (event, chunk).",
    ["kind"],
)
CHUNK_TAKEOVERS = Counter(
    "crosssell_sweeper_chunk_takeovers",
    "Chunks a worker claimed and never finished within the lease, queued again.",
)
RUNS_FAILED = Counter(
    "crosssell_runs_failed",
    "Batch runs marked failed because a chunk failed too many times.",
)

# One sweep looks at this many events per query, and at most this many in all: a large
# loss (a Redis restart under load) drains over a few sweeps instead of one long one.
EVENT_BATCH = 1_000
EVENTS_PER_SWEEP = 50_000

SWEEPER_ACTOR = "system:sweeper"


# --- handing work to the broker ------------------------------------------------------------


def enqueue(task: Any, *args: Any) -> bool:
    """Hand ``task(*args)`` to the broker; False when the broker cannot be reached.

    Never raises: the work is already a row, so a broker that is down is logged and
    counted and the sweeper queues the row later. Without a broker (eager Celery) the task
    runs here; an error it raises is logged (its row records what failed) and does not
    reach the caller either.
    """
    try:
        task.apply_async(args=args)
    except BrokerUnavailable as error:
        ENQUEUE_FAILURES.labels(task=task.name).inc()
        logger.warning(
            "broker unavailable, %s%r left in the database for the sweeper: %s",
            task.name,
            args,
            error,
        )
        return False
    except Exception:
        if not task.app.conf.task_always_eager:
            ENQUEUE_FAILURES.labels(task=task.name).inc()
            logger.exception("could not queue %s%r; left for the sweeper", task.name, args)
            return False
        logger.exception("%s%r failed in-process; left for the sweeper", task.name, args)
    return True


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """``enqueue`` once the surrounding transaction has committed the row it points to."""
    transaction.on_commit(lambda: enqueue(task, *args))


# --- the sweep -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepReport:
    events_redispatched: int = 0
    events_cleared: int = 0
    events_given_up: int = 0
    chunks_redispatched: int = 0
    chunks_taken_over: int = 0
    runs_failed: int = 0
    runs_completed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def did_something(self) -> bool:
        return any(self.as_dict().values())


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=float(getattr(settings, name)))


def sweep(*, now: datetime | None = None) -> SweepReport:
    """Queue again what the queue lost; finish or fail runs that cannot move otherwise."""
    now = now or timezone.now()
    cleared, redispatched, given_up = _sweep_events(now)
    chunks, taken_over, failed = _sweep_chunks(now)
    completed = _complete_finished_runs(now)
    report = SweepReport(
        events_redispatched=redispatched,
        events_cleared=cleared,
        events_given_up=given_up,
        chunks_redispatched=chunks,
        chunks_taken_over=taken_over,
        runs_failed=failed,
        runs_completed=completed,
    )
    if given_up:
        logger.error(
            "sweeper: %d accepted event(s) were queued %d times and are still not processed; "
            "left in decisioning_eventoutbox for an operator",
            given_up,
            settings.CROSSSELL_SWEEPER_MAX_EVENT_DISPATCHES,
        )
    if report.did_something:
        logger.info("sweeper: %s", report.as_dict())
    return report


def _sweep_events(now: datetime) -> tuple[int, int, int]:
    """(outbox rows cleared, events queued again, events given up on)."""
    from decisioning.tasks import process_event

    cleared, _ = EventOutbox.objects.exclude(event__status=EventStatus.ACCEPTED).delete()
    due_before = now - _seconds("CROSSSELL_SWEEPER_THRESHOLD_SECONDS")
    limit = settings.CROSSSELL_SWEEPER_MAX_EVENT_DISPATCHES
    redispatched = 0
    while redispatched < EVENTS_PER_SWEEP:
        with transaction.atomic():
            # SKIP LOCKED: two sweeps at once never take the same rows.
            due = list(
                EventOutbox.objects.select_for_update(skip_locked=True)
                .filter(dispatched_at__lte=due_before, dispatches__lt=limit)
                .order_by("dispatched_at")
                .values_list("event_id", flat=True)[:EVENT_BATCH]
            )
            EventOutbox.objects.filter(pk__in=due).update(
                dispatched_at=now, dispatches=F("dispatches") + 1
            )
        for event_pk in due:
            if not enqueue(process_event, event_pk):
                return cleared, redispatched, _events_given_up(limit)
            redispatched += 1
            REDISPATCHED.labels(kind="event").inc()
        if len(due) < EVENT_BATCH:
            break
    return cleared, redispatched, _events_given_up(limit)


def _events_given_up(limit: int) -> int:
    return EventOutbox.objects.filter(dispatches__gte=limit).count()


def _pending_chunks():
    return CampaignRunChunk.objects.filter(
        status=ChunkStatus.PENDING, run__status=RunStatus.RUNNING
    )


def chunk_dispatch_rows_ensure(*, run_ids: list[int] | None = None) -> int:
    """Give every pending chunk of a running run its dispatch row (runs started before the
    outbox existed): due since the run started."""
    missing = _pending_chunks().filter(dispatch__isnull=True)
    if run_ids is not None:
        missing = missing.filter(run_id__in=run_ids)
    rows = [
        ChunkDispatch(chunk_id=pk, dispatched_at=started or created)
        for pk, started, created in missing.values_list("pk", "run__started_at", "run__created_at")
    ]
    ChunkDispatch.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _sweep_chunks(now: datetime) -> tuple[int, int, int]:
    """(chunks queued again, stalled claims taken over, runs marked failed)."""
    from decisioning.runs.batch import chunk_attempt_failed, chunks_dispatch

    chunk_dispatch_rows_ensure()
    pending = _pending_chunks()
    lease_before = now - _seconds("CROSSSELL_RUN_CHUNK_LEASE_SECONDS")
    due_before = now - _seconds("CROSSSELL_SWEEPER_THRESHOLD_SECONDS")

    taken_over: list[int] = []
    failed = 0
    stalled = ChunkDispatch.objects.filter(
        chunk__in=pending, claimed_at__lte=lease_before
    ).values_list("pk", "claimed_at")
    for chunk_pk, claimed_at in stalled:
        if claimed_at is None:  # excluded by the filter; says so to the type checker
            continue
        run_failed = chunk_attempt_failed(
            chunk_pk=chunk_pk,
            claimed_at=claimed_at,
            reason=(
                f"claimed by a worker at {claimed_at.isoformat()} and not finished within "
                f"{settings.CROSSSELL_RUN_CHUNK_LEASE_SECONDS:g} s (worker lost or stuck)"
            ),
        )
        if run_failed is None:  # the worker finished or released it meanwhile
            continue
        CHUNK_TAKEOVERS.inc()
        if run_failed:
            failed += 1
        else:
            taken_over.append(chunk_pk)

    due = set(
        ChunkDispatch.objects.filter(
            chunk__in=_pending_chunks(), claimed_at__isnull=True, dispatched_at__lte=due_before
        ).values_list("pk", flat=True)
    )
    # A chunk just taken over is queued at once, whatever its last dispatch.
    dispatched = chunks_dispatch(sorted(due.union(taken_over)), now=now)
    REDISPATCHED.labels(kind="chunk").inc(dispatched)
    RUNS_FAILED.inc(failed)
    return dispatched, len(taken_over) + failed, failed


def _complete_finished_runs(now: datetime) -> int:
    """Runs still ``running`` with no chunk left to do (their last finish was cut short)."""
    pending = CampaignRunChunk.objects.filter(run=OuterRef("pk"), status=ChunkStatus.PENDING)
    return (
        CampaignRun.objects.filter(status=RunStatus.RUNNING)
        .exclude(Exists(pending))
        .update(status=RunStatus.COMPLETED, finished_at=now)
    )
