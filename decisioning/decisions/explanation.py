"""One decision's explanation as people and channels read it: the console's decision page,
Customer 360 and ``GET /api/v1/decisions/{id}/`` all render ``decision_explanation``.

Every decision is stored compactly (``engine.decision.to_compact``: codes, outcomes,
score-factor rows, verdict ids into its de-duplicated verdict table, versions). This
module derives the full candidate-by-candidate trace from it:

- inbound and real-time decisions: expanded against the catalog
  (``engine.expand_compact``: products, families, kinds, the approved words and their
  hash by version, the contact policy of the version in force) — exactly what the
  engine returned when it decided;
- batch decisions, decided column-wise without per-rule verdicts: replayed through the
  scalar engine for that customer, as of the decision's time, under the current
  snapshot (the run's campaign included), and checked against what the run stored
  (outcome and released offers). ``trace.matches`` says whether the replay agrees;
  where it does not (the catalog or the customer's data moved since), the stored
  decision stays the record and the replayed candidates show why today's engine
  would differ.

Each verdict is resolved from its id to ``{rule, label, passed, exempt, state, detail}``
with the plain-language label of ``engine.reasons.rule_label``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db.models import F

from campaigns.models import ContactPolicy
from decisioning import engine
from decisioning.decisions.snapshots import LoadedSnapshot, build, current_snapshot, policy_spec
from decisioning.engine import reasons
from decisioning.engine.policy import policy_summary
from decisioning.models import Decision
from offers.models import Offer, OfferContent, OfferTargeting
from offers.selectors import approved_targeting

# --- the catalog an expansion reads -------------------------------------------------------


class DatabaseCatalog:
    """``engine.ExplainCatalog`` over the database: one query per kind of fact, for the
    offers a decision names."""

    def __init__(self, offer_codes: Iterable[str]) -> None:
        self._codes = sorted(set(offer_codes))
        self._offers: dict[str, tuple[str, str, str]] | None = None
        self._contents: dict[tuple[str, str, int], engine.ContentSpec] = {}
        self._policies: dict[int | None, Mapping[str, Any]] = {}
        self._rules: dict[tuple[str, int], str] | None = None

    def _load(self) -> dict[str, tuple[str, str, str]]:
        """The offers and every content version of theirs in one query (an offer with no
        content at all in a second)."""
        offers: dict[str, tuple[str, str, str]] = {}
        for row in OfferContent.objects.filter(offer__code__in=self._codes).values(
            "offer__code",
            "offer__product__code",
            "offer__product__family",
            "offer__kind",
            "channel",
            "version",
            "content_hash",
            "headline",
            "body",
            "call_to_action",
            "disclosure",
        ):
            code = row.pop("offer__code")
            offers[code] = (
                row.pop("offer__product__code"),
                row.pop("offer__product__family"),
                row.pop("offer__kind"),
            )
            self._contents[(code, row["channel"], row["version"])] = engine.ContentSpec(
                offer_code=code, **row
            )
        missing = [code for code in self._codes if code not in offers]
        if missing:
            offers.update(
                (code, (product_code, family, kind))
                for code, product_code, family, kind in Offer.objects.filter(
                    code__in=missing
                ).values_list("code", "product__code", "product__family", "kind")
            )
        return offers

    def offer(self, code: str) -> tuple[str, str, str]:
        if self._offers is None:
            self._offers = self._load() if self._codes else {}
        return self._offers.get(code, ("", "", ""))

    def content(self, offer_code: str, channel: str, version: int) -> engine.ContentSpec | None:
        self.offer(offer_code)
        return self._contents.get((offer_code, channel, version))

    def policy(self, version: int | None) -> Mapping[str, Any]:
        if version not in self._policies:
            row = ContactPolicy.objects.filter(version=version).first() if version else None
            self._policies[version] = policy_summary(policy_spec(row)) if row else {}
        return self._policies[version]

    def eligibility(self, offer_code: str, version: int) -> str | None:
        """The rule text of a targeting version as the engine renders it (``Rule.to_text``),
        every version of the decision's offers in one query, on first use."""
        if self._rules is None:
            self._rules = {
                (code, number): canonical_rule_text(text)
                for code, number, text in OfferTargeting.objects.filter(
                    offer__code__in=self._codes
                ).values_list("offer__code", "version", "eligibility_rule")
            }
        return self._rules.get((offer_code, version))


def canonical_rule_text(text: str) -> str:
    """A stored rule's text as the engine's verdicts show it (``Rule.to_text``); a text
    that no longer parses is given as it was written."""
    try:
        return engine.parse_rule(text or "").to_text()
    except engine.RuleError:
        return text


# --- what an inbound or real-time decision's store refers to ------------------------------

_refs: tuple[LoadedSnapshot, dict[str, tuple[int, str]]] | None = None


def eligibility_refs(loaded: LoadedSnapshot) -> dict[str, tuple[int, str]]:
    """Offer code -> (approved targeting version, rule text) for the snapshot's offers
    whose ``ineligible`` verdicts may name that version instead of repeating the text
    (``engine.to_compact``). Only a version that is approved and whose rule, read back
    through ``DatabaseCatalog.eligibility``, is exactly the text the snapshot's rule
    gives — so the expansion returns what the engine saw, whatever changed in between.
    Two queries per snapshot (kept with the last snapshot asked about)."""
    global _refs
    cached = _refs
    if cached is not None and cached[0] is loaded:
        return cached[1]
    offers = loaded.engine.offers
    ids = {loaded.offer_ids[code]: code for code in offers if code in loaded.offer_ids}
    approved = approved_targeting(offer_ids=ids)
    refs: dict[str, tuple[int, str]] = {}
    for offer_id, version, digest, text in OfferTargeting.objects.filter(
        offer_id__in=ids, version=F("offer__targeting_version")
    ).values_list("offer_id", "version", "content_hash", "eligibility_rule"):
        code = ids[offer_id]
        rule = offers[code].eligibility
        if rule.always_true or (offer_id, version, digest) not in approved:
            continue
        seen = rule.to_text()
        if canonical_rule_text(text) == seen:
            refs[code] = (version, seen)
    _refs = (loaded, refs)
    return refs


def _offer_codes(stored: Mapping[str, Any], offers: Iterable[Mapping[str, Any]]) -> set[str]:
    codes = {item["offer_code"] for item in stored.get("candidates", ()) if "offer_code" in item}
    for key in ("offers", "would_have_offered", "shadow"):
        codes.update(item["offer_code"] for item in stored.get(key, ()) if "offer_code" in item)
    codes.update(item["offer_code"] for item in offers if item.get("offer_code"))
    return codes


# --- the full trace --------------------------------------------------------------------


def is_compact(stored: Mapping[str, Any]) -> bool:
    return stored.get("format") == engine.COMPACT_FORMAT and "verdicts" in stored


# The keys a batch decision's explanation once began with, in their order: a batch run
# (``runs.batch.batch_base_explanation``) now stores only "campaign" of them, the row
# holding the others in columns (or they are constants of the form).
BATCH_ROW_KEYS = ("format", "trace", "mode", "campaign", "policy_version", "snapshot_version")


def stored_explanation(decision: Decision) -> dict[str, Any]:
    """The decision's stored explanation as every reader takes it: a batch decision's keys
    that its row holds in columns instead (format, trace, mode, policy and snapshot
    versions) put back from them, in the order they were once stored. A row that still
    has them (stored before) is given as it is."""
    stored = decision.explanation or {}
    if (
        decision.mode != "batch"
        or "verdicts" in stored
        or stored.get("redacted")
        or "snapshot_version" in stored
    ):
        return dict(stored)
    columns = {
        "format": engine.COMPACT_FORMAT,
        "trace": "replay",
        "mode": decision.mode,
        "campaign": stored.get("campaign"),
        "policy_version": decision.policy_version,
        "snapshot_version": decision.snapshot_version,
    }
    return {**{key: columns[key] for key in BATCH_ROW_KEYS}, **stored}


def full_trace(decision: Decision, catalog: DatabaseCatalog | None = None) -> dict[str, Any]:
    """The engine's ``Decision.to_dict()`` of a stored inbound or real-time decision, with
    the request and identity the store added (an explanation stored before the compact
    form is returned as it is)."""
    stored = decision.explanation or {}
    if not is_compact(stored):
        return stored_explanation(decision)
    catalog = catalog or DatabaseCatalog(_offer_codes(stored, ()))
    trace = engine.expand_compact(
        stored,
        customer_id=decision.customer_id,
        external_id=decision.customer.external_id,
        catalog=catalog,
    )
    for key in ("request", "identity", "inputs"):
        if key in stored:
            trace[key] = stored[key]
    return trace


def _resolve(row: Mapping[str, Any]) -> dict[str, Any]:
    exempt = bool(row.get("exempt"))
    passed = bool(row["passed"])
    return {
        "rule": row["rule"],
        "label": reasons.rule_label(row["rule"], passed=passed, exempt=exempt),
        "passed": passed,
        "exempt": exempt,
        "state": "exempt" if exempt else "pass" if passed else "fail",
        "detail": row.get("detail") or {},
    }


def _resolved(verdicts: list[Any], table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verdict ids (or, from a replay, verdict dicts) as readable verdicts."""
    return [_resolve(table[v] if isinstance(v, int) else v) for v in verdicts]


def _candidates(trace: Mapping[str, Any]) -> list[dict[str, Any]]:
    table = [dict(row) for row in trace.get("verdicts", ())]
    out = []
    for candidate in trace.get("candidates", ()):
        item = dict(candidate)
        item["outcome_label"] = reasons.outcome_label(item.get("outcome"))
        item["verdicts"] = _resolved(list(item.get("verdicts") or ()), table)
        item["channels"] = [
            {**channel, "verdicts": _resolved(list(channel.get("verdicts") or ()), table)}
            for channel in item.get("channels") or ()
        ]
        out.append(item)
    return out


def _stored_offers_view(
    items: Iterable[Mapping[str, Any]], catalog: DatabaseCatalog, campaign: str | None
) -> list[dict[str, Any]]:
    """Stored offers (``Decision.offers``, a batch's picks) with the catalog's facts."""
    out = []
    for item in items:
        product_code, family, kind = catalog.offer(item.get("offer_code") or "")
        content = catalog.content(
            item.get("offer_code") or "", item.get("channel") or "", item.get("content_version")
        )
        out.append(
            {
                "product_code": product_code,
                "family": family,
                "kind": kind,
                "campaign": campaign,
                "content_hash": content.content_hash if content else None,
                "reasons": [],
                **item,
                "likelihood": engine.likelihood_band(
                    (item.get("score_factors") or {}).get("propensity") or 0.0
                ),
            }
        )
    return out


def _suppressed_view(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "reason_label": reasons.outcome_label(item.get("reason"))} for item in items]


def _base(decision: Decision, trace: Mapping[str, Any], source: str) -> dict[str, Any]:
    view = {key: value for key, value in trace.items() if key not in ("verdicts", "candidates")}
    view["outcome"] = trace.get("outcome") or decision.outcome_reason
    view["outcome_label"] = reasons.outcome_label(view["outcome"])
    view["candidates"] = _candidates(trace)
    view["trace"] = {"source": source}
    return view


def decision_explanation(decision: Decision) -> dict[str, Any]:
    """The one view of a decision's explanation (console and API, see the module text)."""
    stored = decision.explanation or {}
    if stored.get("redacted"):
        view = _base(decision, {**stored, "candidates": []}, "redacted")
        view["candidates"] = [
            {**item, "outcome_label": reasons.outcome_label(item.get("outcome")), "verdicts": []}
            for item in stored.get("candidates", ())
        ]
        view["offers"] = list(decision.offers or ())
        return view
    if decision.mode != "batch" or "verdicts" in stored:
        trace = full_trace(decision)
        view = _base(decision, trace, "stored")
        view["suppressed"] = _suppressed_view(trace.get("suppressed", ()))
        return view
    return _batch_explanation(decision, stored_explanation(decision))


# --- batch decisions: replayed -------------------------------------------------------------


def _as_of(context: engine.CustomerContext, moment: datetime) -> engine.CustomerContext:
    """The customer's contact history as it stood at ``moment``: later releases left out,
    responses recorded later not yet known."""
    history = tuple(
        record
        if record.outcome_at is None or record.outcome_at < moment
        else dataclasses.replace(record, outcome=None, outcome_at=None)
        for record in context.contact_history
        if record.released_at is not None and record.released_at < moment
    )
    return dataclasses.replace(context, contact_history=history)


def _snapshot_with(campaign_id: int | None, now: datetime) -> LoadedSnapshot:
    loaded = current_snapshot(now)
    if campaign_id is not None and campaign_id not in loaded.engine.plans:
        loaded = build(now, extra_campaign_ids=frozenset({campaign_id}))
    return loaded


def batch_replay(decision: Decision) -> engine.Decision:
    """The scalar engine's decision for a batch decision's customer, as of its time."""
    from decisioning.decisions.inbound import context_for

    moment = decision.created_at
    loaded = _snapshot_with(decision.campaign_id, moment)
    context = _as_of(
        context_for(loaded, decision.customer, moment, exclude_decision=decision), moment
    )
    request = engine.DecisionRequest(
        mode="batch",
        now=moment,
        campaign_ids=frozenset({decision.campaign_id}) if decision.campaign_id else None,
    )
    return engine.decide(loaded.engine, context, request)


def decided_picks(items: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """What a batch decision decided of each offer, in the form both sides give it."""
    return [
        (
            item.get("rank"),
            item.get("offer_code"),
            item.get("channel"),
            item.get("content_version"),
            item.get("score"),
            (item.get("score_factors") or {}).get("propensity"),
            item.get("deliver_after"),
        )
        for item in items
    ]


def _replayed_picks(offers: Iterable[engine.ReleasedOffer]) -> list[tuple[Any, ...]]:
    return [
        (
            offer.rank,
            offer.offer_code,
            offer.channel,
            offer.content.version,
            offer.score,
            offer.factors.propensity,
            offer.deliver_after.isoformat() if offer.deliver_after else None,
        )
        for offer in offers
    ]


def _batch_explanation(decision: Decision, stored: Mapping[str, Any]) -> dict[str, Any]:
    replayed = batch_replay(decision)
    trace = replayed.to_dict()
    held = bool(stored.get("control_group")) or decision.shadow
    stored_picks = list(stored.get("would_have_offered") or ()) if held else decision.offers or []
    replay_picks = replayed.would_have_offered if replayed.control_group else replayed.offers
    if decision.shadow and not replayed.control_group:
        replay_picks = replayed.offers
    differences = []
    if (stored.get("outcome") or decision.outcome_reason) != replayed.outcome:
        differences.append(
            f"outcome: {stored.get('outcome') or decision.outcome_reason} then, "
            f"{replayed.outcome} in the replay"
        )
    if decided_picks(stored_picks) != _replayed_picks(replay_picks):
        differences.append("the offers chosen differ from the replay's")
    if stored.get("snapshot_version") != replayed.snapshot_version:
        differences.append(
            f"catalog snapshot {stored.get('snapshot_version')} then, "
            f"{replayed.snapshot_version} now"
        )
    catalog = DatabaseCatalog(_offer_codes(stored, [*decision.offers, *stored_picks]))
    campaign = stored.get("campaign")
    view = _base(decision, {**trace, **{k: v for k, v in stored.items() if k != "trace"}}, "replay")
    view["offers"] = _stored_offers_view(decision.offers or (), catalog, campaign)
    view["would_have_offered"] = _stored_offers_view(
        stored.get("would_have_offered") or (), catalog, campaign
    )
    view["shadow"] = []
    view["suppressed"] = _suppressed_view(trace["suppressed"])
    view["exemptions"] = trace["exemptions"]
    view["trace"] = {
        "source": "replay",
        "replayed_snapshot_version": replayed.snapshot_version,
        "matches": not differences,
        "differences": differences,
    }
    return view
