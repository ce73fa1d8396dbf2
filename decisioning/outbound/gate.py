"""The pre-send gate: each message re-checked against the state of the world *now*.

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
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery

from campaigns.choices import CampaignStatus
from campaigns.selectors import active_contact_policy
from compliance.choices import ApprovalStatus, ApprovalSubject, ConsentChannel, ConsentStatus
from compliance.models import ApprovalRequest, Consent, DoNotContact, SuppressionEntry
from core.channels import CONTACT_FIELD
from customers.choices import IdentifierType
from customers.models import Holding, IdentityLink
from decisioning.choices import Outcome
from decisioning.engine.timeutil import quiet_hours, zone
from decisioning.models import Contact, Message
from offers.choices import OfferKind, OfferStatus
from offers.content_hash import content_hash_of
from offers.models import Product

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


def gate_state(messages: list[Message], *, now: datetime) -> GateState:
    customer_ids = sorted({m.customer_id for m in messages})
    policy = active_contact_policy()
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
