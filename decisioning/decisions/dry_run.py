"""Dry runs: what the engine would do now, releasing and storing nothing.

- ``offer_now``: the offers a customer present on an inbound channel would get now
  (Customer 360's "what would we offer now on channel X?"). The same snapshot, context
  and ``engine.decide`` as ``decisions.inbound.decide_inbound``, without
  ``decision_store``: no decision, contact, message or audit record is written, so the
  attention budget is untouched and asking twice gives the same answer.
- ``audience_count``: how many customers an audience rule selects (the campaign builder's
  count as the rule is typed), by the engine's vectorised rule evaluation
  (``Rule.mask``) over the columns the rule reads, loaded the way batch runs load them.
  A rule that reads a likelihood band (``likelihood("P") >= "target"``) is bound to the
  current engine snapshot's models (``Snapshot.bind_rule``); each product's propensities
  over the cached customers are computed once per frame and snapshot, and the count says
  how many customers are in each band of every product the rule names.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.utils import timezone

from core.channels import INBOUND
from core.exceptions import Unprocessable, ValidationFailed
from customers.models import Customer, Holding
from decisioning import engine
from decisioning.choices import DecisionMode
from decisioning.decisions.inbound import snapshot_and_context, volume_today
from decisioning.decisions.released import stored_offers, stored_suppressed
from decisioning.decisions.snapshots import current_snapshot
from decisioning.engine.bands import BANDS, RANK, LikelihoodSeen, band_ranks
from decisioning.engine.rules import ColumnSource, Likelihoods, parse_rule
from decisioning.engine.timeutil import to_us
from decisioning.models import Decision
from decisioning.runs.loader import _ages, _blank_to_none, _months, _positions
from offers.models import Product

# --- what would we offer now ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DryDecision:
    """A decision made and thrown away: the engine's result and its stored shapes."""

    channel: str
    decided_at: datetime
    result: engine.Decision
    explanation: dict[str, Any]  # the engine's ``Decision.to_dict()``
    offers: list[dict[str, Any]]  # as ``Decision.offers`` would store them
    suppressed: list[dict[str, Any]]

    @property
    def outcome(self) -> str:
        return self.result.outcome


def offer_now(
    *,
    customer: Customer,
    channel: str,
    event_type: str | None = None,
    page: str | None = None,
    now: datetime | None = None,
) -> DryDecision:
    """What ``decide_inbound`` would release to this customer on ``channel`` now; nothing
    is released or stored."""
    if channel not in INBOUND:
        raise ValidationFailed(
            "A dry run asks what a customer present on an inbound channel would be offered.",
            fields={"channel": [f"must be one of {', '.join(sorted(INBOUND))}"]},
        )
    if customer.is_erased:
        raise Unprocessable(
            "The customer was erased at their request; nothing is decided for them.",
            fields={"customer": ["erased"]},
        )
    now = now or timezone.now()
    loaded, context = snapshot_and_context(customer, now)
    plans = loaded.engine.inbound_by_channel.get(channel, ())
    request = engine.DecisionRequest(
        mode="inbound",
        now=now,
        channel=channel,
        event_type=event_type or None,
        page=page or None,
        campaign_volume_today=volume_today(loaded, [plan.id for plan in plans], now),
    )
    result = engine.decide(loaded.engine, context, request)
    return DryDecision(
        channel=channel,
        decided_at=now,
        result=result,
        explanation=result.to_dict(),
        offers=stored_offers(result.offers),
        suppressed=[stored_suppressed(item) for item in result.suppressed],
    )


# --- how many customers an audience rule selects --------------------------------------------

# The profile columns each declared field is computed from (as ``runs.loader`` does).
_FIELD_COLUMNS: dict[str, str] = {
    "age": "birth_date",
    "tenure_months": "customer_since",
    "region": "region",
    "branch_code": "branch_code",
    "time_zone": "time_zone",
    "risk_band": "risk_band",
    "income_band": "income_band",
    "segment": "attributes",
    "has_email": "email",
    "has_phone": "phone",
}


@dataclass(frozen=True, slots=True)
class BandCounts:
    """How the counted customers fall into one product's likelihood bands."""

    product_code: str
    source: str  # "model" (its active model), "prior" (smoothed rate) or "unknown"
    model_version: str | None
    counts: tuple[tuple[str, int], ...]  # (band, customers), highest band first
    total: int

    def shares(self) -> list[dict[str, Any]]:
        return [
            {"band": band, "count": count, "share": count / self.total if self.total else 0.0}
            for band, count in self.counts
        ]


@dataclass(frozen=True, slots=True)
class AudienceCount:
    matched: int
    total: int  # customers who can be reached at all (not erased)
    rule: str  # canonical text; "" for everyone
    fields: tuple[str, ...]
    counted_at: datetime  # when the customers counted were read
    milliseconds: float
    # per product whose likelihood the rule reads: the customers in each band
    bands: tuple[BandCounts, ...] = ()

    @property
    def share(self) -> float:
        return self.matched / self.total if self.total else 0.0


# The customers' columns are read once and reused for this long by every count in the
# process: a marketer typing a rule asks for a count every few hundred milliseconds, and
# a count a minute old is what a builder needs (the page says when it was read). A
# simulation, or the run itself, reads the customers afresh.
FRAME_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Frame:
    loaded_at: datetime
    monotonic: float
    batch: engine.CustomerBatch
    families: dict[str, str]
    # (snapshot version, product) -> every customer's propensity, filled on first use
    propensities: dict[tuple[str, str], np.ndarray | None] = field(default_factory=dict)


class _FrameLikelihoods:
    """A snapshot's likelihoods over the frame, each product's propensities computed once
    per frame and snapshot version (a marketer types many counts over the same frame)."""

    __slots__ = ("frame", "inner", "version")

    def __init__(self, inner: Likelihoods, frame: _Frame, version: str) -> None:
        self.inner = inner
        self.frame = frame
        self.version = version

    def seen(
        self,
        product: str,
        customer: engine.CustomerContext,
        held_families: frozenset[str],
        now_us: int | None = None,
    ) -> LikelihoodSeen | None:
        return self.inner.seen(product, customer, held_families, now_us)

    def propensities(
        self, product: str, source: ColumnSource, now_us: int | None = None
    ) -> np.ndarray | None:
        if getattr(source, "batch", None) is not self.frame.batch:  # not the frame's rows
            return self.inner.propensities(product, source, now_us)
        key = (self.version, product)
        cache = self.frame.propensities
        if key not in cache:
            # the frame's rows as of the frame's clock, whatever the caller's
            cache[key] = self.inner.propensities(product, source, to_us(self.frame.loaded_at))
        return cache[key]


_frame_cache: dict[str, _Frame] = {}
_frame_lock = threading.Lock()


def _load_frame(now: datetime) -> _Frame:
    """Every customer who is not erased, with every field a rule can read and their open
    holdings, in three queries (customers, holdings, product families)."""
    names = ["id", *sorted(set(_FIELD_COLUMNS.values()))]
    rows = list(Customer.objects.filter(erased_at__isnull=True).order_by("pk").values_list(*names))
    size = len(rows)
    data = (
        dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {n: () for n in names}
    )
    ids = np.fromiter(data["id"], dtype=np.int64, count=size)
    today = now.date()
    raw = [a if isinstance(a, dict) else {} for a in data["attributes"]]
    keys = sorted({key for attrs in raw for key in attrs})
    columns: dict[str, Any] = {
        "age": _ages(list(data["birth_date"]), today),
        "tenure_months": _months(list(data["customer_since"]), today),
        "segment": [v if isinstance(v := a.get("segment"), str) else None for a in raw],
        "has_email": [bool(v) for v in data["email"]],
        "has_phone": [bool(v) for v in data["phone"]],
    }
    for name in ("region", "branch_code", "time_zone", "risk_band", "income_band"):
        columns[name] = _blank_to_none(list(data[name]))
    held = list(
        Holding.objects.filter(closed_at__isnull=True, customer__erased_at__isnull=True)
        .order_by()
        .values_list("customer_id", "product_code")
    )
    product_codes = sorted({code for _, code in held})
    holdings = np.zeros((size, len(product_codes)), dtype=bool)
    if held and size:
        at = {code: i for i, code in enumerate(product_codes)}
        owners = np.fromiter((cid for cid, _ in held), dtype=np.int64, count=len(held))
        rows_at = np.minimum(_positions(ids, owners.tolist()), size - 1)
        cols_at = np.fromiter((at[code] for _, code in held), dtype=np.int64, count=len(held))
        found = ids[rows_at] == owners  # a customer created between the two reads: skipped
        holdings[rows_at[found], cols_at[found]] = True
    batch = engine.CustomerBatch.from_columns(
        ids,
        columns=columns,
        attributes={key: [attrs.get(key) for attrs in raw] for key in keys},
        product_codes=product_codes,
        holdings=holdings,
    )
    families = dict(Product.objects.values_list("code", "family"))
    return _Frame(loaded_at=now, monotonic=time.monotonic(), batch=batch, families=families)


def _frame(now: datetime) -> _Frame:
    with _frame_lock:
        frame = _frame_cache.get("all")
        if frame is None or time.monotonic() - frame.monotonic > FRAME_SECONDS:
            frame = _frame_cache["all"] = _load_frame(now)
        return frame


def forget_frame() -> None:
    """Drop the cached customers (tests; the next count reads them again)."""
    with _frame_lock:
        _frame_cache.clear()


def audience_count(*, rule_text: str, now: datetime | None = None) -> AudienceCount:
    """How many customers (not erased) the audience rule selects. A rule that does not
    parse raises ``engine.RuleError`` (position and what was expected)."""
    started = time.perf_counter()
    rule = parse_rule(rule_text or "")
    frame = _frame(now or timezone.now())
    batch = frame.batch
    source = batch.source(frame.families)
    bands: tuple[BandCounts, ...] = ()
    if rule.likelihood_products():
        snapshot = current_snapshot().engine
        likelihoods = _FrameLikelihoods(snapshot.likelihoods, frame, snapshot.version)
        rule = rule.bind(likelihoods)
        bands = tuple(
            _band_counts(snapshot, likelihoods, product, source)
            for product in rule.likelihood_products()
        )
    clock = to_us(frame.loaded_at)
    matched = batch.size if rule.always_true else int(np.count_nonzero(rule.mask(source, clock)))
    return AudienceCount(
        matched=matched,
        total=batch.size,
        rule="" if rule.always_true else rule.to_text(),
        fields=tuple(sorted(rule.fields())),
        counted_at=frame.loaded_at,
        milliseconds=(time.perf_counter() - started) * 1000,
        bands=bands,
    )


def _band_counts(
    snapshot: engine.Snapshot, likelihoods: _FrameLikelihoods, product: str, source: ColumnSource
) -> BandCounts:
    evaluator = snapshot.evaluators.get(product)
    propensity = likelihoods.propensities(product, source)
    if propensity is None:
        return BandCounts(product, "unknown", None, (), source.size)
    per_rank = np.bincount(band_ranks(propensity), minlength=len(BANDS))
    return BandCounts(
        product_code=product,
        source="model" if evaluator is not None else "prior",
        model_version=evaluator.spec.version if evaluator is not None else None,
        counts=tuple((band, int(per_rank[RANK[band]])) for band in BANDS),
        total=source.size,
    )


def unsaved_decision(dry: DryDecision, customer: Customer) -> Decision:
    """The dry run as a ``Decision`` row that is never saved, so the console explains it
    the way it explains a stored one (``decisions.explanation.decision_explanation``)."""
    return Decision(
        customer=customer,
        mode=DecisionMode.INBOUND,
        channel=dry.channel,
        created_at=dry.decided_at,
        control_group=dry.result.control_group,
        offers_released=len(dry.offers),
        top_offer_code=dry.offers[0]["offer_code"] if dry.offers else "",
        outcome_reason=dry.outcome,
        snapshot_version=str(dry.explanation.get("snapshot_version") or ""),
        policy_version=dry.explanation.get("policy_version"),
        offers=dry.offers,
        suppressed=dry.suppressed,
        explanation=dry.explanation,
    )
