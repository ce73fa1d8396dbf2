"""Banker and agent overrides: a person replaced or declined the recommendation.

The agent's ``reason`` is free text about the customer in front of them ("Mr Silva
already has a card with another bank"): it is stored on the Override (which erasure
blanks) and the ledger keeps only its class and keyed hash (``ledger.redaction``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.actors import actor_name
from core.exceptions import Unprocessable, ValidationFailed
from customers.models import Customer
from decisioning.choices import OverrideAction
from decisioning.models import Decision, Override
from ledger.choices import AuditKind
from ledger.redaction import free_text, origin_of
from ledger.services import audit
from offers.models import Offer

# --- overrides -------------------------------------------------------------------------


def override_record(
    *,
    actor: Any,
    decision: Decision,
    agent_id: str,
    action: str,
    reason: str,
    offer_code: str | None = None,
) -> Override:
    """A banker or agent overrode the recommendation: replaced it with another offer, or
    suppressed it. Recorded and audited."""
    errors: dict[str, list[str]] = {}
    if action not in OverrideAction.values:
        errors["action"] = [f"must be one of {', '.join(OverrideAction.values)}"]
    if not (agent_id or "").strip():
        errors["agent_id"] = ["is required"]
    if not (reason or "").strip():
        errors["reason"] = ["is required"]
    if errors:
        raise ValidationFailed("The override is not valid.", fields=errors)
    offer = None
    if offer_code:
        offer = Offer.objects.filter(code=offer_code).first()
        if offer is None:
            raise Unprocessable("Unknown offer code.", fields={"offer_code": ["unknown offer"]})
    if action == OverrideAction.REPLACE and offer is None:
        raise Unprocessable(
            "A replacement names the offer made instead.",
            fields={"offer_code": ["is required to replace"]},
        )
    if action == OverrideAction.SUPPRESS and offer is not None:
        offered = {item.get("offer_code") for item in decision.offers or ()}
        if offer.code not in offered:
            raise Unprocessable(
                "Only an offer the decision made can be suppressed.",
                fields={"offer_code": ["was not offered in this decision"]},
            )
    with transaction.atomic():
        override = Override(
            decision=decision,
            agent_id=agent_id.strip(),
            action=action,
            offer=offer,
            reason=reason.strip(),
            actor=actor_name(actor)[:150],
        )
        override.full_clean(exclude=["decision", "offer"])
        override.save(force_insert=True)
        audit(
            kind=AuditKind.OVERRIDE,
            action=f"override_{action}",
            actor=actor,
            object_type="decision",
            object_id=decision.pk,
            object_repr=offer.code if offer else (decision.top_offer_code or ""),
            customer_ref=Customer.objects.values_list("pseudonym", flat=True).get(
                pk=decision.customer_id
            ),
            channel=decision.channel,
            data={
                "override_id": override.pk,
                "decision_id": str(decision.pk),
                "agent_id": override.agent_id,
                "action": action,
                "offer_code": offer.code if offer else None,
                "recommended": [item.get("offer_code") for item in decision.offers or ()],
                "reason": free_text(override.reason, kind=origin_of(actor)),
            },
        )
    return override
