"""Replay: what changed between a stored decision and the same request decided again.

``compare(stored, new)`` takes the stored ``Decision.to_dict()`` and a fresh ``Decision``
(the same customer and request under today's snapshot) and says which offers were added
or removed and why (the rule that now removes a dropped offer, the score that now wins),
which ranks, channels and suppression reasons moved, and which versions changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .decision import Decision


@dataclass(frozen=True, slots=True)
class OfferChange:
    offer_code: str
    change: str  # added | removed | rank | channel
    before: Any
    after: Any
    why: str


@dataclass(frozen=True, slots=True)
class ReasonChange:
    offer_code: str
    campaign: str
    before: str | None  # None: was released (or not a candidate)
    after: str | None


@dataclass(frozen=True, slots=True)
class ReplayDiff:
    offers: tuple[OfferChange, ...]
    reasons: tuple[ReasonChange, ...]
    versions: Mapping[str, tuple[Any, Any]]  # name -> (before, after)
    outcome: tuple[str, str] | None  # (before, after) when it changed
    control_group: tuple[bool, bool] | None
    summary: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.offers or self.reasons or self.outcome or self.control_group)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "offers": [vars_of(change) for change in self.offers],
            "reasons": [vars_of(change) for change in self.reasons],
            "versions": {name: list(pair) for name, pair in self.versions.items()},
            "outcome": list(self.outcome) if self.outcome else None,
            "control_group": list(self.control_group) if self.control_group else None,
            "summary": list(self.summary),
        }


def vars_of(item: OfferChange | ReasonChange) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


def _candidate_reasons(data: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (item["campaign"], item["offer_code"]): item["outcome"]
        for item in data.get("candidates", ())
        if not item.get("shadow")
    }


def compare(stored: Mapping[str, Any], new: Decision) -> ReplayDiff:
    after = new.to_dict()
    old_offers = {o["offer_code"]: o for o in stored.get("offers", ())}
    new_offers = {o["offer_code"]: o for o in after["offers"]}
    new_reasons = _candidate_reasons(after)
    old_reasons = _candidate_reasons(stored)

    changes: list[OfferChange] = []
    for code, offer in old_offers.items():
        if code not in new_offers:
            reason = new_reasons.get((offer["campaign"], code), "no longer a candidate")
            changes.append(OfferChange(code, "removed", offer["rank"], None, f"now: {reason}"))
    for code, offer in new_offers.items():
        if code not in old_offers:
            reason = old_reasons.get((offer["campaign"], code), "not a candidate")
            changes.append(OfferChange(code, "added", None, offer["rank"], f"before: {reason}"))
            continue
        before = old_offers[code]
        if before["rank"] != offer["rank"]:
            why = f"score {before.get('score')} -> {offer.get('score')}"
            changes.append(OfferChange(code, "rank", before["rank"], offer["rank"], why))
        if before["channel"] != offer["channel"]:
            changes.append(
                OfferChange(
                    code, "channel", before["channel"], offer["channel"], "channel rules changed"
                )
            )

    reason_changes = [
        ReasonChange(
            code, campaign, old_reasons.get((campaign, code)), new_reasons.get((campaign, code))
        )
        for campaign, code in sorted(set(old_reasons) | set(new_reasons))
        if old_reasons.get((campaign, code)) != new_reasons.get((campaign, code))
    ]

    versions: dict[str, tuple[Any, Any]] = {}
    for name in ("policy_version", "snapshot_version"):
        if stored.get(name) != after[name]:
            versions[name] = (stored.get(name), after[name])
    old_models, new_models = stored.get("model_versions", {}), after["model_versions"]
    for product in sorted(set(old_models) | set(new_models)):
        if old_models.get(product) != new_models.get(product):
            versions[f"model:{product}"] = (old_models.get(product), new_models.get(product))

    outcome = (
        (stored.get("outcome"), after["outcome"])
        if stored.get("outcome") != after["outcome"]
        else None
    )
    control = (
        (bool(stored.get("control_group")), new.control_group)
        if bool(stored.get("control_group")) != new.control_group
        else None
    )
    summary = [f"{c.offer_code}: {c.change} ({c.before} -> {c.after}); {c.why}" for c in changes]
    summary += [f"{c.offer_code} in {c.campaign}: {c.before} -> {c.after}" for c in reason_changes]
    summary += [f"{name}: {pair[0]} -> {pair[1]}" for name, pair in versions.items()]
    if outcome:
        summary.append(f"outcome: {outcome[0]} -> {outcome[1]}")
    if control:
        summary.append(f"control group: {control[0]} -> {control[1]}")
    return ReplayDiff(
        offers=tuple(changes),
        reasons=tuple(reason_changes),
        versions=versions,
        outcome=outcome,  # type: ignore[arg-type]
        control_group=control,
        summary=tuple(summary),
    )
