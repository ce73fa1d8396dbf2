"""Erasure's reach into decisions: stored decisions keep no personal data of an erased customer."""

from __future__ import annotations

from customers.models import Customer
from decisioning.decisions.explanation import stored_explanation
from decisioning.models import Decision

# --- erasure: what the decision ledger keeps of an erased customer -------------------------

REDACTED_OFFER_FIELDS = (
    "rank",
    "offer_code",
    "product_code",
    "campaign",
    "channel",
    "content_version",
)


def decisions_redact_for_customer(*, customer: Customer) -> int:
    """Strip personal data from an erased customer's decisions.

    Explanations hold the bank's customer id, the profile values each rule saw and
    scores derived from the profile; what stays is what is not about the person: which
    offers were released where, each candidate's outcome, and the versions in force.
    """
    redacted = []
    decisions = Decision.objects.filter(customer=customer).only(
        "id", "mode", "snapshot_version", "policy_version", "explanation", "offers"
    )
    for decision in decisions:
        explanation = stored_explanation(decision)
        decision.explanation = {
            "redacted": "erasure",
            "mode": explanation.get("mode"),
            "outcome": explanation.get("outcome"),
            "control_group": explanation.get("control_group"),
            "policy_version": explanation.get("policy_version"),
            "snapshot_version": explanation.get("snapshot_version"),
            "model_versions": explanation.get("model_versions", {}),
            "candidates": [
                {key: item.get(key) for key in ("offer_code", "campaign", "outcome")}
                for item in explanation.get("candidates", ())
            ],
        }
        decision.offers = [
            {key: offer.get(key) for key in REDACTED_OFFER_FIELDS}
            for offer in decision.offers or ()
        ]
        redacted.append(decision)
    Decision.objects.bulk_update(redacted, ["explanation", "offers"], batch_size=500)
    return len(redacted)
