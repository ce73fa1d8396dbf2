"""Campaign and contact-policy reads, and the identity of a campaign's targeting."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet

from campaigns.models import Campaign, CampaignOffer, ContactPolicy
from campaigns.policy_defaults import FALLBACK_POLICY_VERSION, default_contact_policy
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.selectors import approvals_by_version, is_approved, latest_approval
from core.json import canonical_json

_CENTS = Decimal("0.01")


def _campaign_offers() -> Prefetch:
    return Prefetch(
        "campaign_offers",
        queryset=CampaignOffer.objects.select_related("offer__product").order_by("offer__code"),
    )


def campaign_list(*, status: str | None = None, kind: str | None = None) -> QuerySet[Campaign]:
    queryset = Campaign.objects.prefetch_related(_campaign_offers())
    if status:
        queryset = queryset.filter(status=status)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("-priority", "code")


def campaign_get(*, code: str) -> Campaign | None:
    return Campaign.objects.prefetch_related(_campaign_offers()).filter(code=code).first()


# --- targeting: what an approval of a campaign covers -------------------------------------


def targeting_payload(campaign: Campaign) -> dict[str, Any]:
    """Audience rule, offers with arms and weights, channels (in preference order) and
    control-group share: exactly what a targeting approval covers."""
    offers = sorted(
        (
            {
                "offer_id": link.offer_id,
                "offer_code": link.offer.code,
                "arm": link.arm,
                "weight": str(Decimal(link.weight).quantize(_CENTS)),
            }
            for link in campaign.campaign_offers.select_related("offer")
        ),
        key=lambda item: item["offer_id"],
    )
    return {
        "campaign_id": campaign.pk,
        "audience_rule": campaign.audience_rule or "",
        "offers": offers,
        "channels": list(campaign.channels or []),
        "control_group_pct": str(Decimal(campaign.control_group_pct).quantize(_CENTS)),
    }


def targeting_hash(campaign: Campaign) -> str:
    return hashlib.sha256(canonical_json(targeting_payload(campaign)).encode()).hexdigest()


def targeting_is_approved(campaign: Campaign) -> bool:
    """Is the campaign's current targeting version, with its current content, approved?"""
    return is_approved(
        ApprovalSubject.CAMPAIGN_TARGETING,
        campaign.pk,
        campaign.targeting_version,
        targeting_hash(campaign),
    )


@dataclass(frozen=True, slots=True)
class TargetingState:
    version: int
    content_hash: str
    approval: ApprovalRequest | None  # latest request for this version

    @property
    def status(self) -> str:
        """not_submitted, pending, approved, rejected, changes_requested or withdrawn."""
        if self.approval is None:
            return "not_submitted"
        if (
            self.approval.status == ApprovalStatus.APPROVED
            and self.approval.content_hash != self.content_hash
        ):
            return "stale"
        return self.approval.status

    @property
    def approved(self) -> bool:
        return self.status == ApprovalStatus.APPROVED


def targeting_state(campaign: Campaign) -> TargetingState:
    return TargetingState(
        version=campaign.targeting_version,
        content_hash=targeting_hash(campaign),
        approval=latest_approval(
            ApprovalSubject.CAMPAIGN_TARGETING, campaign.pk, campaign.targeting_version
        ),
    )


# --- contact policy ---------------------------------------------------------------------


def fallback_contact_policy() -> ContactPolicy:
    """The bank's default policy (``campaigns.policy_defaults``) as an unsaved row."""
    return ContactPolicy(version=FALLBACK_POLICY_VERSION, **default_contact_policy())


def active_contact_policy() -> ContactPolicy:
    """The contact policy in force: the active version, or the default policy
    (``fallback_contact_policy``, version 0) while none is active. Every reader of the
    policy asks here.

    A version becomes the active one only when a checker approves it
    (``campaigns.services.on_contact_policy_decided``); a pending version is never
    active, so it is never in force.
    """
    return ContactPolicy.objects.filter(is_active=True).first() or fallback_contact_policy()


def contact_policy_history() -> QuerySet[ContactPolicy]:
    return ContactPolicy.objects.order_by("-version")


def contact_policy_approval(policy: ContactPolicy) -> ApprovalRequest | None:
    """The latest approval request for one policy version."""
    return latest_approval(ApprovalSubject.CONTACT_POLICY, policy.pk, policy.version)


@dataclass(frozen=True, slots=True)
class PolicyVersionState:
    policy: ContactPolicy
    approval: ApprovalRequest | None  # the latest request for this version, if any

    @property
    def status(self) -> str:
        """active, pending, approved (superseded), rejected, changes_requested, withdrawn,
        or not_submitted (written before policy changes needed approval)."""
        if self.policy.is_active:
            return "active"
        return self.approval.status if self.approval else "not_submitted"


def contact_policy_versions(*, limit: int = 50) -> list[PolicyVersionState]:
    """The newest versions with their approval state, in two queries."""
    policies = list(ContactPolicy.objects.order_by("-version")[:limit])
    requests = approvals_by_version(ApprovalSubject.CONTACT_POLICY, [p.pk for p in policies])
    return [PolicyVersionState(p, requests.get((p.pk, p.version))) for p in policies]


def contact_policy_proposal(
    states: list[PolicyVersionState] | None = None,
) -> PolicyVersionState | None:
    """The version waiting for review to replace the active one, if any."""
    states = contact_policy_versions() if states is None else states
    active = next((s.policy.version for s in states if s.policy.is_active), 0)
    return next(
        (s for s in states if s.policy.version > active and s.status == ApprovalStatus.PENDING),
        None,
    )
