"""Storing what the engine decided: the decision, its contacts, queued messages and the
audit records of inbound releases, in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from core.channels import OUTBOUND
from core.metrics import decision_stored
from customers.identity import Resolution
from customers.models import Customer, Event
from decisioning import engine
from decisioning.decisions.released import (
    released_audit_data,
    released_from_engine,
    stored_offer,
    stored_suppressed,
)
from decisioning.decisions.snapshots import LoadedSnapshot
from decisioning.models import Contact, Decision, Message, OwedAction
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.services import audit_many, build_record

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredDecision:
    decision: Decision
    messages: tuple[Message, ...]
    created: bool


def decision_store(
    *,
    loaded: LoadedSnapshot,
    result: engine.Decision,
    request: engine.DecisionRequest,
    customer: Customer,
    mode: str,
    channel: str = "",
    event: Event | None = None,
    campaign_id: int | None = None,
    run_id: int | None = None,
    requested_by: str,
    identity: Resolution | None = None,
    expires_at: datetime | None = None,
) -> StoredDecision:
    """Persist one decision with its contacts, queued messages and audit rows.

    Inbound offers are released now, so each gets its audit record here; outbound
    offers become queued messages, audited when a channel leases them.
    """
    now = result.decided_at
    explanation = result.to_compact()
    explanation["request"] = {
        "max_offers": request.max_offers,
        "campaign_ids": sorted(request.campaign_ids) if request.campaign_ids else None,
    }
    if identity is not None:
        explanation["identity"] = identity.as_dict()
    releases = [released_from_engine(offer) for offer in result.offers]
    decision = Decision(
        customer=customer,
        mode=mode,
        channel=channel,
        event=event,
        campaign_id=campaign_id,
        run_id=run_id,
        created_at=now,
        expires_at=expires_at,
        control_group=result.control_group,
        shadow=campaign_id is not None and loaded.engine.campaigns[campaign_id].shadow,
        offers_released=len(result.offers),
        top_offer_code=result.top_offer_code or "",
        outcome_reason=result.outcome,
        snapshot_version=result.snapshot_version,
        policy_version=result.policy_version,
        offers=[stored_offer(released) for released in releases],
        suppressed=[stored_suppressed(item) for item in result.suppressed],
        explanation=explanation,
        requested_by=requested_by,
    )
    messages: list[Message] = []
    try:
        with transaction.atomic():
            decision.save(force_insert=True)
            contacts: list[Contact] = []
            records = []
            for offer, released in zip(result.offers, releases, strict=True):
                offer_id = loaded.offer_ids[offer.offer_code]
                message = None
                if offer.channel in OUTBOUND:
                    message = Message(
                        decision=decision,
                        customer=customer,
                        campaign_id=offer.campaign_id,
                        offer_id=offer_id,
                        content_id=loaded.content_ids[
                            (offer.offer_code, offer.channel, offer.content.version)
                        ],
                        channel=offer.channel,
                        deliver_after=offer.deliver_after or now,
                        created_at=now,
                    )
                    messages.append(message)
                else:
                    records.append(
                        build_record(
                            kind=AuditKind.OFFER_RELEASED,
                            action="inbound_offer_released",
                            actor=requested_by,
                            object_type="decision",
                            object_id=decision.pk,
                            object_repr=offer.offer_code,
                            customer_ref=customer.pseudonym,
                            channel=offer.channel,
                            data=released_audit_data(
                                released,
                                decision_id=decision.pk,
                                event=event,
                                policy_version=result.policy_version,
                                snapshot_version=result.snapshot_version,
                            ),
                            at=now,
                        )
                    )
                contacts.append(
                    Contact(
                        customer=customer,
                        decision=decision,
                        message=message,
                        campaign_id=offer.campaign_id,
                        offer_id=offer_id,
                        product_code=offer.product_code,
                        family=offer.family,
                        kind=offer.kind,
                        channel=offer.channel,
                        released_at=now,
                    )
                )
            Message.objects.bulk_create(messages)
            Contact.objects.bulk_create(contacts)
            for exemption in result.exemptions:
                records.append(
                    build_record(
                        kind=AuditKind.EXEMPTION,
                        action="service_exemption",
                        actor=requested_by,
                        object_type="decision",
                        object_id=decision.pk,
                        object_repr=exemption.offer_code,
                        customer_ref=customer.pseudonym,
                        channel=exemption.channel,
                        data=exemption.to_dict(),
                        at=now,
                    )
                )
            if result.owed_shown:
                records += _owed_shown(result, decision, customer, requested_by)
            audit_many(records)
    except IntegrityError:
        # The same signal decided concurrently (retry, duplicate delivery): keep theirs.
        existing = _existing_decision(
            event=event, campaign_id=campaign_id, run_id=run_id, customer=customer
        )
        if existing is None:
            raise
        return StoredDecision(existing, tuple(existing.messages.all()), created=False)
    transaction.on_commit(
        lambda: decision_stored(
            mode=mode, outcome=result.outcome, released=result.offers, suppressed=result.suppressed
        )
    )
    return StoredDecision(decision, tuple(messages), created=True)


def _owed_shown(
    result: engine.Decision, decision: Decision, customer: Customer, actor: str
) -> list[AuditRecord]:
    """Mark the owed service actions this inbound decision released as shown."""
    now = result.decided_at
    owed = list(
        OwedAction.objects.filter(pk__in=result.owed_shown, shown_at__isnull=True).values_list(
            "pk", "message_id", "offer__code"
        )
    )
    OwedAction.objects.filter(pk__in=[pk for pk, _, _ in owed]).update(
        shown_at=now, shown_decision=decision
    )
    return [
        build_record(
            kind=AuditKind.MESSAGE,
            action="owed_action_shown",
            actor=actor,
            object_type="decision",
            object_id=decision.pk,
            object_repr=offer_code,
            customer_ref=customer.pseudonym,
            channel=result.channel or "",
            data={
                "owed_action_id": pk,
                "message_id": str(message_id),
                "decision_id": str(decision.pk),
                "offer_code": offer_code,
            },
            at=now,
        )
        for pk, message_id, offer_code in owed
    ]


def _existing_decision(*, event, campaign_id, run_id, customer) -> Decision | None:
    if event is not None:
        return Decision.objects.filter(event=event, campaign_id=campaign_id).first()
    if run_id is not None:
        return Decision.objects.filter(run_id=run_id, customer=customer).first()
    return None
