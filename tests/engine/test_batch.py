"""``decide_batch`` agrees with ``decide``, customer by customer; simulation from its result."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decisioning.engine import (
    OUTBOUND_CHANNELS,
    AttributeColumn,
    CampaignOffer,
    ContactRecord,
    CustomerBatch,
    CustomerContext,
    DecisionRequest,
    EventRecord,
    ModelSpec,
    NumberColumn,
    Rule,
    StringColumn,
    SuppressionSpec,
    decide,
    decide_batch,
    reasons,
    summarize,
)
from decisioning.engine.timeutil import to_us

from .builders import (
    NOW,
    PRODUCTS,
    campaign,
    contact,
    contact_policy,
    customer,
    offer,
    snapshot,
)
from .strategies import PRODUCT_CODES, nodes, profiles, times

HARDSHIP = ("payment_failed", "overdraft", "missed_loan_payment")
OFFER_CODES = ("O1", "O2", "O3", "O4", "O5", "O6")
FEATURES = (
    "age",
    "tenure_months",
    "income_band=high",
    "holds:SAVINGS",
    "attributes.salary",
    "has_email",
)


def rules(draw: st.DrawFn) -> str:
    return draw(st.one_of(st.just(""), nodes.map(lambda node: Rule(node).to_text())))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 6))
    offers = []
    for code in OFFER_CODES[:count]:
        kind = draw(st.sampled_from(("sales", "sales", "service")))
        weights = {}
        if kind == "service" and draw(st.booleans()):
            weights[draw(st.sampled_from(HARDSHIP))] = 2.0
        offers.append(
            offer(
                code,
                draw(st.sampled_from(PRODUCT_CODES)),
                channels=draw(
                    st.lists(st.sampled_from(OUTBOUND_CHANNELS), unique=True, max_size=3)
                ),
                eligibility=rules(draw) if draw(st.booleans()) else "",
                kind=kind,
                status=draw(st.sampled_from(("active", "active", "active", "paused"))),
                valid_until=draw(st.sampled_from((None, None, NOW, NOW + timedelta(days=1)))),
                lever=draw(st.sampled_from((0.5, 1.0, 2.0))),
                prior_presented=draw(st.sampled_from((0, 10, 100))),
                prior_accepted=draw(st.sampled_from((0, 3, 7))),
                cooldown_days=draw(st.sampled_from((0, 0, 3))),
                trigger_weights=weights,
                value=draw(st.sampled_from((None, 10.0, 300.0))),
            )
        )
    arms = draw(st.sampled_from(("A", "AB")))
    entries = [
        CampaignOffer(o.code, draw(st.sampled_from(arms)), draw(st.sampled_from((0.0, 1.0, 3.0))))
        for o in offers
    ]
    target = campaign(
        7,
        entries,
        kind="batch",
        channels=draw(st.lists(st.sampled_from(OUTBOUND_CHANNELS), unique=True, max_size=3)),
        audience=rules(draw) if draw(st.booleans()) else "",
        control_group_pct=draw(st.sampled_from((0.0, 0.0, 30.0, 100.0))),
        daily_volume_limit=draw(st.sampled_from((None, None, 0, 2, 5))),
        per_customer_cap=draw(st.sampled_from((None, None, 1, 2))),
        shadow=draw(st.booleans()) and draw(st.booleans()),
        status=draw(st.sampled_from(("running", "running", "running", "draft"))),
    )
    policy = contact_policy(
        daily_cap=draw(st.sampled_from((1, 2))),
        weekly_cap=draw(st.sampled_from((2, 3))),
        fatigue_ignored_in_row=draw(st.sampled_from((0, 2, 3))),
        quiet_start=draw(st.sampled_from((time(21), time(8), time(0)))),
        quiet_end=time(8),
        quiet_channels=frozenset(draw(st.lists(st.sampled_from(OUTBOUND_CHANNELS), max_size=2))),
    )
    models = []
    for product in draw(st.lists(st.sampled_from(PRODUCT_CODES), unique=True, max_size=3)):
        names = tuple(draw(st.lists(st.sampled_from(FEATURES), unique=True, max_size=4)))
        models.append(
            ModelSpec(
                product_code=product,
                version="v1",
                feature_names=names,
                coefficients=tuple(draw(st.sampled_from((-0.5, 0.01, 0.3))) for _ in names),
                intercept=draw(st.sampled_from((-3.0, 0.0))),
                calibration_a=draw(st.sampled_from((1.0, 0.8))),
            )
        )
    return {
        "snapshot": snapshot(offers, [target], policy=policy, models=models),
        "now": NOW
        + draw(st.sampled_from((timedelta(0), timedelta(hours=10), timedelta(hours=-7)))),
        "max_offers": draw(st.sampled_from((None, 1, 2))),
    }


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    codes = (*OFFER_CODES, "OTHER")
    records = [
        ContactRecord(
            offer_code=draw(st.sampled_from(codes)),
            product_code=(product := draw(st.sampled_from(PRODUCT_CODES))),
            family=PRODUCTS[product].family,
            campaign_id=draw(st.sampled_from((7, 8, None))),
            channel=draw(st.sampled_from(("push", "sms", "email", "web", "branch"))),
            kind=draw(st.sampled_from(("sales", "sales", "service"))),
            released_at=draw(times),
            outcome=draw(
                st.sampled_from((None, "impression", "click", "accept", "decline", "dismiss"))
            ),
            outcome_at=draw(st.one_of(st.none(), times)),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    events = [
        EventRecord(draw(st.sampled_from((*HARDSHIP, "app_login"))), draw(times))
        for _ in range(draw(st.integers(0, 2)))
    ]
    suppressions = [
        SuppressionSpec(
            scope=(
                scope := draw(
                    st.sampled_from(("all", "family", "product", "offer", "channel", "odd"))
                )
            ),
            value={
                "all": "",
                "family": draw(st.sampled_from(("cards", "loans", "deposits"))),
                "product": draw(st.sampled_from(PRODUCT_CODES)),
                "offer": draw(st.sampled_from(codes)),
                "channel": draw(st.sampled_from(OUTBOUND_CHANNELS)),
                "odd": "x",
            }[scope],
            until=draw(st.one_of(st.none(), times, st.just(NOW + timedelta(days=3)))),
        )
        for _ in range(draw(st.integers(0, 1)))
    ]
    consents = {
        channel: value
        for channel in OUTBOUND_CHANNELS
        if (value := draw(st.sampled_from((True, True, False, None)))) is not None
    }
    return {
        "contact_history": tuple(records),
        "recent_events": tuple(events),
        "suppressions": tuple(suppressions),
        "consents": consents,
        "global_opt_out": draw(st.booleans()) and draw(st.booleans()),
        "do_not_contact": draw(st.booleans()) and draw(st.booleans()),
        "erased": draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()),
    }


@st.composite
def people(draw: st.DrawFn) -> list[CustomerContext]:
    size = draw(st.integers(1, 12))
    return [
        CustomerContext(
            **draw(profiles(customer_id=draw(st.integers(1, 10**9)))), **draw(histories())
        )
        for _ in range(size)
    ]


def scalar_view(decision, shadow: bool) -> tuple[list[tuple[str, str, bool]], bool, str]:
    if shadow:
        offers = list(decision.shadow)
        control = any(o.held_out for o in offers)
        outcome = decision.shadow_outcome or reasons.NO_CANDIDATES
    else:
        offers = sorted([*decision.offers, *decision.would_have_offered], key=lambda o: o.rank)
        control, outcome = decision.control_group, decision.outcome
    return (
        [(o.offer_code, o.channel, o.deliver_after is not None) for o in offers],
        control,
        outcome,
    )


@given(scenarios(), people(), st.integers(1, 5))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_batch_and_scalar_decide_agree_customer_by_customer(scenario, contexts, chunk_size):
    snap, now = scenario["snapshot"], scenario["now"]
    plan = snap.plans[7]
    request = DecisionRequest(
        mode="batch", now=now, campaign_ids=frozenset({7}), max_offers=scenario["max_offers"]
    )
    result = decide_batch(
        snap, CustomerBatch.from_contexts(contexts), request, chunk_size=chunk_size
    )
    released_so_far = 0
    for row, context in enumerate(contexts):
        decision = decide(
            snap,
            context,
            DecisionRequest(
                mode="batch",
                now=now,
                campaign_ids=frozenset({7}),
                max_offers=scenario["max_offers"],
                campaign_volume_today={7: released_so_far},
            ),
        )
        offers, control, outcome = scalar_view(decision, plan.shadow)
        batch_offers = [
            (code, channel, deferred) for code, channel, _, deferred in result.offers_of(row)
        ]
        assert batch_offers == offers, (row, decision.to_dict()["candidates"])
        assert bool(result.control[row]) == control
        assert result.outcome_of(row) == outcome
        picked = (
            decision.shadow
            if plan.shadow
            else sorted([*decision.offers, *decision.would_have_offered], key=lambda o: o.rank)
        )
        for slot, released in enumerate(picked):
            assert result.chosen_score[row, slot] == pytest.approx(released.score, rel=1e-12)
            if released.deliver_after is not None:
                assert result.deliver_after_us[row, slot] == to_us(released.deliver_after)
        if outcome == reasons.RELEASED:
            released_so_far += 1
    assert result.volume_used == released_so_far


def test_volume_limit_is_filled_in_batch_order_and_carried_across_chunks():
    snap = snapshot(
        [offer("GOLD")],
        [campaign(3, ["GOLD"], kind="batch", channels=("email",), daily_volume_limit=5)],
    )
    contexts = [customer(i) for i in range(1, 13)]
    request = DecisionRequest(
        mode="batch", now=NOW, campaign_ids=frozenset({3}), campaign_volume_today={3: 2}
    )
    result = decide_batch(snap, CustomerBatch.from_contexts(contexts), request, chunk_size=2)
    assert [result.outcome_of(i) for i in range(12)] == ["released"] * 3 + ["volume_limit"] * 9
    assert result.volume_used == 5


def test_batch_from_columns_matches_batch_from_contexts():
    snap = snapshot(
        [
            offer("GOLD", eligibility="attributes.salary > 1000 and region == 'North'"),
            offer("SAVE", "SAVINGS"),
        ],
        [
            campaign(
                3, ["GOLD", "SAVE"], kind="batch", channels=("push", "email"), audience="age >= 18"
            )
        ],
    )
    contexts = [
        customer(1, age=30, attributes={"salary": 2000}),  # GOLD by push
        customer(2, age=17, attributes={"salary": 2000}),
        customer(3, age=40, region="East", attributes={"salary": 5000}, consents={"email": True}),
        customer(
            4,
            age=50,
            attributes={"salary": 3000},
            holdings={"SAVINGS"},
            contact_history=[contact("X", NOW - timedelta(hours=1), product="FUND")],
        ),
    ]
    history = [(3, record) for record in contexts[3].contact_history]
    from decisioning.engine import ContactLog

    columns = CustomerBatch.from_columns(
        [1, 2, 3, 4],
        columns={
            "age": np.array([30, 17, 40, 50], dtype=float),
            "region": StringColumn(np.array([0, 0, 1, 0], dtype=np.int32), ("North", "East")),
            "time_zone": ["UTC"] * 4,
        },
        attributes={"salary": AttributeColumn.from_numbers([2000, 2000, 5000, 3000])},
        product_codes=("SAVINGS",),
        holdings=np.array([[False], [False], [False], [True]]),
        consents={
            "push": np.array([1, 1, 0, 1], dtype=np.int8),
            "email": np.array([1, 1, 1, 1], dtype=np.int8),
            "sms": [1, 1, 0, 1],
        },
        contacts=ContactLog.from_records(history),
    )
    request = DecisionRequest(mode="batch", now=NOW, campaign_ids=frozenset({3}))
    expected = decide_batch(snap, CustomerBatch.from_contexts(contexts), request)
    result = decide_batch(snap, columns, request)
    assert [result.offers_of(i) for i in range(4)] == [expected.offers_of(i) for i in range(4)]
    assert [result.outcome_of(i) for i in range(4)] == [
        "released",
        "not_in_audience",
        "released",
        "frequency_cap",
    ]
    assert result.offers_of(0) == [("GOLD", "push", 15.0, False)]
    assert result.offers_of(2) == [("SAVE", "email", 7.5, False)]
    assert isinstance(columns.columns["age"], NumberColumn)


def test_simulation_reports_audience_funnel_control_and_expected_conversions():
    snap = snapshot(
        [offer("GOLD", prior_presented=80, prior_accepted=19)],  # propensity (19+1)/(80+20) = 0.2
        [
            campaign(
                3,
                ["GOLD"],
                kind="batch",
                channels=("email",),
                audience="age >= 30",
                control_group_pct=25,
            )
        ],
    )
    contexts = [customer(i, age=20 + i % 20, do_not_contact=i % 10 == 0) for i in range(1, 4001)]
    result = decide_batch(
        snap,
        CustomerBatch.from_contexts(contexts),
        DecisionRequest(mode="batch", now=NOW, campaign_ids=frozenset({3})),
    )
    report = summarize(result)
    assert report.customers == 4000
    assert report.audience_size == 2000
    assert report.funnel["not_in_audience"] == 2000
    assert report.funnel["do_not_contact"] == 200
    assert report.released_customers + report.control_group_size == 1800
    assert report.control_group_size == pytest.approx(450, abs=60)
    assert report.expected_conversions == pytest.approx(0.2 * report.released_customers)
    assert report.by_channel == {"email": report.offers_released}
    assert sum(report.funnel.values()) == 4000
    assert result.candidate_counts["not_in_audience"] == 2000
    assert result.candidate_counts["passed"] == 1800
    assert report.to_dict()["funnel"] == report.funnel


def test_campaign_without_offers_has_no_candidates_in_batch_and_scalar():
    snap = snapshot([offer("GOLD")], [campaign(3, [], kind="batch", channels=("email",))])
    request = DecisionRequest(mode="batch", now=NOW, campaign_ids=frozenset({3}))
    result = decide_batch(snap, CustomerBatch.from_contexts([customer(1), customer(2)]), request)
    assert [result.outcome_of(i) for i in range(2)] == ["no_candidates"] * 2
    assert decide(snap, customer(1), request).outcome == "no_candidates"
