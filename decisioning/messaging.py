"""The outbound queue: leasing messages through the pre-send gate, acks, cancellation.

A channel (push, SMS, e-mail gateway) leases what is due: queued messages whose
``deliver_after`` has come, and leased ones whose lease expired without an ack (they
come back). Claiming is atomic — on PostgreSQL the candidates are locked with
``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent leasers never see the same row; on
SQLite the write transaction is exclusive (``IMMEDIATE``) and the claim is a conditional
``UPDATE`` whose row count is checked, as for any database without row locks.

Before anything is handed out, the pre-send gate re-checks each message against the
state of the world *now* (DESIGN.md rule 1: a revoke takes effect at once):

==========================  ================================================  =======
check                       applies to                                        result
==========================  ================================================  =======
erased                      every offer                                       cancel
campaign_not_running        every offer (campaign paused, ended, archived)    cancel
offer_not_active            every offer (status, validity window)             cancel
content_not_approved        every offer (approval revoked, text altered)      cancel
do_not_contact              sales offers (service actions are exempt)         cancel
global_opt_out              sales offers                                      cancel
no_consent                  sales offers: outbound channels need a grant      cancel
suppressed                  every offer: scope all, family, product, offer    cancel
channel_suppressed          every offer: scope channel                        cancel
holds_product               sales offers: the customer holds the family       cancel
cooldown_after_decline      sales offers: product declined within the policy  cancel
no_contact                  no phone / e-mail / device id for the channel     cancel
quiet_hours                 policy's quiet channels, customer's time zone     defer
==========================  ================================================  =======

A cancelled message's contact row is marked cancelled (it no longer spends the
customer's attention budget). Every leased message gets an ``offer_released`` audit
record; cancellations and deferrals are audited as ``message`` records.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from campaigns.choices import CampaignStatus
from campaigns.models import ContactPolicy
from compliance.choices import ApprovalStatus, ApprovalSubject, ConsentChannel, ConsentStatus
from compliance.models import ApprovalRequest, Consent, DoNotContact, SuppressionEntry
from core.actors import actor_name
from core.channels import OUTBOUND
from core.exceptions import Conflict, NotFound, ValidationFailed
from customers.choices import IdentifierType
from customers.models import Holding, IdentityLink
from decisioning.choices import MessageStatus, Outcome
from decisioning.engine.timeutil import quiet_hours, zone
from decisioning.models import Contact, Decision, Message
from ledger.choices import AuditKind
from ledger.services import audit, audit_many, build_record
from offers.choices import OfferKind, OfferStatus
from offers.content_hash import content_hash_of
from offers.models import Product

logger = logging.getLogger(__name__)

MAX_LEASE = 500
MAX_LEASE_SECONDS = 3600
# A batch whose every message the gate cancels is followed by another, up to this many.
MAX_ROUNDS = 5
CLAIM_ATTEMPTS = 3

CONTACT_FIELD = {"sms": "phone", "email": "email", "push": "device_id"}


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


# --- the pre-send gate ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateState:
    """What the gate knows about the customers of one batch, read in a few queries."""

    now: datetime
    quiet_start: Any
    quiet_end: Any
    quiet_channels: frozenset[str]
    default_time_zone: str
    decline_cooldown_days: int
    consents: dict[int, dict[str, str]]
    do_not_contact: frozenset[int]
    suppressions: dict[int, list[SuppressionEntry]]
    held_families: dict[int, set[str]]
    declined_products: dict[int, set[str]]
    devices: dict[int, str]
    approved_contents: frozenset[int]


def _active_policy() -> ContactPolicy:
    # Without an active policy, the engine's defaults: push and SMS keep quiet hours.
    return ContactPolicy.objects.filter(is_active=True).first() or ContactPolicy(
        version=0, quiet_channels=["push", "sms"]
    )


def gate_state(messages: list[Message], *, now: datetime) -> GateState:
    customer_ids = sorted({m.customer_id for m in messages})
    policy = _active_policy()
    consents: dict[int, dict[str, str]] = defaultdict(dict)
    for customer_id, channel, status in Consent.objects.filter(
        customer_id__in=customer_ids
    ).values_list("customer_id", "channel", "status"):
        consents[customer_id][channel] = status
    dnc = frozenset(
        DoNotContact.objects.filter(customer_id__in=customer_ids).values_list(
            "customer_id", flat=True
        )
    )
    suppressions: dict[int, list[SuppressionEntry]] = defaultdict(list)
    for entry in SuppressionEntry.objects.filter(customer_id__in=customer_ids).filter(
        Q(until__isnull=True) | Q(until__gt=now)
    ):
        suppressions[entry.customer_id].append(entry)
    held: dict[int, set[str]] = defaultdict(set)
    family_of = Product.objects.filter(code=OuterRef("product_code")).values("family")[:1]
    for customer_id, family in (
        Holding.objects.filter(customer_id__in=customer_ids, closed_at__isnull=True)
        .annotate(family=Subquery(family_of))
        .values_list("customer_id", "family")
    ):
        if family:
            held[customer_id].add(family)
    declined: dict[int, set[str]] = defaultdict(set)
    start = now - timedelta(days=policy.decline_cooldown_days)
    for customer_id, product_code in (
        Contact.objects.filter(
            customer_id__in=customer_ids, outcome=Outcome.DECLINE, cancelled=False
        )
        .filter(Q(outcome_at__gt=start) | Q(outcome_at__isnull=True, released_at__gt=start))
        .values_list("customer_id", "product_code")
    ):
        declined[customer_id].add(product_code)
    devices: dict[int, str] = {}
    if any(m.channel == "push" for m in messages):
        for customer_id, value in (
            IdentityLink.objects.filter(customer_id__in=customer_ids, type=IdentifierType.DEVICE_ID)
            .order_by("created_at", "pk")
            .values_list("customer_id", "value")
        ):
            devices[customer_id] = value  # the newest device wins
    approved = _approved_content_ids(messages)
    return GateState(
        now=now,
        quiet_start=policy.quiet_start,
        quiet_end=policy.quiet_end,
        quiet_channels=frozenset(policy.quiet_channels or ()),
        default_time_zone=settings.BANK_TIME_ZONE,
        decline_cooldown_days=policy.decline_cooldown_days,
        consents=consents,
        do_not_contact=dnc,
        suppressions=suppressions,
        held_families=held,
        declined_products=declined,
        devices=devices,
        approved_contents=approved,
    )


def _approved_content_ids(messages: list[Message]) -> frozenset[int]:
    wanted = {m.content_id: m.content for m in messages}
    rows = ApprovalRequest.objects.filter(
        subject_type=ApprovalSubject.OFFER_CONTENT,
        status=ApprovalStatus.APPROVED,
        subject_id__in=sorted(wanted),
    ).values_list("subject_id", "subject_version", "content_hash")
    return frozenset(
        subject_id
        for subject_id, version, content_hash in rows
        if (content := wanted.get(subject_id)) is not None
        and content.version == version
        and content.content_hash == content_hash
    )


def contact_for(message: Message, state: GateState) -> dict[str, str] | None:
    """Where the channel delivers: sms -> phone, email -> e-mail, push -> device id."""
    field_name = CONTACT_FIELD[message.channel]
    customer = message.customer
    if field_name == "phone":
        value = customer.phone
    elif field_name == "email":
        value = customer.email
    else:
        value = state.devices.get(customer.pk, "")
    return {field_name: value} if value else None


def _in_window(start: datetime | None, end: datetime | None, now: datetime) -> bool:
    return (start is None or start <= now) and (end is None or now < end)


def gate(message: Message, state: GateState) -> tuple[str, str | None, datetime | None]:
    """("lease" | "cancel" | "defer", reason, deliver_after) for one message."""
    now = state.now
    customer = message.customer
    offer = message.offer
    campaign = message.campaign
    sales = offer.kind == OfferKind.SALES
    if customer.erased_at is not None:
        return "cancel", "erased", None
    if campaign is not None and (
        campaign.status != CampaignStatus.RUNNING
        or not _in_window(campaign.starts_at, campaign.ends_at, now)
    ):
        return "cancel", "campaign_not_running", None
    if offer.status != OfferStatus.ACTIVE or not _in_window(
        offer.valid_from, offer.valid_until, now
    ):
        return "cancel", "offer_not_active", None
    if message.content_id not in state.approved_contents or (
        content_hash_of(message.content, offer_code=offer.code) != message.content.content_hash
    ):
        # Approval revoked, or the words altered behind the services' back.
        return "cancel", "content_not_approved", None
    consents = state.consents.get(customer.pk, {})
    if sales:
        if customer.pk in state.do_not_contact:
            return "cancel", "do_not_contact", None
        if consents.get(ConsentChannel.ALL) == ConsentStatus.REVOKED:
            return "cancel", "global_opt_out", None
        if consents.get(message.channel) != ConsentStatus.GRANTED:
            return "cancel", "no_consent", None
    product = offer.product
    for entry in state.suppressions.get(customer.pk, ()):
        if entry.scope == "channel":
            if entry.value == message.channel:
                return "cancel", "channel_suppressed", None
        elif (
            entry.scope == "all"
            or (entry.scope == "family" and entry.value == product.family)
            or (entry.scope == "product" and entry.value == product.code)
            or (entry.scope == "offer" and entry.value == offer.code)
        ):
            return "cancel", "suppressed", None
    if sales:
        if product.family in state.held_families.get(customer.pk, ()):
            return "cancel", "holds_product", None
        if product.code in state.declined_products.get(customer.pk, ()):
            return "cancel", "cooldown_after_decline", None
    if contact_for(message, state) is None:
        return "cancel", "no_contact", None
    if message.channel in state.quiet_channels:
        until = quiet_hours(
            now,
            zone(customer.time_zone, state.default_time_zone),
            state.quiet_start,
            state.quiet_end,
        )
        if until is not None:
            return "defer", "quiet_hours", until
    return "lease", None, None


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


def explained_offers(messages: list[Message]) -> dict[Any, list[dict[str, Any]]]:
    """The released offers of each message's decision as its stored explanation has them
    (model version, factors, reasons), in one query that reads only that part of it."""
    rows = Decision.objects.filter(pk__in={m.decision_id for m in messages}).values_list(
        "pk", "explanation__offers"
    )
    return {pk: offers if isinstance(offers, list) else [] for pk, offers in rows}


def _offer_explanation(message: Message, explained: list[dict[str, Any]]) -> dict[str, Any]:
    for offer in explained:
        if offer.get("offer_code") == message.offer.code and offer.get("channel") in (
            message.channel,
            None,
        ):
            return offer
    return {}


def released_record(
    message: Message,
    *,
    actor: Any,
    now: datetime,
    lease_expires_at: datetime,
    explained: list[dict[str, Any]],
) -> Any:
    decision = message.decision
    explained_offer = _offer_explanation(message, explained)
    factors = explained_offer.get("score_factors") or {}
    event = decision.event
    return build_record(
        kind=AuditKind.OFFER_RELEASED,
        action="message_leased",
        actor=actor,
        object_type="message",
        object_id=message.pk,
        object_repr=message.offer.code,
        customer_ref=message.customer.pseudonym,
        channel=message.channel,
        data={
            "message_id": str(message.pk),
            "decision_id": str(decision.pk),
            "offer_code": message.offer.code,
            "product_code": message.offer.product.code,
            "kind": message.offer.kind,
            "campaign": message.campaign.code if message.campaign else None,
            "content_version": message.content.version,
            "content_hash": message.content.content_hash,
            "triggering_event": (
                {"event_id": event.event_id, "type": event.type} if event is not None else None
            ),
            "model_version": factors.get("model_version"),
            "policy_version": decision.policy_version,
            "snapshot_version": decision.snapshot_version,
            "score": explained_offer.get("score"),
            "score_factors": factors,
            "rationale": explained_offer.get("reasons", []),
            "lease_count": message.lease_count + 1,
            "lease_expires_at": lease_expires_at,
        },
        at=now,
    )


def _message_record(message: Message, *, actor: Any, action: str, now: datetime, data: dict):
    return build_record(
        kind=AuditKind.MESSAGE,
        action=action,
        actor=actor,
        object_type="message",
        object_id=message.pk,
        object_repr=message.offer.code,
        customer_ref=message.customer.pseudonym,
        channel=message.channel,
        data={"message_id": str(message.pk), "decision_id": str(message.decision_id), **data},
        at=now,
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
        cancelled = Message.objects.filter(claimable, pk__in=[m.pk for m in messages]).update(
            status=MessageStatus.CANCELLED,
            cancel_reason=reason,
            lease_expires_at=None,
            updated_at=now,
        )
        if cancelled != len(messages):
            raise _ClaimRace
        records += [
            _message_record(
                m, actor=actor, action="message_cancelled", now=now, data={"reason": reason}
            )
            for m in messages
        ]
    cancelled_ids = [m.pk for messages in to_cancel.values() for m in messages]
    if cancelled_ids:
        Contact.objects.filter(message_id__in=cancelled_ids).update(cancelled=True)
    for until, messages in to_defer.items():
        deferred = Message.objects.filter(claimable, pk__in=[m.pk for m in messages]).update(
            status=MessageStatus.QUEUED, deliver_after=until, lease_expires_at=None, updated_at=now
        )
        if deferred != len(messages):
            raise _ClaimRace
        records += [
            _message_record(
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


# --- acks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AckResult:
    message: Message
    duplicate: bool


ACK_STATUSES = (MessageStatus.DELIVERED, MessageStatus.FAILED)


def message_ack(
    *,
    actor: Any,
    message_id: uuid.UUID | str,
    status: str,
    provider_ref: str = "",
    error: str = "",
    now: datetime | None = None,
) -> AckResult:
    """Record delivery (or failure) of a leased message. Repeating the same ack is
    harmless; acking a message that is not out with a channel is a conflict.

    A failed delivery marks the contact row cancelled: the customer never saw the offer,
    so it does not spend their attention budget.
    """
    if status not in ACK_STATUSES:
        raise ValidationFailed(
            "The ack is not valid.", fields={"status": ["must be delivered or failed"]}
        )
    now = now or timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("customer", "offer")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            raise NotFound("No such message.")
        if message.status == status:
            return AckResult(message, duplicate=True)
        if message.status != MessageStatus.LEASED:
            detail = f" ({message.cancel_reason})" if message.cancel_reason else ""
            raise Conflict(
                f"The message is {message.status}{detail}; only a leased message can be "
                "acknowledged.",
                fields={"status": [f"message is {message.status}"]},
            )
        message.status = status
        message.provider_ref = (provider_ref or "")[:200]
        message.error = (error or "")[:4000]
        message.save(update_fields=["status", "provider_ref", "error", "updated_at"])
        if status == MessageStatus.FAILED:
            Contact.objects.filter(message=message).update(cancelled=True)
        audit(
            kind=AuditKind.MESSAGE,
            action=f"message_{status}",
            actor=actor,
            object_type="message",
            object_id=message.pk,
            object_repr=message.offer.code,
            customer_ref=message.customer.pseudonym,
            channel=message.channel,
            data={
                "message_id": str(message.pk),
                "decision_id": str(message.decision_id),
                "offer_code": message.offer.code,
                "provider_ref": message.provider_ref,
                "error": message.error[:500],
                "lease_count": message.lease_count,
            },
            at=now,
        )
    return AckResult(message, duplicate=False)


# --- cancelling what must no longer go out -------------------------------------------------


def messages_cancel(
    *,
    actor: Any,
    messages: QuerySet[Message],
    reason: str,
    statuses: Iterable[str] = (MessageStatus.QUEUED,),
    now: datetime | None = None,
) -> int:
    """Cancel the given messages that are still in ``statuses``; their contacts stop
    counting; each cancellation is audited. Call inside the caller's transaction."""
    now = now or timezone.now()
    rows = list(messages.filter(status__in=list(statuses)).select_related("customer", "offer"))
    if not rows:
        return 0
    ids = [m.pk for m in rows]
    Message.objects.filter(pk__in=ids, status__in=list(statuses)).update(
        status=MessageStatus.CANCELLED, cancel_reason=reason, lease_expires_at=None, updated_at=now
    )
    Contact.objects.filter(message_id__in=ids).update(cancelled=True)
    audit_many(
        [
            _message_record(
                m, actor=actor, action="message_cancelled", now=now, data={"reason": reason}
            )
            for m in rows
        ]
    )
    return len(rows)
