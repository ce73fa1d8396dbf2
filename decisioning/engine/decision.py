"""What a decision returns: released offers, suppressions and the full explanation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from .policy import Verdict, json_safe
from .reasons import INELIGIBLE
from .scoring import ScoreFactors, combine, likelihood_band
from .types import ContentSpec


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def factor_fields(kind: type = ScoreFactors) -> tuple[str, ...]:
    """The field names of the score factors, in declaration order, read from the type
    itself (a NamedTuple's ``_fields`` or a dataclass's fields): a field added to
    ``ScoreFactors`` is serialised, stored and expanded with no change here."""
    if dataclasses.is_dataclass(kind):
        return tuple(item.name for item in dataclasses.fields(kind))
    return tuple(kind._fields)  # type: ignore[attr-defined]


# Factors kept even when None: readers of the ledger look for the model's version.
_KEPT_WHEN_NONE = frozenset({"model_version"})


def _field_defaults(kind: type) -> dict[str, Any]:
    if dataclasses.is_dataclass(kind):
        return {
            item.name: item.default
            for item in dataclasses.fields(kind)
            if item.default is not dataclasses.MISSING
        }
    return dict(getattr(kind, "_field_defaults", {}))


def factors_to_dict(factors: ScoreFactors) -> dict[str, Any]:
    """Every field of the score factors, by name (``factor_fields``); an optional field
    left at ``None`` (``context`` at weight 1.0) is omitted, as it always was."""
    kind = type(factors)
    optional = {name for name, default in _field_defaults(kind).items() if default is None}
    data: dict[str, Any] = {}
    for name in factor_fields(kind):
        value = getattr(factors, name)
        if value is None and name in optional and name not in _KEPT_WHEN_NONE:
            continue
        data[name] = json_safe(value)
    return data


def factors_row(factors: ScoreFactors) -> list[Any]:
    """The factors' values in ``factor_fields`` order (the compact form's rows)."""
    return [json_safe(getattr(factors, name)) for name in factor_fields(type(factors))]


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

    def to_compact(
        self, eligibility_refs: Mapping[str, tuple[int, str]] | None = None
    ) -> dict[str, Any]:
        """The stored form (``to_compact``); ``expand_compact`` gives ``to_dict()`` back."""
        return to_compact(self, eligibility_refs)


# --- the compact form: what is stored, and the full trace expanded from it ----------------
#
# A stored decision keeps what was decided and the values each rule saw, once each:
# per candidate its codes, outcome, chosen channel, score factors (a row in
# ``factor_fields`` order) and verdict ids into the decision's de-duplicated verdict
# table (rows ``[rule, passed, detail]``, ``1`` appended when a service action was
# exempt); the released, held-out and shadow offers as rows without their words; the
# versions. What the catalog knows (product, family, kind, the approved words and their
# hash, the contact policy of a version, the eligibility rule of an approved targeting
# version) is not repeated in every decision: the expansion takes it from
# ``ExplainCatalog``. An ``ineligible`` verdict whose rule text is that of the offer's
# approved targeting version keeps ``{"targeting": [offer_code, version], "values": ...}``
# instead of the text (``eligibility_refs``; the values the rule saw stay). The suppressed list and the exemptions
# are functions of the candidates and are derived. ``expand_compact`` gives back
# exactly what ``Decision.to_dict`` gave when it was decided.

COMPACT_FORMAT = 2


class ExplainCatalog(Protocol):
    """The catalog facts an expansion needs (``decisioning.decisions.explanation``)."""

    def offer(self, code: str) -> tuple[str, str, str]:
        """``(product_code, family, kind)`` of an offer."""
        ...

    def content(self, offer_code: str, channel: str, version: int) -> ContentSpec | None: ...

    def policy(self, version: int | None) -> Mapping[str, Any]: ...

    def eligibility(self, offer_code: str, version: int) -> str | None:
        """The eligibility rule text (``Rule.to_text``) of an offer's targeting version,
        ``None`` when the catalog has no such version."""
        ...


class CompactTable:
    """The compact verdict table: each distinct verdict once, as a row."""

    __slots__ = ("index", "kept", "rows")

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self.index: dict[int, int] = {}
        self.kept: list[Verdict] = []  # keeps each verdict alive while ids are keys

    def ref(self, verdict: Verdict) -> int:
        position = self.index.get(id(verdict))
        if position is None:
            position = self.index[id(verdict)] = len(self.rows)
            self.kept.append(verdict)
            row = [verdict.rule, verdict.passed, json_safe(verdict.detail)]
            if verdict.exempt:
                row.append(1)
            self.rows.append(row)
        return position

    def refs(self, verdicts: tuple[Verdict, ...]) -> list[int]:
        return [self.ref(verdict) for verdict in verdicts]


def _offer_row(offer: ReleasedOffer) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rank": offer.rank,
        "offer_code": offer.offer_code,
        "campaign_id": offer.campaign_id,
        "campaign": offer.campaign_code,
        "channel": offer.channel,
        "content_version": offer.content.version,
        "score": offer.score,
        "score_factors": factors_to_dict(offer.factors),
        "reasons": list(offer.reasons),
        "deliver_after": _iso(offer.deliver_after),
        "arm": offer.arm,
    }
    if offer.shadow:
        row["shadow"] = True
    if offer.held_out:
        row["held_out"] = True
    return row


def _failed_verdict(
    candidate: CandidateTrace, item: Suppressed, outside: dict[tuple[str, int], Verdict]
) -> Verdict:
    """The verdict that removed ``candidate`` (``item`` is its suppression): the one in
    its trace, or the arbitration's / control group's, which no trace holds (one verdict
    per reason and detail, kept in ``outside``, so candidates removed alike share it)."""
    for verdict in candidate.verdicts:
        if verdict.detail is item.detail and verdict.rule == item.reason:
            return verdict
    for trace in candidate.channels:
        for verdict in trace.verdicts:
            if verdict.detail is item.detail and verdict.rule == item.reason:
                return verdict
    key = (item.reason, id(item.detail))
    if key not in outside:
        outside[key] = Verdict(item.reason, False, item.detail)
    return outside[key]


def _refer_to_targeting(
    decision: Decision,
    candidates: list[dict[str, Any]],
    rows: list[list[Any]],
    refs: Mapping[str, tuple[int, str]],
) -> None:
    """Each ``ineligible`` row whose rule text is that of an approved targeting version of
    an offer it was evaluated for names that version instead of repeating the text. A
    row is shared by every offer whose rule has that text; the first such offer (in
    candidate order) is named — the text is the same."""
    done: set[int] = set()
    for candidate, row in zip(decision.candidates, candidates, strict=True):
        ref = refs.get(candidate.offer_code)
        if ref is None:
            continue
        version, text = ref
        for position in (*row["v"], *((row["x"],) if "x" in row else ())):
            if position in done:
                continue
            verdict = rows[position]
            detail = verdict[2]
            if (
                verdict[0] == INELIGIBLE
                and isinstance(detail, dict)
                and detail.get("rule") == text
                and "targeting" not in detail
            ):
                rest = {key: value for key, value in detail.items() if key != "rule"}
                verdict[2] = {"targeting": [candidate.offer_code, version], **rest}
                done.add(position)


def to_compact(
    decision: Decision, eligibility_refs: Mapping[str, tuple[int, str]] | None = None
) -> dict[str, Any]:
    """The stored form of ``decision`` (see above); ``expand_compact`` reverses it.

    ``eligibility_refs``: offer code -> (approved targeting version, its rule's text as
    ``Rule.to_text`` gives it), for the offers whose ``ineligible`` verdicts may name the
    version instead of the text (the caller vouches that the catalog's ``eligibility``
    gives that text back for that version)."""
    table = CompactTable()
    candidates: list[dict[str, Any]] = []
    for candidate in decision.candidates:
        row: dict[str, Any] = {
            "offer_code": candidate.offer_code,
            "campaign": candidate.campaign_code,
            "outcome": candidate.outcome,
            "k": [
                candidate.campaign_id,
                candidate.arm,
                int(candidate.shadow),
                int(candidate.promoted),
                candidate.channel,
            ],
            "v": table.refs(candidate.verdicts),
        }
        if candidate.factors is not None:
            row["f"] = factors_row(candidate.factors)
        if candidate.channels:
            row["ch"] = [
                [trace.channel, table.refs(trace.verdicts), _iso(trace.deliver_after)]
                for trace in candidate.channels
            ]
        candidates.append(row)
    # The verdicts that removed a candidate outside its trace (arbitration, control group)
    # go after every trace's, so the trace's ids are those ``to_dict`` gives.
    suppressed = iter(decision.suppressed)
    outside: dict[tuple[str, int], Verdict] = {}
    for candidate, row in zip(decision.candidates, candidates, strict=True):
        if candidate.outcome != RELEASED_OUTCOME and not candidate.shadow:
            row["x"] = table.ref(_failed_verdict(candidate, next(suppressed), outside))
    if eligibility_refs:
        _refer_to_targeting(decision, candidates, table.rows, eligibility_refs)
    data: dict[str, Any] = {
        "format": COMPACT_FORMAT,
        "mode": decision.mode,
        "channel": decision.channel,
        "event_type": decision.event_type,
        "event_id": decision.event_id,
        "decided_at": decision.decided_at.isoformat(),
        "outcome": decision.outcome,
        "shadow_outcome": decision.shadow_outcome,
        "control_group": decision.control_group,
        "policy_version": decision.policy_version,
        "snapshot_version": decision.snapshot_version,
        "model_versions": dict(decision.model_versions),
        "hardship_events": list(decision.hardship_events),
        "owed_shown": list(decision.owed_shown),
        "factor_fields": list(factor_fields()),
        "offers": [_offer_row(offer) for offer in decision.offers],
        "would_have_offered": [_offer_row(offer) for offer in decision.would_have_offered],
        "shadow": [_offer_row(offer) for offer in decision.shadow],
        "candidates": candidates,
        "verdicts": table.rows,
    }
    if decision.trigger is not None:
        data["trigger"] = json_safe(dict(decision.trigger))
    return data


RELEASED_OUTCOME = "released"


def _verdict_dict(row: list[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"rule": row[0], "passed": row[1], "detail": row[2]}
    if len(row) > 3 and row[3]:
        data["exempt"] = True
    return data


def _content_dict(content: ContentSpec | None) -> tuple[str | None, dict[str, str] | None]:
    if content is None:
        return None, None
    return content.content_hash, {
        "headline": content.headline,
        "body": content.body,
        "call_to_action": content.call_to_action,
        "disclosure": content.disclosure,
    }


def _expand_offer(row: Mapping[str, Any], catalog: ExplainCatalog) -> dict[str, Any]:
    product_code, family, kind = catalog.offer(row["offer_code"])
    content_hash, words = _content_dict(
        catalog.content(row["offer_code"], row["channel"], row["content_version"])
    )
    factors = row["score_factors"]
    return {
        "rank": row["rank"],
        "offer_code": row["offer_code"],
        "product_code": product_code,
        "family": family,
        "kind": kind,
        "campaign_id": row["campaign_id"],
        "campaign": row["campaign"],
        "channel": row["channel"],
        "content_version": row["content_version"],
        "content_hash": content_hash,
        "content": words,
        "score": row["score"],
        "score_factors": dict(factors),
        "likelihood": likelihood_band(factors["propensity"]),
        "reasons": list(row["reasons"]),
        "deliver_after": row["deliver_after"],
        "arm": row["arm"],
        "shadow": bool(row.get("shadow")),
        "held_out": bool(row.get("held_out")),
    }


def _factors_dict(names: list[str], values: list[Any]) -> dict[str, Any]:
    """A factors row back as ``factors_to_dict`` gives it."""
    optional = {n for n, d in _field_defaults(ScoreFactors).items() if d is None}
    return {
        name: value
        for name, value in zip(names, values, strict=True)
        if value is not None or name not in optional or name in _KEPT_WHEN_NONE
    }


def _expanded_row(row: list[Any], catalog: ExplainCatalog) -> list[Any]:
    """A verdict row with a targeting version's rule text put back (``_refer_to_targeting``);
    a reference the catalog cannot resolve is left as stored, so it still says which
    version it was."""
    detail = row[2]
    if row[0] != INELIGIBLE or not isinstance(detail, dict) or "targeting" not in detail:
        return row
    offer_code, version = detail["targeting"]
    text = catalog.eligibility(offer_code, version)
    if text is None:
        return row
    rest = {key: value for key, value in detail.items() if key != "targeting"}
    return [row[0], row[1], {"rule": text, **rest}, *row[3:]]


def _trace_refs(row: Mapping[str, Any]) -> Iterable[int]:
    yield from row["v"]
    for _, refs, _ in row.get("ch", ()):
        yield from refs


def _score(factors: Mapping[str, Any]) -> float:
    return combine(
        factors["propensity"], factors["value"], factors["lever"], factors["context_weight"]
    )


def expand_compact(
    data: Mapping[str, Any], *, customer_id: int, external_id: str, catalog: ExplainCatalog
) -> dict[str, Any]:
    """The full explanation (``Decision.to_dict``) of a decision stored by ``to_compact``."""
    verdicts = [_expanded_row(row, catalog) for row in data["verdicts"]]
    names = data["factor_fields"]
    candidates: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    released_refs: dict[tuple[int, str], list[int]] = {}
    for row in data["candidates"]:
        campaign_id, arm, shadow, promoted, channel = row["k"]
        product_code, family, kind = catalog.offer(row["offer_code"])
        factors = _factors_dict(names, row["f"]) if "f" in row else None
        channels = [
            {
                "channel": name,
                "passed": all(verdicts[ref][1] for ref in refs),
                "verdicts": refs,
                "deliver_after": deliver_after,
            }
            for name, refs, deliver_after in row.get("ch", ())
        ]
        candidates.append(
            {
                "offer_code": row["offer_code"],
                "product_code": product_code,
                "family": family,
                "kind": kind,
                "campaign_id": campaign_id,
                "campaign": row["campaign"],
                "arm": arm,
                "shadow": bool(shadow),
                "outcome": row["outcome"],
                "channel": channel,
                "score": _score(factors) if factors is not None else None,
                "score_factors": factors,
                "promoted": bool(promoted),
                "verdicts": list(row["v"]),
                "channels": channels,
            }
        )
        if "x" in row:
            rule, _, detail, *_ = verdicts[row["x"]]
            suppressed.append(
                {
                    "offer_code": row["offer_code"],
                    "campaign_id": campaign_id,
                    "campaign": row["campaign"],
                    "channel": detail.get("channel", channel),
                    "reason": rule,
                    "detail": detail,
                    "shadow": False,
                }
            )
        if row["outcome"] == RELEASED_OUTCOME and not shadow:
            chosen: list[int] = next(
                (refs for name, refs, _ in row.get("ch", ()) if name == channel), []
            )
            released_refs[(campaign_id, row["offer_code"])] = [*row["v"], *chosen]
    # ids 0 .. traced - 1 are the traces' (``to_compact``); later ones only removed a candidate
    traced = 1 + max(
        (ref for row in data["candidates"] for ref in _trace_refs(row)),
        default=-1,
    )
    exemptions = []
    for offer in data["offers"]:
        for ref in released_refs.get((offer["campaign_id"], offer["offer_code"]), ()):
            verdict = verdicts[ref]
            if len(verdict) > 3 and verdict[3]:
                exemptions.append(
                    {
                        "offer_code": offer["offer_code"],
                        "campaign_id": offer["campaign_id"],
                        "channel": offer["channel"],
                        "rule": verdict[0],
                        "would_have_blocked": bool(verdict[2].get("would_have_blocked")),
                        "detail": verdict[2],
                    }
                )
    expanded: dict[str, Any] = {
        "customer_id": customer_id,
        "customer": external_id,
        "mode": data["mode"],
        "channel": data["channel"],
        "event_type": data["event_type"],
        "event_id": data["event_id"],
        "decided_at": data["decided_at"],
        "outcome": data["outcome"],
        "shadow_outcome": data["shadow_outcome"],
        "control_group": data["control_group"],
        "offers": [_expand_offer(row, catalog) for row in data["offers"]],
        "suppressed": suppressed,
        "would_have_offered": [_expand_offer(row, catalog) for row in data["would_have_offered"]],
        "shadow": [_expand_offer(row, catalog) for row in data["shadow"]],
        "exemptions": exemptions,
        "hardship_events": list(data["hardship_events"]),
        "policy_version": data["policy_version"],
        "snapshot_version": data["snapshot_version"],
        "model_versions": dict(data["model_versions"]),
        "policy": dict(catalog.policy(data["policy_version"])),
        "owed_shown": list(data["owed_shown"]),
        "candidates": candidates,
        "verdicts": [_verdict_dict(row) for row in verdicts[:traced]],
    }
    if "trigger" in data:
        expanded["trigger"] = data["trigger"]
    return expanded
