"""What a decision returns: released offers, suppressions and the full explanation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from .policy import Verdict, json_safe
from .scoring import ScoreFactors, likelihood_band
from .types import ContentSpec


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def factors_to_dict(factors: ScoreFactors) -> dict[str, Any]:
    data = {
        "propensity": factors.propensity,
        "value": factors.value,
        "lever": factors.lever,
        "context_weight": factors.context_weight,
        "source": factors.source,
        "model_version": factors.model_version,
    }
    if factors.context is not None:
        # what gave the context weight: "event loan_calculator_used", "page /loans/*"
        data["context"] = factors.context
    return data


@dataclass(frozen=True, slots=True)
class ReleasedOffer:
    rank: int
    offer_code: str
    product_code: str
    family: str
    kind: str
    campaign_id: int
    campaign_code: str
    channel: str
    content: ContentSpec
    score: float
    factors: ScoreFactors
    reasons: tuple[str, ...] = ()
    deliver_after: datetime | None = None  # set when deferred by quiet hours
    arm: str = "A"
    shadow: bool = False  # from a shadow campaign: recorded, never released
    held_out: bool = False  # the customer is in the campaign's control group

    @property
    def likelihood(self) -> str:
        return likelihood_band(self.factors.propensity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "offer_code": self.offer_code,
            "product_code": self.product_code,
            "family": self.family,
            "kind": self.kind,
            "campaign_id": self.campaign_id,
            "campaign": self.campaign_code,
            "channel": self.channel,
            "content_version": self.content.version,
            "content_hash": self.content.content_hash,
            "content": {
                "headline": self.content.headline,
                "body": self.content.body,
                "call_to_action": self.content.call_to_action,
                "disclosure": self.content.disclosure,
            },
            "score": self.score,
            "score_factors": factors_to_dict(self.factors),
            "likelihood": self.likelihood,
            "reasons": list(self.reasons),
            "deliver_after": _iso(self.deliver_after),
            "arm": self.arm,
            "shadow": self.shadow,
            "held_out": self.held_out,
        }


class Suppressed(NamedTuple):
    offer_code: str
    campaign_id: int
    campaign_code: str
    channel: str | None
    reason: str
    detail: Mapping[str, Any]
    shadow: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "offer_code": self.offer_code,
            "campaign_id": self.campaign_id,
            "campaign": self.campaign_code,
            "channel": self.channel,
            "reason": self.reason,
            "detail": json_safe(self.detail),
            "shadow": self.shadow,
        }


@dataclass(frozen=True, slots=True)
class Exemption:
    """A service action released although a marketing rule would apply (rule 7)."""

    offer_code: str
    campaign_id: int
    channel: str
    rule: str
    would_have_blocked: bool
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "offer_code": self.offer_code,
            "campaign_id": self.campaign_id,
            "channel": self.channel,
            "rule": self.rule,
            "would_have_blocked": self.would_have_blocked,
            "detail": json_safe(self.detail),
        }


class VerdictTable:
    """Serialises each distinct verdict once; traces refer to verdicts by index.

    Verdicts shared by many candidates (consent, caps, held families...) are stored once
    per decision, which keeps a 50-candidate explanation small.
    """

    __slots__ = ("index", "rows")

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.index: dict[int, int] = {}

    def refs(self, verdicts: tuple[Verdict, ...]) -> list[int]:
        out = []
        for verdict in verdicts:
            position = self.index.get(id(verdict))
            if position is None:
                position = self.index[id(verdict)] = len(self.rows)
                self.rows.append(verdict.to_dict())
            out.append(position)
        return out


class ChannelTrace(NamedTuple):
    channel: str
    verdicts: tuple[Verdict, ...]
    deliver_after: datetime | None = None

    @property
    def passed(self) -> bool:
        return all(verdict.passed for verdict in self.verdicts)

    def to_dict(self, table: VerdictTable) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "passed": self.passed,
            "verdicts": table.refs(self.verdicts),
            "deliver_after": _iso(self.deliver_after),
        }


class CandidateTrace(NamedTuple):
    """One (campaign, offer) considered, with every verdict up to the one that removed it."""

    offer_code: str
    product_code: str
    family: str
    kind: str
    campaign_id: int
    campaign_code: str
    arm: str
    shadow: bool
    verdicts: tuple[Verdict, ...]
    channels: tuple[ChannelTrace, ...]
    outcome: str  # "released", "control_group", or the reason code that removed it
    channel: str | None = None  # the channel chosen when it passed every rule
    factors: ScoreFactors | None = None
    score: float | None = None
    promoted: bool = False  # a service action promoted by a hardship event

    def to_dict(self, table: VerdictTable) -> dict[str, Any]:
        """``verdicts`` are indices into the decision's verdict table (``Decision.to_dict``)."""
        return {
            "offer_code": self.offer_code,
            "product_code": self.product_code,
            "family": self.family,
            "kind": self.kind,
            "campaign_id": self.campaign_id,
            "campaign": self.campaign_code,
            "arm": self.arm,
            "shadow": self.shadow,
            "outcome": self.outcome,
            "channel": self.channel,
            "score": self.score,
            "score_factors": factors_to_dict(self.factors) if self.factors else None,
            "promoted": self.promoted,
            "verdicts": table.refs(self.verdicts),
            "channels": [trace.to_dict(table) for trace in self.channels],
        }


@dataclass(frozen=True, slots=True)
class Decision:
    customer_id: int
    external_id: str
    mode: str
    channel: str | None
    event_type: str | None
    event_id: str | None
    decided_at: datetime
    offers: tuple[ReleasedOffer, ...]
    suppressed: tuple[Suppressed, ...]
    control_group: bool
    would_have_offered: tuple[ReleasedOffer, ...]
    shadow: tuple[ReleasedOffer, ...]
    candidates: tuple[CandidateTrace, ...]
    exemptions: tuple[Exemption, ...]
    outcome: str  # released | control_group | no_candidates | the furthest reason
    shadow_outcome: str | None  # the same for shadow campaigns, None without any
    hardship_events: tuple[str, ...]
    policy_version: int
    snapshot_version: str
    model_versions: Mapping[str, str]
    policy: Mapping[str, Any] = field(default_factory=dict)
    # Event and absence decisions: the campaign trigger's verdict on the event
    # (``triggers.TriggerVerdict.to_dict``), set by whoever read the event.
    trigger: Mapping[str, Any] | None = None
    owed_shown: tuple[str, ...] = ()  # owed service actions released here (their refs)

    @property
    def top_offer_code(self) -> str | None:
        return self.offers[0].offer_code if self.offers else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the decision ledger (``replay.compare`` reads it back).

        ``candidates[i]["verdicts"]`` (and each channel's) are indices into ``verdicts``,
        the decision's table of distinct verdicts: ``{"rule", "passed", "detail"}``.
        """
        table = VerdictTable()
        candidates = [candidate.to_dict(table) for candidate in self.candidates]
        data = {
            "customer_id": self.customer_id,
            "customer": self.external_id,
            "mode": self.mode,
            "channel": self.channel,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "decided_at": self.decided_at.isoformat(),
            "outcome": self.outcome,
            "shadow_outcome": self.shadow_outcome,
            "control_group": self.control_group,
            "offers": [offer.to_dict() for offer in self.offers],
            "suppressed": [item.to_dict() for item in self.suppressed],
            "would_have_offered": [offer.to_dict() for offer in self.would_have_offered],
            "shadow": [offer.to_dict() for offer in self.shadow],
            "exemptions": [item.to_dict() for item in self.exemptions],
            "hardship_events": list(self.hardship_events),
            "policy_version": self.policy_version,
            "snapshot_version": self.snapshot_version,
            "model_versions": dict(self.model_versions),
            "policy": dict(self.policy),
            "owed_shown": list(self.owed_shown),
            "candidates": candidates,
            "verdicts": table.rows,
        }
        if self.trigger is not None:
            data["trigger"] = json_safe(dict(self.trigger))
        return data
