"""Reading campaign results from the aggregate tables: a fixed number of grouped queries
over a date range, whatever the number of decisions behind them.

Definitions (see ``results.services`` for what each day counts):

- offers released: treated contacts not cancelled at send time;
- acceptance rate: accepted contacts over offers released;
- conversion rate: contacts whose customer opened the offered product within the
  attribution window, over offers released;
- opt-out rate: contacts followed by a consent revoked on their channel (or all), over
  offers released;
- revenue: the annual value (the offer's, else its product's) of each conversion;
  revenue per customer: over the customers reached, a customer counted once per day,
  offer and channel;
- adoption: inbound decisions on human channels presented (a response came back) and
  overridden, over those that released offers;
- lift and uplift: conversion rate of treated units minus that of control units (sales
  offers only: a service action's "conversion" is not a purchase), with the 95 %
  Newcombe interval and the pooled two-proportion z-test's p-value (``results.stats``).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum

from campaigns.models import Campaign
from offers.choices import OfferKind
from offers.models import Offer
from results import segments
from results.choices import Group, Segment
from results.models import AdoptionDay, KpiComputation, LatencyDay, OfferDay, SegmentDay
from results.stats import (
    LATENCY_BUCKETS_MS,
    Difference,
    Proportion,
    difference,
    percentile_from_histogram,
)

DEFAULT_DAYS = 30
MAX_RANGE_DAYS = 731
UNITS_SUMS = (
    "units",
    "customers",
    "cancelled",
    "impressions",
    "clicks",
    "accepts",
    "declines",
    "dismisses",
    "conversions",
    "revenue",
    "opt_outs",
    "duplicates_prevented",
)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime.date
    until: datetime.date
    campaign: Campaign | None = None
    offer: Offer | None = None
    channel: str = ""

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def scope(self, *, offer: bool = True, channel: bool = True) -> Q:
        q = Q(day__gte=self.since, day__lte=self.until)
        if self.campaign is not None:
            q &= Q(campaign=self.campaign)
        if offer and self.offer is not None:
            q &= Q(offer=self.offer)
        if channel and self.channel:
            q &= Q(channel=self.channel)
        return q


@dataclass(slots=True)
class Funnel:
    """Treated figures of one slice (everything, or one channel)."""

    channel: str = ""
    released: int = 0
    cancelled: int = 0
    customers: int = 0
    impressions: int = 0
    clicks: int = 0
    accepts: int = 0
    declines: int = 0
    dismisses: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal("0")
    opt_outs: int = 0
    duplicates_prevented: int = 0

    def add(self, row: dict[str, Any]) -> None:
        units, cancelled = int(row["units"] or 0), int(row["cancelled"] or 0)
        self.released += units - cancelled
        self.cancelled += cancelled
        for name in ("customers", "impressions", "clicks", "accepts", "declines", "dismisses"):
            setattr(self, name, getattr(self, name) + int(row[name] or 0))
        self.conversions += int(row["conversions"] or 0)
        self.revenue += Decimal(row["revenue"] or 0)
        self.opt_outs += int(row["opt_outs"] or 0)
        self.duplicates_prevented += int(row["duplicates_prevented"] or 0)

    @property
    def acceptance_rate(self) -> float | None:
        return _rate(self.accepts, self.released)

    @property
    def conversion_rate(self) -> float | None:
        return _rate(self.conversions, self.released)

    @property
    def opt_out_rate(self) -> float | None:
        return _rate(self.opt_outs, self.released)

    @property
    def revenue_per_customer(self) -> Decimal | None:
        if not self.customers:
            return None
        return (self.revenue / self.customers).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class Lift:
    """Treated against control on one slice; ``result`` is None when a group is empty."""

    label: str
    treated: Proportion
    control: Proportion
    result: Difference | None

    @property
    def reason(self) -> str:
        if self.result is not None:
            return ""
        if not self.control.trials and not self.treated.trials:
            return "no sales offers decided in this range"
        if not self.control.trials:
            return "no control-group decisions in this range"
        return "no treated decisions in this range"


@dataclass(frozen=True, slots=True)
class Adoption:
    channel: str
    decisions: int
    presented: int
    overridden: int

    @property
    def presented_share(self) -> float | None:
        return _rate(self.presented, self.decisions)

    @property
    def overridden_share(self) -> float | None:
        return _rate(self.overridden, self.decisions)


@dataclass(frozen=True, slots=True)
class Latency:
    decisions: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: datetime.date
    released: int
    accepts: int
    conversions: int
    control_units: int
    control_conversions: int


@dataclass(slots=True)
class KpiReport:
    filters: Filters
    attribution_days: int | None
    days_computed: int
    computed_from: datetime.datetime | None
    computed_to: datetime.datetime | None
    total: Funnel
    by_channel: list[Funnel]
    lift: Lift
    uplift_by_offer: list[tuple[Offer, Lift]]
    uplift_by_segment: dict[str, list[Lift]]
    adoption: Adoption
    adoption_by_channel: list[Adoption]
    latency: Latency
    series: list[DayPoint] = field(default_factory=list)

    @property
    def days_missing(self) -> int:
        return self.filters.days - self.days_computed


def _sums() -> dict[str, Sum]:
    return {name: Sum(name) for name in UNITS_SUMS}


def _lift(label: str, t: tuple[int, int], c: tuple[int, int]) -> Lift:
    treated, control = Proportion(t[1], t[0]), Proportion(c[1], c[0])
    return Lift(label, treated, control, difference(treated, control))


def kpi_report(filters: Filters) -> KpiReport:
    """Every figure of the results over ``filters`` (seven queries)."""
    scoped: QuerySet[OfferDay] = OfferDay.objects.filter(filters.scope())

    # 1. treated funnel by channel; treated and control conversions of sales offers
    total = Funnel()
    channels: dict[str, Funnel] = {}
    sales = {Group.TREATED: [0, 0], Group.CONTROL: [0, 0]}
    for row in scoped.values("group", "channel", "offer__kind").annotate(**_sums()).order_by():
        if row["group"] == Group.TREATED:
            total.add(row)
            channels.setdefault(row["channel"], Funnel(channel=row["channel"])).add(row)
        if row["offer__kind"] == OfferKind.SALES:
            sales[row["group"]][0] += int(row["units"] or 0)
            sales[row["group"]][1] += int(row["conversions"] or 0)
    by_channel = sorted(
        (funnel for funnel in channels.values() if funnel.channel),
        key=lambda funnel: -funnel.released,
    )
    unattributed = channels.get("")
    if unattributed is not None and (unattributed.released or unattributed.cancelled):
        by_channel.append(unattributed)
    overall = _lift("all sales offers", tuple(sales[Group.TREATED]), tuple(sales[Group.CONTROL]))

    # 2. uplift per offer
    per_offer: dict[int, dict[str, list[int]]] = defaultdict(
        lambda: {Group.TREATED: [0, 0], Group.CONTROL: [0, 0]}
    )
    for row in (
        scoped.filter(offer__kind=OfferKind.SALES)
        .values("group", "offer")
        .annotate(units=Sum("units"), conversions=Sum("conversions"))
        .order_by()
    ):
        per_offer[row["offer"]][row["group"]] = [int(row["units"]), int(row["conversions"])]
    offers = Offer.objects.in_bulk(list(per_offer))
    uplift_by_offer = sorted(
        (
            (
                offers[pk],
                _lift(offers[pk].code, tuple(g[Group.TREATED]), tuple(g[Group.CONTROL])),
            )
            for pk, g in per_offer.items()
        ),
        key=lambda item: item[0].code,
    )

    # 3. uplift per segment (across channels)
    cube: dict[str, dict[str, dict[str, list[int]]]] = {
        dim: defaultdict(lambda: {Group.TREATED: [0, 0], Group.CONTROL: [0, 0]})
        for dim in Segment.values
    }
    for row in (
        SegmentDay.objects.filter(filters.scope(channel=False), offer__kind=OfferKind.SALES)
        .values("group", *Segment.values)
        .annotate(units=Sum("units"), conversions=Sum("conversions"))
        .order_by()
    ):
        for dim in Segment.values:
            cell = cube[dim][row[dim]][row["group"]]
            cell[0] += int(row["units"])
            cell[1] += int(row["conversions"])
    uplift_by_segment = {
        dim: [
            _lift(
                band, tuple(cube[dim][band][Group.TREATED]), tuple(cube[dim][band][Group.CONTROL])
            )
            for band in segments.BAND_ORDER[dim]
            if band in cube[dim]
        ]
        for dim in Segment.values
    }

    # 4. adoption by banker and agent channels
    adoption_rows = [
        Adoption(row["channel"], row["d"] or 0, row["p"] or 0, row["o"] or 0)
        for row in AdoptionDay.objects.filter(filters.scope(offer=False))
        .values("channel")
        .annotate(d=Sum("decisions"), p=Sum("presented"), o=Sum("overridden"))
        .order_by("channel")
    ]
    adoption = Adoption(
        "",
        sum(a.decisions for a in adoption_rows),
        sum(a.presented for a in adoption_rows),
        sum(a.overridden for a in adoption_rows),
    )

    # 5. signal-to-offer latency: the histograms added up
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    longest: float | None = None
    latency_scope = Q(day__gte=filters.since, day__lte=filters.until)
    if filters.campaign is not None:
        latency_scope &= Q(campaign=filters.campaign)
    for counts, max_ms in LatencyDay.objects.filter(latency_scope).values_list("buckets", "max_ms"):
        for index, count in enumerate(counts[: len(buckets)]):
            buckets[index] += int(count)
        longest = max(longest or 0.0, float(max_ms))
    latency = Latency(
        decisions=sum(buckets),
        p50_ms=percentile_from_histogram(buckets, 50, max_ms=longest),
        p95_ms=percentile_from_histogram(buckets, 95, max_ms=longest),
        max_ms=longest,
    )

    # 6. the daily series the chart draws
    points: dict[datetime.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        scoped.values("day", "group")
        .annotate(
            units=Sum("units"),
            cancelled=Sum("cancelled"),
            accepts=Sum("accepts"),
            conversions=Sum("conversions"),
        )
        .order_by()
    ):
        point = points[row["day"]]
        if row["group"] == Group.TREATED:
            point["released"] += int(row["units"] or 0) - int(row["cancelled"] or 0)
            point["accepts"] += int(row["accepts"] or 0)
            point["conversions"] += int(row["conversions"] or 0)
        else:
            point["control_units"] += int(row["units"] or 0)
            point["control_conversions"] += int(row["conversions"] or 0)
    series = []
    for offset in range(filters.days):
        day = filters.since + datetime.timedelta(days=offset)
        point = points.get(day, {})
        series.append(
            DayPoint(
                day=day,
                released=point.get("released", 0),
                accepts=point.get("accepts", 0),
                conversions=point.get("conversions", 0),
                control_units=point.get("control_units", 0),
                control_conversions=point.get("control_conversions", 0),
            )
        )

    # 7. which days have been computed, and when
    computed = KpiComputation.objects.filter(
        day__gte=filters.since, day__lte=filters.until
    ).aggregate(
        n=Count("day"),
        first=Min("computed_at"),
        last=Max("computed_at"),
        window=Max("attribution_days"),
    )
    return KpiReport(
        filters=filters,
        attribution_days=computed["window"],
        days_computed=computed["n"],
        computed_from=computed["first"],
        computed_to=computed["last"],
        total=total,
        by_channel=by_channel,
        lift=overall,
        uplift_by_offer=uplift_by_offer,
        uplift_by_segment=uplift_by_segment,
        adoption=adoption,
        adoption_by_channel=adoption_rows,
        latency=latency,
        series=series,
    )


# --- as JSON (the API's body) ------------------------------------------------------------


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def lift_dict(lift: Lift) -> dict[str, Any]:
    result = lift.result
    return {
        "label": lift.label,
        "treated": {
            "decisions": lift.treated.trials,
            "conversions": lift.treated.successes,
            "rate": _round(lift.treated.rate),
        },
        "control": {
            "decisions": lift.control.trials,
            "conversions": lift.control.successes,
            "rate": _round(lift.control.rate),
        },
        "measurable": result is not None,
        "reason": lift.reason,
        "difference": _round(result.difference) if result else None,
        "ci95_low": _round(result.ci_low) if result else None,
        "ci95_high": _round(result.ci_high) if result else None,
        "relative_lift": _round(result.relative) if result else None,
        "z": _round(result.z) if result else None,
        "p_value": _round(result.p_value, 8) if result else None,
        "significant": result.significant if result else False,
    }


def funnel_dict(funnel: Funnel) -> dict[str, Any]:
    return {
        "channel": funnel.channel,
        "offers_released": funnel.released,
        "cancelled_at_send": funnel.cancelled,
        "customers_reached": funnel.customers,
        "responses": {
            "impression": funnel.impressions,
            "click": funnel.clicks,
            "accept": funnel.accepts,
            "decline": funnel.declines,
            "dismiss": funnel.dismisses,
        },
        "acceptance_rate": _round(funnel.acceptance_rate),
        "conversions": funnel.conversions,
        "conversion_rate": _round(funnel.conversion_rate),
        "opt_outs": funnel.opt_outs,
        "opt_out_rate": _round(funnel.opt_out_rate),
        "duplicates_prevented": funnel.duplicates_prevented,
        "revenue": str(funnel.revenue.quantize(Decimal("0.01"))),
        "revenue_per_customer": (
            str(funnel.revenue_per_customer) if funnel.revenue_per_customer is not None else None
        ),
    }


def adoption_dict(adoption: Adoption) -> dict[str, Any]:
    return {
        "channel": adoption.channel,
        "decisions": adoption.decisions,
        "presented": adoption.presented,
        "presented_share": _round(adoption.presented_share),
        "overridden": adoption.overridden,
        "overridden_share": _round(adoption.overridden_share),
    }


def report_dict(report: KpiReport) -> dict[str, Any]:
    filters = report.filters
    body = funnel_dict(report.total)
    body.pop("channel")
    return {
        "since": filters.since.isoformat(),
        "until": filters.until.isoformat(),
        "campaign": filters.campaign.code if filters.campaign else None,
        "offer": filters.offer.code if filters.offer else None,
        "channel": filters.channel or None,
        "days": filters.days,
        "days_computed": report.days_computed,
        "computed_at": report.computed_to.isoformat() if report.computed_to else None,
        "attribution_days": report.attribution_days,
        **body,
        "by_channel": [funnel_dict(f) for f in report.by_channel],
        "adoption": {
            **{k: v for k, v in adoption_dict(report.adoption).items() if k != "channel"},
            "by_channel": [adoption_dict(a) for a in report.adoption_by_channel],
        },
        "lift": lift_dict(report.lift),
        "uplift": {
            "by_offer": [
                {"offer": offer.code, **lift_dict(lift)} for offer, lift in report.uplift_by_offer
            ],
            "by_segment": {
                dim: [lift_dict(lift) for lift in lifts]
                for dim, lifts in report.uplift_by_segment.items()
            },
        },
        "latency_ms": {
            "decisions": report.latency.decisions,
            "p50": _round(report.latency.p50_ms, 3),
            "p95": _round(report.latency.p95_ms, 3),
            "max": _round(report.latency.max_ms, 3),
        },
    }
