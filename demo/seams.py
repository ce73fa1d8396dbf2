"""Demo steps that show the promise kept at the seams: send time and erasure.

``lease_queues`` plays the push, SMS and e-mail gateways: each leases what is due through
the pre-send gate (the engine's own rulebook over a fresh context) and acknowledges
delivery with the lease id it was given. ``forget_a_customer`` plays a compliance
officer answering a right-to-be-forgotten request, then checks what is left.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from django.utils import timezone

from core.channels import OUTBOUND
from core.exceptions import ApplicationError
from customers.models import Customer
from decisioning.choices import MessageStatus
from decisioning.models import OwedAction
from ledger.models import AuditRecord

if TYPE_CHECKING:
    from demo.pipeline import DemoContext

GATEWAY_ACTOR = "system:demo-{}-gateway"
COMPLIANCE_ACTOR = "system:demo-compliance"
# Enough rounds for a rerouted service action to be leased from its new queue.
LEASE_ROUNDS = 3


def lease_queues(ctx: DemoContext) -> None:
    from decisioning.outbound.ack import message_ack
    from decisioning.outbound.lease import MAX_LEASE, messages_lease

    handed: Counter[str] = Counter()
    cancelled: Counter[str] = Counter()
    deferred = rerouted = 0
    for _ in range(LEASE_ROUNDS):
        for channel in sorted(OUTBOUND):
            actor = GATEWAY_ACTOR.format(channel)
            while True:
                result = messages_lease(
                    actor=actor, channel=channel, max_messages=MAX_LEASE, lease_seconds=300
                )
                for leased in result.leased:
                    message_ack(
                        actor=actor,
                        message_id=leased.message.pk,
                        status=MessageStatus.DELIVERED,
                        lease_id=leased.message.lease_id,
                    )
                handed[channel] += len(result.leased)
                cancelled.update(result.cancelled)
                deferred += result.deferred
                rerouted += result.rerouted
                if not (result.leased or result.cancelled or result.rerouted):
                    break
    owed = cancelled.pop("owed_inbound", 0)
    ctx.say(f"  {sum(handed.values()):,} messages handed out and acknowledged")
    ctx.report(
        "Send time: every message re-decided by the engine's rulebook when a channel leases it",
        [
            f"handed out: {_parts(handed)}; deferred to the end of quiet hours: {deferred:,}",
            f"refused at send time: {_parts(cancelled)}",
            f"service actions with no address on their channel: {rerouted:,} rerouted to a "
            f"channel that reaches the customer, {owed:,} owed to their next inbound visit",
        ],
    )


def owed_line() -> str:
    shown = OwedAction.objects.filter(shown_at__isnull=False).count()
    waiting = OwedAction.objects.filter(shown_at__isnull=True, expires_at__gt=timezone.now())
    return (
        f"owed service actions shown on an inbound visit: {shown:,} ({waiting.count():,} waiting)"
    )


def _parts(counts: Counter[str]) -> str:
    return ", ".join(f"{key} {n:,}" for key, n in counts.most_common()) or "none"


def forget_a_customer(ctx: DemoContext) -> None:
    from decisioning.decisions.inbound import decide_inbound
    from decisioning.rights.consent import consent_change
    from decisioning.rights.erasure import customer_erase
    from decisioning.signals.ingest import event_ingest

    person = (
        Customer.objects.filter(erased_at__isnull=True)
        .exclude(email="")
        .exclude(phone="")
        .order_by("pk")
        .first()
    )
    if person is None:
        return
    former = {"e-mail": person.email, "phone": person.phone, "name": person.last_name}
    now = timezone.now()
    # A channel sends free text with personal data in it, as SMS gateways do.
    consent_change(
        actor=GATEWAY_ACTOR.format("sms"),
        customer=person,
        channel="sms",
        status="revoked",
        source=f"STOP from {person.phone}",
        captured_at=now,
    )
    customer_erase(actor=COMPLIANCE_ACTOR, customer=person)
    person.refresh_from_db()

    records = list(
        AuditRecord.objects.filter(customer_ref=person.pseudonym).values_list("data", flat=True)
    )
    text = "\n".join(json.dumps(data, default=str) for data in records)
    leaks = [label for label, value in former.items() if value and value in text]
    try:
        decide_inbound(actor=COMPLIANCE_ACTOR, customer=person, channel="web")
        addressable = "decided for (wrong)"
    except ApplicationError as refused:
        addressable = f"refused ({refused.message})"
    ingested = event_ingest(
        actor=GATEWAY_ACTOR.format("email"),
        event_id=f"DEMO-ERASED-{person.pseudonym}",
        type="page_view",
        occurred_at=now,
        customer={"identifier": {"type": "email", "value": former["e-mail"]}},
        payload={"page": "/loans"},
    )
    event = ingested.event
    kept = json.dumps(event.customer_ref)
    ctx.report(
        f"Right to be forgotten: customer {person.pseudonym} erased",
        [
            f"ledger records about them: {len(records):,}; former e-mail, phone or name in "
            f"any of them: {', '.join(leaks) if leaks else 'none'}",
            f"a decision for them by their erased reference: {addressable}",
            f"a new event naming their former e-mail: {event.status}, stored "
            f"{'WITH' if former['e-mail'] in kept else 'without'} the e-mail ({kept})",
        ],
    )
