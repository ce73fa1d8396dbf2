"""Batch campaign runs: chunks by customer-id range, evaluated and stored in bulk.

A run is split into chunks when it starts. Each chunk is one Celery task that loads its
customers as columns, calls ``engine.decide_batch`` and stores every decision (and the
messages and contacts of what it released) in the same transaction that marks the chunk
done — so a run killed halfway and resumed ends with no duplicate and no missing
decision. PostgreSQL gets COPY; SQLite gets bulk inserts.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.choices import CampaignKind, CampaignStatus, ChunkStatus, RunStatus
from campaigns.models import Campaign, CampaignRun, CampaignRunChunk
from core.actors import actor_name
from core.api.exceptions import DATABASE_UNAVAILABLE
from core.channels import OUTBOUND
from core.exceptions import Conflict, ValidationFailed
from customers.models import Customer
from decisioning import engine
from decisioning.choices import DecisionMode, MessageStatus
from decisioning.decisions.released import batch_stored_offer
from decisioning.decisions.snapshots import LoadedSnapshot, build, current_snapshot
from decisioning.engine import reasons
from decisioning.engine.batch import NO_TIME
from decisioning.models import ChunkDispatch, Contact, Decision, Message
from decisioning.outbox import chunk_dispatch_rows_ensure, enqueue
from decisioning.runs.loader import load_batch
from ledger.choices import AuditKind
from ledger.services import audit

logger = logging.getLogger(__name__)


DEFAULT_CHUNK_SIZE = 50_000


# --- starting and finishing runs ---------------------------------------------------------


def chunk_bounds(chunk_size: int) -> list[tuple[int, int, int]]:
    ids = np.fromiter(
        Customer.objects.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=20_000),
        dtype=np.int64,
    )
    return [
        (
            int(ids[start]),
            int(ids[min(start + chunk_size, len(ids)) - 1]),
            min(chunk_size, len(ids) - start),
        )
        for start in range(0, len(ids), chunk_size)
    ]


def campaign_run_start(
    *,
    actor: Any,
    campaign: Campaign,
    shadow: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dispatch: bool = True,
) -> CampaignRun:
    """Create a run of a batch campaign over every customer and queue its chunks."""
    if campaign.kind != CampaignKind.BATCH:
        raise ValidationFailed(
            "Only batch campaigns have runs.", fields={"campaign": ["is not a batch campaign"]}
        )
    live = campaign.status == CampaignStatus.RUNNING or (shadow and campaign.shadow_mode)
    if not live:
        raise ValidationFailed(
            "A run needs a running campaign (or a shadow run of a campaign in shadow mode).",
            fields={"campaign": [f"status is {campaign.status}"]},
        )
    if chunk_size < 1:
        raise ValidationFailed(
            "chunk_size must be at least 1.", fields={"chunk_size": ["must be >= 1"]}
        )
    bounds = chunk_bounds(chunk_size)
    started = timezone.now()
    with transaction.atomic():
        run = CampaignRun.objects.create(
            campaign=campaign,
            shadow=shadow or campaign.status != CampaignStatus.RUNNING,
            requested_by=actor_name(actor),
            total_customers=sum(count for _, _, count in bounds),
            status=RunStatus.RUNNING if bounds else RunStatus.COMPLETED,
            started_at=started,
            finished_at=None if bounds else started,
        )
        chunks = CampaignRunChunk.objects.bulk_create(
            CampaignRunChunk(run=run, first_customer_id=lo, last_customer_id=hi, customers=count)
            for lo, hi, count in bounds
        )
        # The outbox rows: each chunk is due for the sweeper from the run's start, so a run
        # started while the broker is down is queued once it is back.
        ChunkDispatch.objects.bulk_create(
            ChunkDispatch(chunk_id=chunk.pk, dispatched_at=started) for chunk in _saved(chunks, run)
        )
        audit(
            kind=AuditKind.CAMPAIGN,
            action="run_started",
            actor=actor,
            object_type="campaign_run",
            object_id=run.pk,
            object_repr=f"{campaign.code} run {run.pk}",
            data={"campaign": campaign.code, "shadow": run.shadow, "chunks": len(bounds)},
        )
        if dispatch:
            transaction.on_commit(lambda: dispatch_pending_chunks(run.pk))
    return run


def _saved(chunks: list[CampaignRunChunk], run: CampaignRun) -> list[CampaignRunChunk]:
    """The chunks with their ids (bulk_create sets them on PostgreSQL and SQLite >= 3.35)."""
    if all(chunk.pk is not None for chunk in chunks):
        return chunks
    return list(CampaignRunChunk.objects.filter(run=run))


def chunks_dispatch(chunk_pks: list[int], *, now: datetime | None = None) -> int:
    """Queue these chunks, recording each dispatch; how many reached the broker.

    The dispatch time is written before the task is handed over, so a chunk whose enqueue
    is lost is due for the sweeper again one threshold later. A broker that is down stops
    the loop at the first refusal: the rest are the sweeper's.
    """
    from decisioning.tasks import run_chunk

    now = now or timezone.now()
    queued = 0
    for chunk_pk in chunk_pks:
        ChunkDispatch.objects.filter(pk=chunk_pk).update(
            dispatched_at=now, dispatches=F("dispatches") + 1
        )
        if not enqueue(run_chunk, chunk_pk):
            break
        queued += 1
    return queued


def dispatch_pending_chunks(run_pk: int) -> int:
    """Queue every chunk not yet done (a start, or a resume); how many reached the broker."""
    chunk_dispatch_rows_ensure(run_ids=[run_pk])
    pending = list(
        CampaignRunChunk.objects.filter(run_id=run_pk, status=ChunkStatus.PENDING)
        .order_by("first_customer_id")
        .values_list("pk", flat=True)
    )
    return chunks_dispatch(pending)


RESUMABLE = (RunStatus.RUNNING, RunStatus.FAILED)


@dataclass(frozen=True, slots=True)
class ResumedRun:
    run: CampaignRun
    # Chunks not done when the run was resumed, and how many of them reached the broker
    # (the sweeper queues the rest once it answers; without a broker they ran here).
    pending_chunks: int
    queued_chunks: int


def campaign_run_resume(*, actor: Any, run: CampaignRun) -> ResumedRun:
    """Resume a failed or stalled run: every chunk not done gets a fresh failure budget and
    is queued now. Call it outside a transaction (the chunks are queued once it commits)."""
    with transaction.atomic():
        locked = CampaignRun.objects.select_for_update().get(pk=run.pk)
        if locked.status not in RESUMABLE:
            raise Conflict(
                f"Run {run.pk} is {locked.status}; only a running or failed run can be resumed.",
                fields={"status": [f"is {locked.status}"]},
            )
        previous = locked.status
        CampaignRun.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING, error="", finished_at=None
        )
        chunk_dispatch_rows_ensure(run_ids=[run.pk])
        ChunkDispatch.objects.filter(
            chunk__run_id=run.pk, chunk__status=ChunkStatus.PENDING
        ).update(failures=0, last_error="")
        pending = CampaignRunChunk.objects.filter(run_id=run.pk, status=ChunkStatus.PENDING).count()
        audit(
            kind=AuditKind.CAMPAIGN,
            action="run_resumed",
            actor=actor,
            object_type="campaign_run",
            object_id=run.pk,
            object_repr=f"run {run.pk}",
            data={"previous_status": previous, "pending_chunks": pending},
        )
    queued = dispatch_pending_chunks(run.pk)
    if not pending:  # nothing was left to do: the run is complete
        CampaignRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.COMPLETED, finished_at=timezone.now()
        )
    run.refresh_from_db()
    return ResumedRun(run=run, pending_chunks=pending, queued_chunks=queued)


def campaign_run_fail(*, actor: Any, run_pk: int, reason: str) -> bool:
    """Mark a running run failed with its reason; False when it was no longer running."""
    with transaction.atomic():
        failed = CampaignRun.objects.filter(pk=run_pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, error=reason, finished_at=timezone.now()
        )
        if failed:
            audit(
                kind=AuditKind.CAMPAIGN,
                action="run_failed",
                actor=actor,
                object_type="campaign_run",
                object_id=run_pk,
                object_repr=f"run {run_pk}",
                data={"reason": reason},
            )
    if failed:
        logger.error("batch run %s failed: %s", run_pk, reason)
    return bool(failed)


# --- claiming a chunk, and what a failed attempt leaves ---------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=float(settings.CROSSSELL_RUN_CHUNK_LEASE_SECONDS))


def _chunk_claim(chunk: CampaignRunChunk) -> bool:
    """Claim the chunk for this attempt; False when another delivery holds a live claim.

    A claim older than the lease belongs to an attempt that never finished (its worker was
    killed): that counts as a failed attempt before this one starts, and when it was the
    last one the chunk may have, the run is failed instead.
    """
    clock = timezone.now()
    with transaction.atomic():
        dispatch, _ = ChunkDispatch.objects.select_for_update().get_or_create(
            chunk_id=chunk.pk, defaults={"dispatched_at": clock}
        )
        if dispatch.claimed_at is not None:
            if dispatch.claimed_at > clock - _lease():
                return False
            if _record_failure(
                chunk,
                dispatch,
                f"claimed at {dispatch.claimed_at.isoformat()} and never finished "
                "(worker lost or stuck)",
            ):
                return False
        dispatch.claimed_at = clock
        dispatch.attempts = F("attempts") + 1
        dispatch.save(update_fields=["claimed_at", "attempts", "failures", "last_error"])
    return True


def _record_failure(chunk: CampaignRunChunk, dispatch: ChunkDispatch, reason: str) -> bool:
    """Count one failed attempt on the (locked) dispatch row; True when the run failed."""
    dispatch.failures += 1
    dispatch.last_error = reason[:2000]
    dispatch.claimed_at = None
    dispatch.save(update_fields=["failures", "last_error", "claimed_at"])
    limit = int(settings.CROSSSELL_RUN_CHUNK_MAX_FAILURES)
    if dispatch.failures < limit:
        return False
    return campaign_run_fail(
        actor="system:run_chunk",
        run_pk=chunk.run_id,
        reason=(
            f"Chunk of customers {chunk.first_customer_id}-{chunk.last_customer_id} failed "
            f"{dispatch.failures} times; last error: {dispatch.last_error}"
        ),
    )


def chunk_attempt_failed(*, chunk_pk: int, claimed_at: datetime, reason: str) -> bool | None:
    """Count a claimed attempt as failed (the sweeper found it past its lease) if the claim
    is still the one seen; None when it moved on, else whether the run failed."""
    with transaction.atomic():
        dispatch = (
            ChunkDispatch.objects.select_for_update()
            .select_related("chunk")
            .filter(pk=chunk_pk, claimed_at=claimed_at, chunk__status=ChunkStatus.PENDING)
            .first()
        )
        if dispatch is None:
            return None
        return _record_failure(dispatch.chunk, dispatch, reason)


def _chunk_attempt_errored(chunk: CampaignRunChunk, error: Exception) -> None:
    with transaction.atomic():
        dispatch = ChunkDispatch.objects.select_for_update().get(pk=chunk.pk)
        _record_failure(chunk, dispatch, f"{type(error).__name__}: {error}")


def _chunk_release(chunk_pk: int) -> None:
    """Give the claim back after a transient error so the task's own retry may claim it."""
    try:
        ChunkDispatch.objects.filter(pk=chunk_pk).update(claimed_at=None)
    except DATABASE_UNAVAILABLE:
        logger.warning("chunk %s: claim not released (database down); the lease expires", chunk_pk)


def _merge(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    merged = Counter(into)
    merged.update(more)
    return dict(sorted(merged.items()))


def _finish_chunk(
    chunk: CampaignRunChunk, outcomes: dict[str, int], suppressions: dict[str, int]
) -> None:
    """Mark the chunk done and fold its counts into the run (inside the chunk's transaction)."""
    now = timezone.now()
    CampaignRunChunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.DONE,
        outcome_counts=outcomes,
        suppression_counts=suppressions,
        finished_at=now,
    )
    ChunkDispatch.objects.filter(pk=chunk.pk).update(claimed_at=None)
    run = CampaignRun.objects.select_for_update().get(pk=chunk.run_id)
    run.processed_customers = F("processed_customers") + chunk.customers
    run.outcome_counts = _merge(run.outcome_counts, outcomes)
    run.suppression_counts = _merge(run.suppression_counts, suppressions)
    run.save(update_fields=["processed_customers", "outcome_counts", "suppression_counts"])
    if not CampaignRunChunk.objects.filter(
        run_id=chunk.run_id, status=ChunkStatus.PENDING
    ).exists():
        CampaignRun.objects.filter(pk=chunk.run_id, status=RunStatus.RUNNING).update(
            status=RunStatus.COMPLETED, finished_at=now
        )


# --- one chunk ------------------------------------------------------------------------------


def decision_request(
    loaded: LoadedSnapshot, campaign_id: int, now: datetime
) -> engine.DecisionRequest:
    from decisioning.decisions.inbound import volume_today

    return engine.DecisionRequest(
        mode="batch",
        now=now,
        campaign_ids=frozenset({campaign_id}),
        campaign_volume_today=volume_today(loaded, [campaign_id], now),
    )


def _longest_cooldown(loaded: LoadedSnapshot) -> int:
    return max((o.cooldown_days for o in loaded.engine.offers.values()), default=0)


def evaluate_range(
    loaded: LoadedSnapshot, campaign_id: int, first_id: int, last_id: int, now: datetime
) -> engine.BatchResult:
    batch = load_batch(
        first_id,
        last_id,
        now=now,
        policy=loaded.engine.policy,
        longest_offer_cooldown=_longest_cooldown(loaded),
    )
    return engine.decide_batch(loaded.engine, batch, decision_request(loaded, campaign_id, now))


def run_chunk_execute(*, chunk_pk: int, now: datetime | None = None) -> bool:
    """Evaluate and store one chunk; False when nothing was stored: it was already done (a
    redelivery), its run is not running, or another delivery holds it.

    An error fails this attempt: a database that is down releases the claim and raises
    (the task retries); any other error is counted against the chunk with its message and
    raised, and the run is failed once the chunk has failed too often.
    """
    chunk = CampaignRunChunk.objects.select_related("run").filter(pk=chunk_pk).first()
    if chunk is None or chunk.status == ChunkStatus.DONE:
        return False
    run = chunk.run
    if run.status != RunStatus.RUNNING:
        return False
    if not _chunk_claim(chunk):
        return False
    try:
        return _chunk_store(chunk, run, now or timezone.now())
    except DATABASE_UNAVAILABLE:
        _chunk_release(chunk.pk)
        raise
    except Exception as error:
        _chunk_attempt_errored(chunk, error)
        raise


def _chunk_store(chunk: CampaignRunChunk, run: CampaignRun, now: datetime) -> bool:
    loaded = current_snapshot(now)
    if run.campaign_id not in loaded.engine.plans:
        loaded = build(now, extra_campaign_ids=frozenset({run.campaign_id}))
    result = evaluate_range(
        loaded, run.campaign_id, chunk.first_customer_id, chunk.last_customer_id, now
    )
    stored = StoredBatch.from_result(loaded, result, run=run, now=now)
    with transaction.atomic():
        # Lock the chunk so two deliveries of the same task cannot both store it.
        locked = CampaignRunChunk.objects.select_for_update().get(pk=chunk.pk)
        if locked.status == ChunkStatus.DONE:
            return False
        stored.write()
        _finish_chunk(locked, stored.outcomes, stored.suppressions)
    return True


# --- storing a batch result ----------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class StoredBatch:
    decisions: list[tuple]
    messages: list[tuple]
    contacts: list[tuple]
    outcomes: dict[str, int]
    suppressions: dict[str, int]

    DECISION_COLUMNS = (
        "id", "customer_id", "mode", "channel", "campaign_id", "run_id", "created_at",
        "control_group", "shadow", "offers_released", "top_offer_code", "outcome_reason",
        "snapshot_version", "policy_version", "offers", "suppressed", "explanation", "requested_by",
    )  # fmt: skip
    MESSAGE_COLUMNS = (
        "id", "decision_id", "customer_id", "campaign_id", "offer_id", "content_id", "channel",
        "status", "deliver_after", "lease_count", "leased_by", "provider_ref", "error",
        "cancel_reason", "created_at", "updated_at",
    )  # fmt: skip
    CONTACT_COLUMNS = (
        "customer_id", "decision_id", "message_id", "campaign_id", "offer_id", "product_code",
        "family", "kind", "channel", "released_at", "cancelled", "outcome",
    )  # fmt: skip

    @classmethod
    def from_result(
        cls, loaded: LoadedSnapshot, result: engine.BatchResult, *, run: CampaignRun, now: datetime
    ) -> StoredBatch:
        snapshot = loaded.engine
        offers = [snapshot.offers[code] for code in result.offer_codes]
        shadow = run.shadow or result.shadow
        decisions: list[tuple] = []
        messages: list[tuple] = []
        contacts: list[tuple] = []
        # The compact explanation of every decision (engine.COMPACT_FORMAT): a batch keeps
        # no per-rule verdicts ("trace": "replay"); decisions.explanation replays them.
        base_explanation = {
            "format": engine.COMPACT_FORMAT,
            "trace": "replay",
            "mode": "batch",
            "campaign": result.campaign_code,
            "policy_version": result.policy_version,
            "snapshot_version": result.snapshot_version,
            "model_versions": dict(result.model_versions),
        }
        suppressions: Counter[str] = Counter()
        slots = result.chosen.shape[1]
        for row in range(result.size):
            customer_id = int(result.customer_ids[row])
            outcome = reasons.OUTCOMES[int(result.outcome[row])]
            control = bool(result.control[row])
            decision_id = uuid.uuid4()
            picks: list[dict[str, Any]] = []
            for slot in range(slots):
                index = int(result.chosen[row, slot])
                if index < 0:
                    break
                offer = offers[index]
                channel = result.channels[int(result.chosen_channel[row, slot])]
                deferred = int(result.deliver_after_us[row, slot])
                picks.append(
                    batch_stored_offer(
                        rank=slot + 1,
                        offer=offer,
                        campaign=result.campaign_code,
                        channel=channel,
                        score=float(result.chosen_score[row, slot]),
                        propensity=float(result.chosen_propensity[row, slot]),
                        deliver_after=(
                            None
                            if deferred == NO_TIME
                            else datetime.fromtimestamp(deferred / 1e6, tz=UTC).isoformat()
                        ),
                        arm=result.offer_arms[index],
                    )
                )
            released = [] if control or shadow else picks
            if outcome not in (reasons.RELEASED, reasons.CONTROL_GROUP):
                suppressions[outcome] += 1
            explanation = {
                **base_explanation,
                "outcome": outcome,
                "arm": result.arms[int(result.arm[row])] if result.arms else None,
                "in_audience": bool(result.in_audience[row]),
                "control_group": control,
                "would_have_offered": picks if (control or shadow) else [],
            }
            decisions.append(
                (
                    decision_id, customer_id, DecisionMode.BATCH, "", run.campaign_id, run.pk, now,
                    control, shadow, len(released), released[0]["offer_code"] if released else "",
                    outcome, result.snapshot_version, result.policy_version, _json(released),
                    _json([] if outcome == reasons.RELEASED else [{"reason": outcome}]),
                    _json(explanation), run.requested_by,
                )
            )  # fmt: skip
            for pick in released:
                offer = snapshot.offers[pick["offer_code"]]
                message_id = None
                if pick["channel"] in OUTBOUND:
                    message_id = uuid.uuid4()
                    deliver_after = (
                        datetime.fromisoformat(pick["deliver_after"])
                        if pick["deliver_after"]
                        else now
                    )
                    messages.append(
                        (
                            message_id, decision_id, customer_id, run.campaign_id,
                            loaded.offer_ids[offer.code],
                            loaded.content_ids[(offer.code, pick["channel"], pick["content_version"])],
                            pick["channel"], MessageStatus.QUEUED, deliver_after, 0, "", "", "", "",
                            now, now,
                        )
                    )  # fmt: skip
                contacts.append(
                    (
                        customer_id, decision_id, message_id, run.campaign_id,
                        loaded.offer_ids[offer.code], offer.product.code, offer.family, offer.kind,
                        pick["channel"], now, False, "",
                    )
                )  # fmt: skip
        return cls(decisions, messages, contacts, result.outcome_counts(), dict(suppressions))

    def write(self) -> None:
        _bulk_insert(Decision, self.DECISION_COLUMNS, self.decisions)
        _bulk_insert(Message, self.MESSAGE_COLUMNS, self.messages)
        _bulk_insert(Contact, self.CONTACT_COLUMNS, self.contacts)


def _bulk_insert(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    table = model._meta.db_table
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
    converted = [
        tuple(value.hex if isinstance(value, uuid.UUID) else value for value in row) for row in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(converted), 5_000):
            cursor.executemany(sql, converted[start : start + 5_000])
