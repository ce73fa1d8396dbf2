"""The pre-send gate: each message re-decided, at lease time, by the engine's own rulebook.

Three steps, in order, for every message a channel is about to be handed:

1. **The words are still the approved ones** — the message's content row still has an
   approved approval for its version and hashes to what was approved
   (``content_not_approved`` otherwise: approval revoked, or the text altered).
2. **A fresh decision would still release it** — ``engine.sendtime.recheck`` applies the
   checks registered in ``engine/policy.py`` (the same functions ``decide`` wires: erasure,
   offer validity, audience and eligibility under the approved targeting, holdings,
   hardship protection, do-not-contact, opt-out, suppressions, decline cooldown, fatigue,
   campaign and frequency caps, consent, channel suppression, approved content, offer
   cooldown, presented elsewhere) over a fresh customer context and the current snapshot,
   then quiet hours (``defer``). A paused or ended campaign, or an offer taken out of it,
   cancels (``campaign_not_running``, ``offer_not_in_campaign``). The context leaves out
   the message's own decision and the messages still queued behind it: it never counts
   against itself, and of two equal messages the older goes and the newer is refused.
3. **There is an address** — deterministic first: the bank's own profile field (e-mail,
   phone), then deterministic identity links of the channel's contact type, newest first,
   then probabilistic links at or above ``IDENTITY_MIN_CONFIDENCE``, most confident
   first. The lease and its audit record say which source, link and confidence were used
   (never the address itself, which the ledger must not keep).

A **service action** whose channel cannot reach the customer (no address) is not lost:
it is rerouted to the next outbound channel (registry order) on which the customer has an
address and the same rulebook lets it out, and failing that it is owed
(``decisioning.models.OwedAction``) and shown on the customer's next inbound decision.
A sales offer without an address is cancelled ``no_contact``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from core.channels import CONTACT_FIELD, OUTBOUND_CHANNELS
from customers.choices import LinkMethod
from customers.models import Customer, IdentityLink
from decisioning import engine
from decisioning.decisions.context import history_scope, load_send_contexts
from decisioning.decisions.snapshots import LoadedSnapshot, current_snapshot
from decisioning.engine import reasons as r
from decisioning.engine.sendtime import CANCEL, DEFER, LEASE, SendVerdict, recheck
from decisioning.models import Message
from offers.choices import OfferKind
from offers.content_hash import content_hash_of

REROUTE = "reroute"  # a service action moved to another outbound channel
OWE = "owe"  # a service action no outbound channel reaches: shown on the next inbound visit
NO_CONTACT = r.NO_CONTACT

# Profile fields that hold a channel's address; others (device ids) live in identity links.
PROFILE_FIELDS = frozenset({"email", "phone"})


@dataclass(frozen=True, slots=True)
class Address:
    """Where a channel delivers, and which record it came from."""

    field: str  # the channel's contact field: phone | email | device_id
    value: str
    source: str  # "profile" (the bank's own record) or "identity_link"
    link_id: int | None = None
    method: str = LinkMethod.DETERMINISTIC
    confidence: float = 1.0

    def contact(self) -> dict[str, str]:
        return {self.field: self.value}

    def audit(self) -> dict[str, Any]:
        """What the ledger keeps of the address: its provenance, never its value."""
        return {
            "field": self.field,
            "source": self.source,
            "link_id": self.link_id,
            "method": self.method,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class GateState:
    """What the gate reads for one batch: the snapshot, approvals and identity links."""

    now: datetime
    loaded: LoadedSnapshot
    approved_contents: frozenset[int]
    links: dict[tuple[int, str], list[Address]]  # (customer, contact field) -> best first
    contexts: dict[Any, engine.CustomerContext]  # message id -> its send-time context


class GateVerdict(NamedTuple):
    action: str  # lease | cancel | defer | reroute | owe
    reason: str | None = None
    deliver_after: datetime | None = None
    address: Address | None = None
    channel: str | None = None  # reroute: the channel it moves to
    detail: dict[str, Any] = {}


def _link_order(link: IdentityLink) -> tuple[int, float, float, int]:
    deterministic = link.method == LinkMethod.DETERMINISTIC
    return (0 if deterministic else 1, -link.confidence, -link.created_at.timestamp(), -link.pk)


def gate_state(messages: list[Message], *, now: datetime) -> GateState:
    customer_ids = sorted({m.customer_id for m in messages})
    min_confidence = settings.IDENTITY_MIN_CONFIDENCE
    links: dict[tuple[int, str], list[Address]] = {}
    rows = IdentityLink.objects.filter(
        customer_id__in=customer_ids, type__in=sorted(set(CONTACT_FIELD.values()))
    ).only("pk", "customer_id", "type", "value", "method", "confidence", "created_at")
    for link in sorted(rows, key=_link_order):
        if link.method != LinkMethod.DETERMINISTIC and link.confidence < min_confidence:
            continue
        links.setdefault((link.customer_id, link.type), []).append(
            Address(
                field=link.type,
                value=link.value,
                source="identity_link",
                link_id=link.pk,
                method=link.method,
                confidence=link.confidence,
            )
        )
    loaded = current_snapshot(now)
    return GateState(
        now=now,
        loaded=loaded,
        approved_contents=_approved_content_ids(messages),
        links=links,
        contexts=send_contexts(messages, loaded, now),
    )


def send_contexts(
    messages: list[Message], loaded: LoadedSnapshot, now: datetime
) -> dict[Any, engine.CustomerContext]:
    """Each message's fresh customer context, for the whole batch in one query
    (``decisions.context.load_send_contexts``)."""
    return load_send_contexts(messages, now=now, **history_scope(loaded.engine))


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


def address_for(customer: Customer, channel: str, state: GateState) -> Address | None:
    """The best address of the customer for an outbound channel, or None."""
    contact_field = CONTACT_FIELD[channel]
    if contact_field in PROFILE_FIELDS:
        value = getattr(customer, contact_field)
        if value:
            return Address(field=contact_field, value=value, source="profile")
    found = state.links.get((customer.pk, contact_field))
    return found[0] if found else None


def _content_intact(message: Message, state: GateState) -> bool:
    return message.content_id in state.approved_contents and (
        content_hash_of(message.content, offer_code=message.offer.code)
        == message.content.content_hash
    )


def _recheck(message: Message, channel: str, state: GateState) -> SendVerdict:
    return recheck(
        state.loaded.engine,
        state.contexts[message.pk],
        campaign_id=message.campaign_id,
        offer_code=message.offer.code,
        channel=channel,
        now=state.now,
    )


def _fallback(message: Message, state: GateState, taken: frozenset[str]) -> GateVerdict:
    """A service action its channel cannot reach: the next reachable channel, or owed."""
    for channel in OUTBOUND_CHANNELS:
        if channel == message.channel or channel in taken:
            continue
        address = address_for(message.customer, channel, state)
        if address is None:
            continue
        verdict = _recheck(message, channel, state)
        if verdict.action in (LEASE, DEFER):
            return GateVerdict(
                REROUTE,
                NO_CONTACT,
                verdict.deliver_after,
                address,
                channel,
                {"from_channel": message.channel, "to_channel": channel},
            )
    return GateVerdict(OWE, NO_CONTACT, detail={"from_channel": message.channel})


def gate(message: Message, state: GateState, taken: frozenset[str] = frozenset()) -> GateVerdict:
    """Lease, cancel (with the reason), defer (until quiet hours end), reroute or owe.

    ``taken``: channels on which the message's decision already has this offer (a reroute
    never makes a second message there)."""
    if not _content_intact(message, state):
        return GateVerdict(CANCEL, r.CONTENT_NOT_APPROVED)
    verdict = _recheck(message, message.channel, state)
    if verdict.action == CANCEL:
        return GateVerdict(CANCEL, verdict.reason, detail=dict(verdict.detail))
    address = address_for(message.customer, message.channel, state)
    if address is None:
        if message.offer.kind == OfferKind.SERVICE:
            return _fallback(message, state, taken)
        return GateVerdict(CANCEL, NO_CONTACT)
    if verdict.action == DEFER:
        return GateVerdict(DEFER, verdict.reason, verdict.deliver_after, address)
    return GateVerdict(LEASE, address=address, detail={"exempt": list(verdict.exempt)})
