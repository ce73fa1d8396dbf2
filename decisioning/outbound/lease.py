"""Leasing: a channel's gateway takes what is due, oldest first, through the pre-send gate.

A channel (push, SMS, e-mail gateway) leases what is due: queued messages whose
``deliver_after`` has come, and leased ones whose lease expired without an ack (they
come back). Claiming is atomic — on PostgreSQL the candidates are locked with
``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent leasers never see the same row; on
SQLite the write transaction is exclusive (``IMMEDIATE``) and the claim is a conditional
``UPDATE`` whose row count is checked, as for any database without row locks. Every
leased message gets an ``offer_released`` audit record.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.actors import actor_name
from core.channels import OUTBOUND
from core.exceptions import ValidationFailed
from decisioning.choices import MessageStatus
from decisioning.models import Message
from decisioning.outbound.cancel import messages_cancel_rows
from decisioning.outbound.gate import contact_for, gate, gate_state
from decisioning.outbound.records import explained_offers, message_record, released_record
from ledger.services import audit_many

logger = logging.getLogger(__name__)


MAX_LEASE = 500


MAX_LEASE_SECONDS = 3600


# A batch whose every message the gate cancels is followed by another, up to this many.
MAX_ROUNDS = 5


CLAIM_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class LeasedMessage:
    message: Message
    contact: dict[str, str]


@dataclass(frozen=True, slots=True)
class LeaseResult:
    leased: tuple[LeasedMessage, ...]
    cancelled: dict[str, int] = field(default_factory=dict)  # reason -> count
    deferred: int = 0


class _ClaimRace(Exception):
    """Another leaser claimed a row between our read and our update: retry the batch."""


# --- leasing ---------------------------------------------------------------------------


def _due(channel: str, now: datetime) -> tuple[QuerySet[Message], QuerySet[Message]]:
    """Expired leases first (they were due earliest), then queued messages that are due."""
    # The decision's explanation (tens of kB) is read apart, only the part the audit needs.
    base = Message.objects.select_related(
        "customer", "offer__product", "content", "campaign", "decision__event"
    ).defer("decision__explanation", "decision__offers", "decision__suppressed")
    expired = base.filter(
        channel=channel, status=MessageStatus.LEASED, lease_expires_at__lte=now
    ).order_by("lease_expires_at", "id")
    queued = base.filter(
        channel=channel, status=MessageStatus.QUEUED, deliver_after__lte=now
    ).order_by("deliver_after", "id")
    if connection.features.has_select_for_update_skip_locked:
        expired = expired.select_for_update(skip_locked=True, of=("self",))
        queued = queued.select_for_update(skip_locked=True, of=("self",))
    return expired, queued


def _claimable(now: datetime) -> Q:
    return Q(status=MessageStatus.QUEUED, deliver_after__lte=now) | Q(
        status=MessageStatus.LEASED, lease_expires_at__lte=now
    )


def _lease_batch(
    *, actor: str, channel: str, want: int, lease_seconds: int, now: datetime
) -> tuple[list[LeasedMessage], Counter, int, int]:
    expired_qs, queued_qs = _due(channel, now)
    rows = list(expired_qs[:want])
    if len(rows) < want:
        rows += list(queued_qs[: want - len(rows)])
    if not rows:
        return [], Counter(), 0, 0
    state = gate_state(rows, now=now)
    lease_expires_at = now + timedelta(seconds=lease_seconds)
    to_lease: list[Message] = []
    to_cancel: dict[str, list[Message]] = defaultdict(list)
    to_defer: dict[datetime, list[Message]] = defaultdict(list)
    for message in rows:
        verdict, reason, until = gate(message, state)
        if verdict == "lease":
            to_lease.append(message)
        elif verdict == "cancel":
            to_cancel[reason].append(message)
        else:
            to_defer[until].append(message)

    claimable = _claimable(now)
    records = []
    if to_lease:
        claimed = Message.objects.filter(claimable, pk__in=[m.pk for m in to_lease]).update(
            status=MessageStatus.LEASED,
            lease_expires_at=lease_expires_at,
            leased_by=actor[:150],
            lease_count=F("lease_count") + 1,
            updated_at=now,
        )
        if claimed != len(to_lease):
            raise _ClaimRace
        explained = explained_offers(to_lease)
        records += [
            released_record(
                m,
                actor=actor,
                now=now,
                lease_expires_at=lease_expires_at,
                explained=explained.get(m.decision_id, []),
            )
            for m in to_lease
        ]
    for reason, messages in to_cancel.items():
        cancelled = messages_cancel_rows(
            actor=actor, rows=messages, reason=reason, still=claimable, now=now
        )
        if cancelled != len(messages):
            raise _ClaimRace
    for until, messages in to_defer.items():
        deferred = Message.objects.filter(claimable, pk__in=[m.pk for m in messages]).update(
            status=MessageStatus.QUEUED, deliver_after=until, lease_expires_at=None, updated_at=now
        )
        if deferred != len(messages):
            raise _ClaimRace
        records += [
            message_record(
                m,
                actor=actor,
                action="message_deferred",
                now=now,
                data={"reason": "quiet_hours", "deliver_after": until},
            )
            for m in messages
        ]
    audit_many(records)

    leased = []
    for message in to_lease:
        message.status = MessageStatus.LEASED
        message.lease_expires_at = lease_expires_at
        message.leased_by = actor[:150]
        message.lease_count += 1
        leased.append(LeasedMessage(message, contact_for(message, state) or {}))
    cancelled_counts = Counter({reason: len(ms) for reason, ms in to_cancel.items()})
    return leased, cancelled_counts, sum(len(ms) for ms in to_defer.values()), len(rows)


def messages_lease(
    *,
    actor: Any,
    channel: str,
    max_messages: int = 100,
    lease_seconds: int = 60,
    now: datetime | None = None,
) -> LeaseResult:
    """Lease up to ``max_messages`` due messages of an outbound channel for
    ``lease_seconds``; what the pre-send gate refuses is cancelled or deferred instead."""
    errors: dict[str, list[str]] = {}
    if channel not in OUTBOUND:
        errors["channel"] = [f"must be one of {', '.join(sorted(OUTBOUND))}"]
    if not isinstance(max_messages, int) or not 1 <= max_messages <= MAX_LEASE:
        errors["max"] = [f"must be between 1 and {MAX_LEASE}"]
    if not isinstance(lease_seconds, int) or not 1 <= lease_seconds <= MAX_LEASE_SECONDS:
        errors["lease_seconds"] = [f"must be between 1 and {MAX_LEASE_SECONDS}"]
    if errors:
        raise ValidationFailed("The lease request is not valid.", fields=errors)
    name = actor_name(actor)
    now = now or timezone.now()
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _lease_rounds(
                    actor=name,
                    channel=channel,
                    max_messages=max_messages,
                    lease_seconds=lease_seconds,
                    now=now,
                )
        except _ClaimRace:
            logger.info("lease on %s lost a claim race (attempt %d); retrying", channel, attempt)
    return LeaseResult(leased=())


def _lease_rounds(
    *, actor: str, channel: str, max_messages: int, lease_seconds: int, now: datetime
) -> LeaseResult:
    leased: list[LeasedMessage] = []
    cancelled: Counter = Counter()
    deferred = 0
    for _ in range(MAX_ROUNDS):
        want = max_messages - len(leased)
        batch, batch_cancelled, batch_deferred, examined = _lease_batch(
            actor=actor, channel=channel, want=want, lease_seconds=lease_seconds, now=now
        )
        leased += batch
        cancelled.update(batch_cancelled)
        deferred += batch_deferred
        if examined < want or len(leased) >= max_messages:
            break
    return LeaseResult(leased=tuple(leased), cancelled=dict(cancelled), deferred=deferred)
