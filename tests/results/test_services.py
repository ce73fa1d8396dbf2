"""The aggregates of one exact day (tests/results/builders.py), counted by hand."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal

import pytest

from customers.models import Holding
from results.models import AdoptionDay, KpiComputation, LatencyDay, OfferDay, SegmentDay
from results.selectors import Filters, kpi_report
from results.services import kpi_days, kpis_compute_day
from tests.results.builders import DAY, build_results_bank

ACTOR = "system:tests"


@pytest.fixture
def bank(db):
    return build_results_bank()


def _report(bank, **filters):
    return kpi_report(Filters(since=DAY, until=DAY, **filters))


def _hand_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.erfc(abs(x1 / n1 - x2 / n2) / se / math.sqrt(2))


def test_campaign_funnel_matches_the_hand_count(bank):
    kpis_compute_day(actor=ACTOR, day=DAY)
    report = _report(bank, campaign=bank.campaign)
    total = report.total
    # 10 sms + 5 email + 1 push contacts, one cancelled at send time
    assert (total.released, total.cancelled) == (15, 1)
    assert total.accepts == 4  # 3 card accepts on sms, the accepted service action
    assert total.acceptance_rate == pytest.approx(4 / 15)
    assert total.conversions == 5  # 4 on sms within 30 days (not the day +40), 1 on email
    assert total.conversion_rate == pytest.approx(5 / 15)
    assert (total.opt_outs, total.opt_out_rate) == (1, pytest.approx(1 / 15))
    assert total.duplicates_prevented == 2  # held back by the engine + cancelled by the gate
    assert total.revenue == Decimal("500.00")
    assert total.revenue_per_customer == Decimal("31.25")  # 500 / 16 customers
    assert (total.declines, total.clicks, total.impressions) == (2, 1, 1)
    channels = {f.channel: f for f in report.by_channel}
    assert set(channels) == {"sms", "email", "push"}
    assert (channels["sms"].released, channels["sms"].accepts, channels["sms"].conversions) == (
        9,
        3,
        4,
    )
    assert channels["sms"].conversion_rate == pytest.approx(4 / 9)
    assert (channels["email"].released, channels["email"].conversions) == (5, 1)
    assert (channels["push"].released, channels["push"].accepts) == (1, 1)


def test_lift_against_control_matches_the_hand_computation(bank):
    kpis_compute_day(actor=ACTOR, day=DAY)
    lift = _report(bank, campaign=bank.campaign).lift
    # sales offers only: treated 15 card contacts, 5 converted; control 8, 1 converted
    assert (lift.treated.trials, lift.treated.successes) == (15, 5)
    assert (lift.control.trials, lift.control.successes) == (8, 1)
    result = lift.result
    assert result.difference == pytest.approx(5 / 15 - 1 / 8)
    assert result.p_value == pytest.approx(_hand_p_value(5, 15, 1, 8))
    assert result.relative == pytest.approx((5 / 15 - 1 / 8) / (1 / 8))
    assert result.ci_low < result.difference < result.ci_high
    assert not result.significant  # p about 0.28 with 23 decisions


def test_uplift_by_segment_splits_the_same_units(bank):
    kpis_compute_day(actor=ACTOR, day=DAY)
    report = _report(bank, campaign=bank.campaign)
    ages = {lift.label: lift for lift in report.uplift_by_segment["age_band"]}
    assert set(ages) == {"35-44", "under 25"}
    assert (ages["35-44"].treated.trials, ages["35-44"].treated.successes) == (10, 4)
    assert (ages["35-44"].control.trials, ages["35-44"].control.successes) == (4, 1)
    assert (ages["under 25"].treated.trials, ages["under 25"].treated.successes) == (5, 1)
    assert (ages["under 25"].control.trials, ages["under 25"].control.successes) == (4, 0)
    assert ages["35-44"].result.difference == pytest.approx(4 / 10 - 1 / 4)
    held = {lift.label: lift for lift in report.uplift_by_segment["holdings_band"]}
    # the products opened after the decision do not count as held before it
    assert (held["0 products"].treated.trials, held["0 products"].control.trials) == (10, 4)
    assert (held["1 product"].treated.trials, held["1 product"].control.trials) == (5, 4)
    tenure = report.uplift_by_segment["tenure_band"]
    assert [(t.label, t.treated.trials, t.control.trials) for t in tenure] == [
        ("5-10 years", 15, 8)
    ]
    offers = {offer.code: lift for offer, lift in report.uplift_by_offer}
    assert set(offers) == {"CARD"}  # the service action has no lift
    assert offers["CARD"].result.difference == pytest.approx(5 / 15 - 1 / 8)


def test_adoption_counts_presented_and_overridden_inbound_decisions(bank):
    kpis_compute_day(actor=ACTOR, day=DAY)
    report = _report(bank, campaign=bank.inbound)
    assert (report.adoption.decisions, report.adoption.presented) == (4, 3)
    assert report.adoption.overridden == 1
    assert report.adoption.presented_share == pytest.approx(0.75)
    assert [a.channel for a in report.adoption_by_channel] == ["branch"]
    # the inbound accept opened SAVE_P: revenue is the offer's own value, 50
    assert (report.total.conversions, report.total.revenue) == (1, Decimal("50.00"))


def test_signal_to_offer_latency_percentiles(bank):
    kpis_compute_day(actor=ACTOR, day=DAY)
    latency = _report(bank, campaign=bank.campaign).latency
    # 40 ms falls in (25, 50], 200 ms in (100, 250] capped at the largest seen (200):
    # p50 = rank 1 of 2 = the top of (25, 50]; p95 = rank 1.9 = 100 + (200 - 100) * 0.9
    assert latency.decisions == 2
    assert latency.p50_ms == pytest.approx(50.0, abs=0.1)
    assert latency.p95_ms == pytest.approx(190.0, abs=0.5)
    assert latency.max_ms == pytest.approx(200.0, abs=0.5)


def test_unfiltered_figures_add_every_campaign(bank):
    kpis_compute_day(actor=ACTOR, day=DAY)
    total = _report(bank).total
    assert (total.released, total.accepts, total.conversions) == (19, 5, 6)
    assert total.revenue == Decimal("550.00")
    channel = _report(bank, channel="email").total
    assert (channel.released, channel.conversions) == (5, 1)
    offer = _report(bank, offer=bank.help).total
    assert (offer.released, offer.accepts, offer.conversions) == (1, 1, 0)


def test_recomputing_a_day_replaces_its_rows(bank):
    first = kpis_compute_day(actor=ACTOR, day=DAY)
    counts = [m.objects.count() for m in (OfferDay, SegmentDay, AdoptionDay, LatencyDay)]
    again = kpis_compute_day(actor=ACTOR, day=DAY)
    assert [m.objects.count() for m in (OfferDay, SegmentDay, AdoptionDay, LatencyDay)] == counts
    assert again.rows == first.rows
    assert KpiComputation.objects.get(day=DAY).rows == first.rows
    # a late purchase by a control customer shows on the next computation
    control = OfferDay.objects.get(day=DAY, group="control")
    assert control.conversions == 1
    Holding.objects.create(
        customer_id=_a_control_customer_without_card(bank),
        product_code="CARD_P",
        opened_at=DAY + datetime.timedelta(days=10),
    )
    kpis_compute_day(actor=ACTOR, day=DAY)
    assert OfferDay.objects.get(day=DAY, group="control").conversions == 2
    assert (
        sum(SegmentDay.objects.filter(group="control").values_list("conversions", flat=True)) == 2
    )


def _a_control_customer_without_card(bank) -> int:
    from decisioning.models import Decision

    return (
        Decision.objects.filter(control_group=True)
        .exclude(customer__holdings__product_code="CARD_P")
        .values_list("customer_id", flat=True)
        .first()
    )


def test_days_outside_the_decisions_are_computed_empty(bank):
    done = kpis_compute_day(actor=ACTOR, day=DAY - datetime.timedelta(days=1))
    assert (done.rows, done.treated, done.control) == (0, 0, 0)
    assert KpiComputation.objects.filter(day=DAY - datetime.timedelta(days=1)).exists()


def test_shadow_decisions_count_nowhere(bank):
    from decisioning.models import Decision

    Decision.objects.update(shadow=True)
    done = kpis_compute_day(actor=ACTOR, day=DAY)
    assert (done.treated, done.control) == (0, 0)
    assert not OfferDay.objects.exists()


def test_a_reversed_day_range_is_refused(db):
    from core.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        kpi_days(since=DAY, until=DAY - datetime.timedelta(days=1), days=None)
    assert "since" in refused.value.fields
    assert len(kpi_days(since=DAY - datetime.timedelta(days=2), until=DAY, days=None)) == 3
