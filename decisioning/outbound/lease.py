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
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.actors import actor_name
from core.channels import OUTBOUND
from core.db import joins_as_written
from core.exceptions import ValidationFailed
from decisioning.choices import MessageStatus
from decisioning.engine.sendtime import CANCEL, DEFER, LEASE
from decisioning.models import Contact, Message, OwedAction
from decisioning.outbound.cancel import messages_cancel_rows
from decisioning.outbound.gate import (
    NO_CONTACT,
    REROUTE,
    GateState,
    GateVerdict,
    gate,
    gate_state,
)
from decisioning.outbound.records import explained_offers, message_record, released_record
from ledger.services import audit_many
from offers.choices import OfferKind

logger = logging.getLogger(__name__)


MAX_LEASE = 500


MAX_LEASE_SECONDS = 3600


# A batch whose every message the gate cancels is followed by another, up to this many.
MAX_ROUNDS = 5


CLAIM_ATTEMPTS = 3


# The cancel reason of a service action no outbound channel reaches: owed inbound instead.
OWED = "owed_inbound"


@dataclass(frozen=True, slots=True)
class LeasedMessage:
    message: Message
    contact: dict[str, str]


@dataclass(frozen=True, slots=True)
class LeaseResult:
    leased: tuple[LeasedMessage, ...]
    cancelled: dict[str, int] = field(default_factory=dict)  # reason -> count
    deferred: int = 0
    rerouted: int = 0  # service actions moved to another channel's queue


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


def _taken_channels(rows: list[Message]) -> dict[tuple[Any, int], frozenset[str]]:
    """(decision, offer) -> the channels its messages already use, for service actions (the
    only ones rerouted: a reroute never makes a second message of an offer and decision on
    one channel)."""
    taken: dict[tuple[Any, int], set[str]] = defaultdict(set)
    service = {m.decision_id for m in rows if m.offer.kind == OfferKind.SERVICE}
    if not service:
        return {}
    for decision_id, offer_id, channel in Message.objects.filter(
        decision_id__in=service
    ).values_list("decision_id", "offer_id", "channel"):
        taken[(decision_id, offer_id)].add(channel)
    return {key: frozenset(channels) for key, channels in taken.items()}


def _lease_batch(
    *, actor: str, channel: str, want: int, lease_seconds: int, now: datetime
) -> tuple[list[LeasedMessage], Counter, int, int, int]:
    expired_qs, queued_qs = _due(channel, now)
    with joins_as_written():  # the message first, then its rows by primary key
        rows = list(expired_qs[:want])
        if len(rows) < want:
            rows += list(queued_qs[: want - len(rows)])
    if not rows:
        return [], Counter(), 0, 0, 0
    state = gate_state(rows, now=now)
    taken = _taken_channels(rows)
    lease_expires_at = now + timedelta(seconds=lease_seconds)
    lease_id = uuid.uuid4()
    to_lease: list[tuple[Message, GateVerdict]] = []
    to_cancel: dict[str, list[Message]] = defaultdict(list)
    to_defer: dict[datetime, list[Message]] = defaultdict(list)
    to_reroute: list[tuple[Message, GateVerdict]] = []
    to_owe: list[Message] = []
    for message in rows:
        verdict = gate(
            message, state, taken.get((message.decision_id, message.offer_id), frozenset())
        )
        if verdict.action == LEASE:
            to_lease.append((message, verdict))
        elif verdict.action == CANCEL:
            to_cancel[verdict.reason or "cancelled"].append(message)
        elif verdict.action == DEFER:
            to_defer[verdict.deliver_after].append(message)
        elif verdict.action == REROUTE:
            to_reroute.append((message, verdict))
        else:
            to_owe.append(message)

    claimable = _claimable(now)
    records = []
    if to_lease:
        leasing = [m for m, _ in to_lease]
        claimed = Message.objects.filter(claimable, pk__in=[m.pk for m in leasing]).update(
            status=MessageStatus.LEASED,
            lease_expires_at=lease_expires_at,
            lease_id=lease_id,
            leased_by=actor[:150],
            lease_count=F("lease_count") + 1,
            updated_at=now,
        )
        if claimed != len(leasing):
            raise _ClaimRace
        explained = explained_offers(leasing)
        records += [
            released_record(
                m,
                actor=actor,
                now=now,
                lease_expires_at=lease_expires_at,
                lease_id=lease_id,
                address=verdict.address.audit() if verdict.address else {},
                explained=explained.get(m.decision_id, []),
            )
            for m, verdict in to_lease
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
    records += _reroute(to_reroute, state=state, actor=actor, claimable=claimable, now=now)
    records += _owe(to_owe, actor=actor, claimable=claimable, now=now)
    audit_many(records)

    leased = []
    for message, verdict in to_lease:
        message.status = MessageStatus.LEASED
        message.lease_expires_at = lease_expires_at
        message.lease_id = lease_id
        message.leased_by = actor[:150]
        message.lease_count += 1
        leased.append(LeasedMessage(message, verdict.address.contact() if verdict.address else {}))
    cancelled_counts = Counter({reason: len(ms) for reason, ms in to_cancel.items()})
    cancelled_counts.update({OWED: len(to_owe)} if to_owe else {})
    deferred = sum(len(ms) for ms in to_defer.values())
    return leased, cancelled_counts, deferred, len(to_reroute), len(rows)


def _reroute(
    rerouted: list[tuple[Message, GateVerdict]],
    *,
    state: GateState,
    actor: str,
    claimable: Q,
    now: datetime,
) -> list[Any]:
    """Move service actions to the channel the gate found; they queue there (deferred to
    the end of quiet hours when that channel has them)."""
    records = []
    content_ids = state.loaded.content_ids
    for message, verdict in rerouted:
        channel = verdict.channel or ""
        content = state.loaded.engine.offers[message.offer.code].contents[channel]
        moved = Message.objects.filter(claimable, pk=message.pk).update(
            channel=channel,
            content_id=content_ids[(message.offer.code, channel, content.version)],
            status=MessageStatus.QUEUED,
            deliver_after=verdict.deliver_after or now,
            lease_expires_at=None,
            updated_at=now,
        )
        if moved != 1:
            raise _ClaimRace
        Contact.objects.filter(message=message).update(channel=channel)
        records.append(
            message_record(
                message,
                actor=actor,
                action="message_rerouted",
                now=now,
                data={
                    "reason": verdict.reason,
                    "from_channel": message.channel,
                    "to_channel": channel,
                    "content_version": content.version,
                    "address": verdict.address.audit() if verdict.address else {},
                    "deliver_after": verdict.deliver_after or now,
                },
            )
        )
    return records


def _owe(owed: list[Message], *, actor: str, claimable: Q, now: datetime) -> list[Any]:
    """Service actions no outbound channel reaches: cancelled here, owed on the next inbound
    decision (``OwedAction``)."""
    if not owed:
        return []
    if messages_cancel_rows(actor=actor, rows=owed, reason=OWED, still=claimable, now=now) != len(
        owed
    ):
        raise _ClaimRace
    expires_at = now + timedelta(days=settings.OWED_ACTION_DAYS)
    OwedAction.objects.bulk_create(
        OwedAction(
            customer_id=m.customer_id,
            message=m,
            campaign_id=m.campaign_id,
            offer_id=m.offer_id,
            created_at=now,
            expires_at=expires_at,
        )
        for m in owed
        if m.campaign_id is not None
    )
    return [
        message_record(
            m,
            actor=actor,
            action="service_action_owed",
            now=now,
            data={"reason": NO_CONTACT, "channel": m.channel, "expires_at": expires_at},
        )
        for m in owed
    ]


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
    deferred = rerouted = 0
    for _ in range(MAX_ROUNDS):
        want = max_messages - len(leased)
        batch, batch_cancelled, batch_deferred, batch_rerouted, examined = _lease_batch(
            actor=actor, channel=channel, want=want, lease_seconds=lease_seconds, now=now
        )
        leased += batch
        cancelled.update(batch_cancelled)
        deferred += batch_deferred
        rerouted += batch_rerouted
        if examined < want or len(leased) >= max_messages:
            break
    return LeaseResult(
        leased=tuple(leased), cancelled=dict(cancelled), deferred=deferred, rerouted=rerouted
    )
