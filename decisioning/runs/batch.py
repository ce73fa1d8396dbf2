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
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
from django.conf import settings
from django.db import IntegrityError, ProgrammingError, connection, transaction
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
from offers.models import Offer, OfferContent

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
    # FOR NO KEY UPDATE: it serialises the chunks' counter updates but not the foreign-key
    # locks (FOR KEY SHARE) other chunks' rows take on the run while they are written.
    run = CampaignRun.objects.select_for_update(no_key=True).get(pk=chunk.run_id)
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
#
# A chunk's rows are built column-wise: every piece of text that depends only on the offer,
# the channel, the rank or the outcome is made once per chunk by the same functions a row
# would call (``batch_stored_offer``, ``batch_explanation``, json.dumps), cut where the
# per-row values go, and each row's text is assembled by indexing those pieces. On
# PostgreSQL the pieces are made in COPY's text format (escaped once) and each table is
# written with one COPY of pre-built text blocks; on SQLite the same JSON goes into
# executemany rows.

COPY_BLOCK_ROWS = 20_000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _copy_text(value: str) -> str:
    """``value`` as a field of PostgreSQL's COPY text format."""
    return value.translate(_COPY_ESCAPES)


def _as_is(value: str) -> str:
    return value


def _copy_scalar(value: Any) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return _copy_text(str(value))


def _float_json(values: list[float]) -> list[str]:
    """What json.dumps writes for each float (its repr when finite)."""
    text = float.__repr__
    return [text(v) if v - v == 0 else _json(v) for v in values]


def uuid4_hex(count: int) -> list[str]:
    """``count`` random version-4 UUIDs as 32 hex digits, what ``uuid.uuid4().hex`` gives,
    from one read of the system's random source."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.tobytes().hex()
    return [text[at : at + 32] for at in range(0, 32 * count, 32)]


def _hole(name: str) -> str:
    return f"\x00{name}\x00"


def _cut(text: str, holes: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """JSON ``text`` of a value built with ``_hole(name)`` strings in its holes, cut at each
    hole: the len(holes) + 1 pieces around them and the holes' names in text order."""
    found = []
    for name in holes:
        token = json.dumps(_hole(name))
        at = text.find(token)
        if at < 0 or text.find(token, at + 1) >= 0:
            raise RuntimeError(f"the stored value must hold its {name!r} exactly once as given")
        found.append((at, name, token))
    found.sort()
    pieces, cursor = [], 0
    for at, _name, token in found:
        pieces.append(text[cursor:at])
        cursor = at + len(token)
    pieces.append(text[cursor:])
    return tuple(pieces), tuple(name for _at, name, _token in found)


def batch_base_explanation(result: engine.BatchResult) -> dict[str, Any]:
    """What every decision of a batch result explains alike and its row holds in no column.

    A batch keeps no per-rule verdicts (``decisions.explanation`` replays them). The keys
    its row holds in columns (mode, policy and snapshot versions) and the constants of the
    form (``"format"``, ``"trace": "replay"``) are not repeated on every row:
    ``decisions.explanation.stored_explanation`` puts them back for every reader."""
    return {"campaign": result.campaign_code, "model_versions": dict(result.model_versions)}


def batch_explanation(
    base: dict[str, Any],
    *,
    outcome: str,
    arm: str | None,
    in_audience: bool,
    control_group: bool,
    would_have_offered: Any,
) -> dict[str, Any]:
    """The stored explanation of one batch decision."""
    return {
        **base,
        "outcome": outcome,
        "arm": arm,
        "in_audience": in_audience,
        "control_group": control_group,
        "would_have_offered": would_have_offered,
    }


def _deliver_after_iso(deferred_us: int) -> str | None:
    if deferred_us == NO_TIME:
        return None
    return datetime.fromtimestamp(deferred_us / 1e6, tz=UTC).isoformat()


_PICK_HOLES = ("score", "propensity", "deliver_after")


@dataclass
class StoredBatch:
    """A chunk's decisions, messages and contacts, ready to store in bulk: COPY text lines
    (``copy``, PostgreSQL) or row tuples (SQLite)."""

    decisions: list[Any]
    messages: list[Any]
    contacts: list[Any]
    outcomes: dict[str, int]
    suppressions: dict[str, int]
    copy: bool = False
    # The rows each written foreign key points at, by the model it points at (besides the
    # decisions and messages written here): what a COPY's own reference check verifies.
    references: dict[Any, list[int]] = field(default_factory=dict)
    # On PostgreSQL, check references once per chunk and table (set-based, under the same
    # row locks the per-row triggers take) instead of by a trigger per row and key.
    SET_BASED_REFERENCE_CHECKS: ClassVar[bool] = True

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
        cls,
        loaded: LoadedSnapshot,
        result: engine.BatchResult,
        *,
        run: CampaignRun,
        now: datetime,
        copy: bool | None = None,
    ) -> StoredBatch:
        """The rows of ``result``; ``copy`` (default: on PostgreSQL) gives COPY text lines."""
        copy = connection.vendor == "postgresql" if copy is None else copy
        text = _copy_text if copy else _as_is
        snapshot = loaded.engine
        offers = [snapshot.offers[code] for code in result.offer_codes]
        channels = result.channels
        size = result.size
        shadow = bool(run.shadow or result.shadow)
        control = np.asarray(result.control, dtype=bool)
        chosen = np.asarray(result.chosen, dtype=np.int64)
        slots = chosen.shape[1]
        # a customer's picks are the ranks before the first empty slot
        picked = np.cumprod(chosen >= 0, axis=1).astype(bool)
        row_releases = np.zeros(size, dtype=bool) if shadow else ~control
        released = picked & row_releases[:, None]
        channel_at = (
            np.asarray(result.chosen_channel, dtype=np.int64) % len(channels)
            if channels
            else np.zeros_like(chosen)
        )

        # --- each customer's picks as JSON (Decision.offers and would_have_offered) ---
        picks_json = [""] * size
        for slot in range(slots):
            rows = np.flatnonzero(picked[:, slot])
            if not len(rows):
                break
            offer_at = chosen[rows, slot]
            key = offer_at * max(len(channels), 1) + channel_at[rows, slot]
            keys, key_of = np.unique(key, return_inverse=True)
            templates = []
            order: tuple[str, ...] = _PICK_HOLES
            for value in keys.tolist():
                index, channel_index = divmod(value, max(len(channels), 1))
                pieces, order = _cut(
                    _json(
                        batch_stored_offer(
                            rank=slot + 1,
                            offer=offers[index],
                            campaign=result.campaign_code,
                            channel=channels[channel_index],
                            score=_hole("score"),  # type: ignore[arg-type]
                            propensity=_hole("propensity"),  # type: ignore[arg-type]
                            deliver_after=_hole("deliver_after"),
                            arm=result.offer_arms[index],
                        )
                    ),
                    _PICK_HOLES,
                )
                templates.append(tuple(text(piece) for piece in pieces))
            deferred, deferred_of = np.unique(
                result.deliver_after_us[rows, slot], return_inverse=True
            )
            deferred_text = [_json(_deliver_after_iso(us)) for us in deferred.tolist()]
            values = {
                "score": _float_json(result.chosen_score[rows, slot].tolist()),
                "propensity": _float_json(result.chosen_propensity[rows, slot].tolist()),
                "deliver_after": [deferred_text[i] for i in deferred_of.tolist()],
            }
            first, second, third = (values[name] for name in order)
            for row, t, a, b, c in zip(
                rows.tolist(),
                [templates[i] for i in key_of.tolist()],
                first,
                second,
                third,
                strict=True,
            ):
                item = t[0] + a + t[1] + b + t[2] + c + t[3]
                picks_json[row] = item if slot == 0 else picks_json[row] + "," + item
        picks_json = [f"[{items}]" for items in picks_json]

        # --- the explanation: one template per (outcome, arm, audience, control) ---
        base = batch_base_explanation(result)
        arms = result.arms
        arm_count = max(len(arms), 1)
        outcome_at = np.asarray(result.outcome, dtype=np.int64)
        arm_at = np.asarray(result.arm, dtype=np.int64) % arm_count
        in_audience = np.asarray(result.in_audience, dtype=bool)
        combo = ((outcome_at * arm_count + arm_at) * 2 + in_audience) * 2 + control
        combos, combo_of = np.unique(combo, return_inverse=True)
        heads = []
        for value in combos.tolist():
            rest, held = divmod(value, 2)
            rest, audience = divmod(rest, 2)
            outcome_index, arm_index = divmod(rest, arm_count)
            pieces, _ = _cut(
                _json(
                    batch_explanation(
                        base,
                        outcome=reasons.OUTCOMES[outcome_index],
                        arm=arms[arm_index] if arms else None,
                        in_audience=bool(audience),
                        control_group=bool(held),
                        would_have_offered=_hole("would_have_offered"),
                    )
                ),
                ("would_have_offered",),
            )
            heads.append(tuple(text(piece) for piece in pieces))
        shows_picks = (control | shadow).tolist()
        explanations = [
            t[0] + (picks if shows else "[]") + t[1]
            for t, picks, shows in zip(
                [heads[i] for i in combo_of.tolist()], picks_json, shows_picks, strict=True
            )
        ]

        # --- decisions ---
        decision_ids = uuid4_hex(size)
        customer_ids = result.customer_ids.tolist()
        releases = row_releases.tolist()
        offers_json = [p if r else "[]" for p, r in zip(picks_json, releases, strict=True)]
        released_count = released.sum(axis=1).tolist()
        top_codes = [text(offer.code) for offer in offers] + [""]
        top_at = (
            np.where(released[:, 0], chosen[:, 0], len(offers)).tolist()
            if slots
            else [len(offers)] * size
        )
        outcome_names = [text(name) for name in reasons.OUTCOMES]
        suppressed_json = [
            text(_json([] if name == reasons.RELEASED else [{"reason": name}]))
            for name in reasons.OUTCOMES
        ]
        outcome_list = outcome_at.tolist()
        if copy:
            lead = (
                f"\t{DecisionMode.BATCH.value}\t\t{run.campaign_id}\t{run.pk}\t{now.isoformat()}\t"
            )
            middle = f"\t{_copy_scalar(shadow)}\t"
            versions = (
                f"\t{_copy_scalar(result.snapshot_version)}\t"
                f"{_copy_scalar(result.policy_version)}\t"
            )
            tail = f"\t{_copy_scalar(run.requested_by)}\n"
            decisions: list[Any] = [
                f"{did}\t{cid}{lead}{'t' if held else 'f'}{middle}{count}\t{top_codes[top]}\t"
                f"{outcome_names[o]}{versions}{offered}\t{suppressed_json[o]}\t{why}{tail}"
                for did, cid, held, count, top, o, offered, why in zip(
                    decision_ids,
                    customer_ids,
                    control.tolist(),
                    released_count,
                    top_at,
                    outcome_list,
                    offers_json,
                    explanations,
                    strict=True,
                )
            ]
        else:
            decisions = [
                (
                    did, cid, DecisionMode.BATCH, "", run.campaign_id, run.pk, now, held, shadow,
                    count, top_codes[top], outcome_names[o], result.snapshot_version,
                    result.policy_version, offered, suppressed_json[o], why, run.requested_by,
                )
                for did, cid, held, count, top, o, offered, why in zip(
                    decision_ids, customer_ids, control.tolist(), released_count, top_at,
                    outcome_list, offers_json, explanations, strict=True,
                )
            ]  # fmt: skip

        # --- messages (outbound channels) and contacts, one per released pick ---
        pick_rows, pick_slots = np.nonzero(released)
        pick_key = (
            chosen[pick_rows, pick_slots] * max(len(channels), 1)
            + channel_at[pick_rows, pick_slots]
        )
        pair_keys, pair_of = np.unique(pick_key, return_inverse=True)
        pairs = []
        for value in pair_keys.tolist():
            index, channel_index = divmod(value, max(len(channels), 1))
            offer, channel = offers[index], channels[channel_index]
            queued = channel in OUTBOUND
            pairs.append(
                (
                    loaded.offer_ids[offer.code],
                    loaded.content_ids[(offer.code, channel, offer.contents[channel].version)]
                    if queued
                    else None,
                    channel, offer.product.code, offer.family, offer.kind, queued,
                )
            )  # fmt: skip
        pair_list = pair_of.tolist()
        is_message = np.array([pair[-1] for pair in pairs], dtype=bool)[pair_of]
        message_at = np.flatnonzero(is_message)
        message_ids: list[str | None] = [None] * len(pair_list)
        for at, message_id in zip(message_at.tolist(), uuid4_hex(len(message_at)), strict=True):
            message_ids[at] = message_id
        pick_decisions = [decision_ids[row] for row in pick_rows.tolist()]
        pick_customers = [customer_ids[row] for row in pick_rows.tolist()]
        deferred, deferred_of = np.unique(
            result.deliver_after_us[pick_rows, pick_slots][message_at], return_inverse=True
        )
        deliver_after = [_deliver_after_iso(us) for us in deferred.tolist()]
        message_picks = [
            (message_ids[at], pick_decisions[at], pick_customers[at], pair_list[at], when)
            for at, when in zip(message_at.tolist(), deferred_of.tolist(), strict=True)
        ]
        if copy:
            stamp = now.isoformat()
            message_middle = [
                f"\t{run.campaign_id}\t{offer_id}\t{_copy_scalar(content_id)}\t"
                f"{_copy_scalar(channel)}\t{MessageStatus.QUEUED.value}\t"
                for offer_id, content_id, channel, *_ in pairs
            ]
            message_tail = f"\t0\t\t\t\t\t{stamp}\t{stamp}\n"
            deliver_text = [iso or stamp for iso in deliver_after]
            messages: list[Any] = [
                f"{mid}\t{did}\t{cid}{message_middle[pair]}{deliver_text[when]}{message_tail}"
                for mid, did, cid, pair, when in message_picks
            ]
            contact_tail = [
                f"\t{run.campaign_id}\t{offer_id}\t{_copy_scalar(product)}\t"
                f"{_copy_scalar(family)}\t{_copy_scalar(kind)}\t{_copy_scalar(channel)}\t"
                f"{stamp}\tf\t\n"
                for offer_id, _content, channel, product, family, kind, _queued in pairs
            ]
            contacts: list[Any] = [
                f"{cid}\t{did}\t{mid or _NULL}{contact_tail[pair]}"
                for cid, did, mid, pair in zip(
                    pick_customers, pick_decisions, message_ids, pair_list, strict=True
                )
            ]
        else:
            deliver_time = [datetime.fromisoformat(iso) if iso else now for iso in deliver_after]
            messages = [
                (
                    mid, did, cid, run.campaign_id, pairs[pair][0], pairs[pair][1],
                    pairs[pair][2], MessageStatus.QUEUED, deliver_time[when], 0, "", "", "", "",
                    now, now,
                )
                for mid, did, cid, pair, when in message_picks
            ]  # fmt: skip
            contacts = [
                (
                    cid, did, mid, run.campaign_id, pairs[pair][0], pairs[pair][3],
                    pairs[pair][4], pairs[pair][5], pairs[pair][2], now, False, "",
                )
                for cid, did, mid, pair in zip(
                    pick_customers, pick_decisions, message_ids, pair_list, strict=True
                )
            ]  # fmt: skip

        outcome_counts = np.bincount(outcome_at, minlength=len(reasons.OUTCOMES))
        suppressions = {
            name: int(count)
            for name, count in zip(reasons.OUTCOMES, outcome_counts.tolist(), strict=False)
            if count and name not in (reasons.RELEASED, reasons.CONTROL_GROUP)
        }
        references = {
            Customer: customer_ids,
            Campaign: [run.campaign_id],
            CampaignRun: [run.pk],
            Offer: sorted({pair[0] for pair in pairs}),
            OfferContent: sorted({pair[1] for pair in pairs if pair[1] is not None}),
        }
        return cls(
            decisions,
            messages,
            contacts,
            result.outcome_counts(),
            suppressions,
            copy=copy,
            references=references,
        )

    TABLES: ClassVar[tuple[tuple[Any, str, str], ...]] = (
        (Decision, "DECISION_COLUMNS", "decisions"),
        (Message, "MESSAGE_COLUMNS", "messages"),
        (Contact, "CONTACT_COLUMNS", "contacts"),
    )

    def write(self) -> None:
        """Store the rows (inside the chunk's transaction).

        On PostgreSQL every table is one COPY. Its foreign keys are checked before this
        returns, so that the chunk's commit, which happens while the run's row is locked
        to fold in the counters, has no deferred work left: either set-based (one query
        per referenced table, taking the FOR KEY SHARE row locks the per-row triggers
        take) when this role may switch triggers off for the COPY
        (``session_replication_role``: a superuser, as in development and CI), or by the
        per-row triggers, made immediate. The application's production role never may:
        the same switch would silence the audit ledger's append-only triggers, and
        ``create_app_role`` refuses a role that holds it.
        """
        tables = [
            (model, getattr(self, columns), getattr(self, rows))
            for model, columns, rows in self.TABLES
        ]
        if not self.copy:
            for model, columns, rows in tables:
                _bulk_insert(model, columns, rows)
            return
        checks = self._reference_checks(tables)
        triggers_off = checks is not None and _triggers_off()
        for model, columns, lines in tables:
            _copy_lines(model, columns, lines)
        with connection.cursor() as cursor:
            if not triggers_off:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                return
            cursor.execute("SET LOCAL session_replication_role = origin")
            for model, keys in (checks or {}).items():
                _references_lock(cursor, model, keys)

    def _reference_checks(
        self, tables: list[tuple[Any, tuple[str, ...], list[Any]]]
    ) -> dict[Any, list[int]] | None:
        """The keys to check by referenced model, or None when a written foreign key is not
        covered (then the triggers check it)."""
        if not self.SET_BASED_REFERENCE_CHECKS:
            return None
        written = {model for model, _columns, rows in tables if rows}
        checks: dict[Any, list[int]] = {}
        for model, columns, rows in tables:
            if not rows:
                continue
            for field_ in model._meta.concrete_fields:
                if (
                    not (field_.is_relation and field_.db_constraint)
                    or field_.column not in columns
                ):
                    continue
                target = field_.related_model
                if target in written:
                    continue  # rows of this same write
                if target not in self.references:
                    return None
                checks[target] = self.references[target]
        return checks


# (database name, user) of the connections whose role may not switch triggers off
_TRIGGERS_STAY_ON: set[tuple[str, str]] = set()


def _triggers_off() -> bool:
    """Switch this transaction's triggers (foreign-key checks among them) off for the COPY;
    False, changing nothing, when the role may not (asked once per process)."""
    role = (str(connection.settings_dict.get("NAME")), str(connection.settings_dict.get("USER")))
    if role in _TRIGGERS_STAY_ON:
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except ProgrammingError:  # insufficient privilege
        _TRIGGERS_STAY_ON.add(role)
        return False
    return True


def _references_lock(cursor: Any, model: Any, keys: list[int]) -> None:
    """Check that every key names a row of ``model`` and hold it as the foreign-key
    trigger would (FOR KEY SHARE, to the end of the transaction)."""
    distinct = sorted(set(keys))
    if not distinct:
        return
    table, column = model._meta.db_table, model._meta.pk.column
    cursor.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {column} BETWEEN %s AND %s "
        f"AND {column} = ANY(%s) FOR KEY SHARE) AS held",
        [distinct[0], distinct[-1], distinct],
    )
    (found,) = cursor.fetchone()
    if found != len(distinct):
        raise IntegrityError(
            f"{len(distinct) - found} of the {len(distinct)} {table} rows this batch refers "
            "to do not exist"
        )


def _copy_lines(model: Any, columns: tuple[str, ...], lines: list[str]) -> None:
    """COPY pre-built text lines into ``model``'s table, in blocks of COPY_BLOCK_ROWS."""
    if not lines:
        return
    sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for start in range(0, len(lines), COPY_BLOCK_ROWS):
            copy.write("".join(lines[start : start + COPY_BLOCK_ROWS]))


def _bulk_insert(model: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    table = model._meta.db_table
    names = ", ".join(columns)
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5_000):
            cursor.executemany(sql, rows[start : start + 5_000])
