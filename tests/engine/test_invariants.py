"""Invariants over random journeys: events, inbound visits, consent changes and responses.

Each step decides, applies the released offers to the customer's contact history (and
responses to it), and checks what must always hold: nothing released without consent
or to an opted-out / do-not-contact customer, caps never exceeded in any 24 h or 7-day
window, no credit sales within 30 days of a hardship signal, no product re-offered
within 30 days of its decline, quiet hours respected, and the same inputs giving the
same decision.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decisioning.engine import (
    OUTBOUND_CHANNELS,
    CustomerContext,
    Decision,
    DecisionRequest,
    EventRecord,
    decide,
)
from decisioning.engine.timeutil import quiet_hours, zone

from .builders import (
    NOW,
    campaign,
    contact_policy,
    customer,
    offer,
    snapshot,
    with_released,
    with_response,
)

POLICY = contact_policy()
EVENTS = ("app_login", "card_transaction", "payment_failed", "salary_deposit", "overdraft")
INBOUND = ("mobile_app", "web", "contact_center")

SNAPSHOT = snapshot(
    [
        offer("GOLD", "GOLD_CARD"),
        offer("FUEL", "FUEL_CARD", trigger_weights={"card_transaction": 3.0}),
        offer("LOAN", "PERSONAL_LOAN", lever=2.0),
        offer("SAVE", "SAVINGS", trigger_weights={"salary_deposit": 2.0}),
        offer("FUND", "FUND", channels=("push", "email", "web")),
        offer("INSURE", "HOME_INSURANCE", cooldown_days=3),
        offer(
            "HELP",
            "CURRENT_ACCOUNT",
            kind="service",
            trigger_weights={"payment_failed": 2.0, "overdraft": 2.0},
        ),
    ],
    [
        campaign(1, ["GOLD", "LOAN", "SAVE", "FUND", "INSURE"], kind="inbound", channels=INBOUND),
        campaign(
            2,
            ["FUEL", "GOLD", "HELP"],
            kind="realtime",
            triggers={"card_transaction", "payment_failed", "overdraft"},
            channels=("push", "sms"),
        ),
        campaign(
            3,
            ["SAVE", "FUND", "LOAN", "HELP"],
            kind="realtime",
            triggers={"salary_deposit", "app_login", "payment_failed"},
            channels=("sms", "email", "push"),
            control_group_pct=20,
        ),
        campaign(4, ["INSURE", "FUND"], kind="batch", channels=("email", "push")),
        campaign(
            5,
            ["LOAN", "GOLD"],
            kind="realtime",
            triggers={"app_login"},
            channels=("push",),
            shadow=True,
        ),
    ],
    policy=POLICY,
)
PRODUCT_OF = {code: o.product.code for code, o in SNAPSHOT.offers.items()}
CREDIT = {code for code, o in SNAPSHOT.offers.items() if o.product.is_credit}

steps = st.one_of(
    st.tuples(st.just("event"), st.sampled_from(EVENTS)),
    st.tuples(st.just("inbound"), st.sampled_from(INBOUND)),
    st.tuples(st.just("batch"), st.just(4)),
    st.tuples(
        st.just("consent"),
        st.sampled_from((*OUTBOUND_CHANNELS, *INBOUND)),
        st.sampled_from((True, False, None)),
    ),
    st.tuples(
        st.just("respond"), st.sampled_from(("impression", "click", "accept", "decline", "dismiss"))
    ),
    st.tuples(
        st.just("flag"), st.sampled_from(("global_opt_out", "do_not_contact")), st.booleans()
    ),
)


def check_release(decision: Decision, person: CustomerContext, now) -> None:
    hardship = any(
        e.type in POLICY.hardship_event_types
        and e.occurred_at > now - timedelta(days=POLICY.hardship_days)
        for e in person.recent_events
    )
    declined = {
        r.product_code
        for r in person.contact_history
        if r.outcome == "decline" and (r.outcome_at or r.released_at) > now - timedelta(days=30)
    }
    quiet = quiet_hours(now, zone(person.time_zone), POLICY.quiet_start, POLICY.quiet_end)
    families = [o.family for o in decision.offers]
    assert len(families) == len(set(families))
    for released in decision.offers:
        assert not released.shadow and not released.held_out
        source = SNAPSHOT.offers[released.offer_code]
        assert released.content == source.contents[released.channel]
        assert source.status == "active"
        if released.kind == "sales":
            consent = person.consents.get(released.channel)
            assert (
                consent is True if released.channel in OUTBOUND_CHANNELS else consent is not False
            )
            assert not person.global_opt_out and not person.do_not_contact
            assert not (hardship and released.offer_code in CREDIT)
            assert PRODUCT_OF[released.offer_code] not in declined
            assert released.family not in {SNAPSHOT.products[c].family for c in person.holdings}
        if released.channel in POLICY.quiet_channels:
            assert released.deliver_after == quiet
        else:
            assert released.deliver_after is None


def check_caps(person: CustomerContext) -> None:
    sales = sorted(r.released_at for r in person.contact_history if r.kind == "sales")
    for at in sales:
        day = sum(1 for t in sales if at - timedelta(days=1) < t <= at)
        week = sum(1 for t in sales if at - timedelta(days=7) < t <= at)
        assert day <= POLICY.daily_cap and week <= POLICY.weekly_cap


def check_presented_elsewhere(person: CustomerContext) -> None:
    history = sorted(person.contact_history, key=lambda r: r.released_at)
    for later_index, second in enumerate(history):
        if second.kind != "sales":
            continue
        window = second.released_at - timedelta(days=POLICY.presented_elsewhere_days)
        for first in history[:later_index]:
            if (
                first.offer_code == second.offer_code
                and first.channel != second.channel
                and first.released_at > window
            ):
                engaged = any(
                    r.offer_code == second.offer_code
                    and r.outcome in ("click", "accept")
                    and r.released_at > window
                    and r.outcome_at is not None
                    and r.outcome_at <= second.released_at
                    for r in history
                )
                assert engaged, (first, second)


@given(
    st.lists(st.tuples(steps, st.integers(0, 3 * 24 * 60)), min_size=1, max_size=30),
    st.sampled_from(("UTC", "Europe/Paris", "America/New_York")),
    st.integers(1, 10**6),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_journeys_keep_every_rule(journey, time_zone, customer_id):
    person = customer(customer_id, time_zone=time_zone, consents={"push": True, "email": True})
    now = NOW
    last_offer: str | None = None
    for step, minutes in journey:
        now = now + timedelta(minutes=minutes)
        kind: Any = step[0]
        if kind == "consent":
            consents = dict(person.consents)
            if step[2] is None:
                consents.pop(step[1], None)
            else:
                consents[step[1]] = step[2]
            person = dataclasses.replace(person, consents=consents)
            continue
        if kind == "flag":
            person = dataclasses.replace(person, **{step[1]: step[2]})
            continue
        if kind == "respond":
            if last_offer is not None:
                person = with_response(person, last_offer, step[1], now)
                last_offer = None
            continue
        if kind == "event":
            if step[1] in POLICY.hardship_event_types:
                person = dataclasses.replace(
                    person, recent_events=(*person.recent_events, EventRecord(step[1], now))
                )
            request = DecisionRequest(mode="event", now=now, event_type=step[1])
        elif kind == "inbound":
            request = DecisionRequest(mode="inbound", now=now, channel=step[1])
        else:
            request = DecisionRequest(mode="batch", now=now, campaign_ids=frozenset({step[1]}))
        decision = decide(SNAPSHOT, person, request)
        assert decide(SNAPSHOT, person, request) == decision  # deterministic
        check_release(decision, person, now)
        person = with_released(person, decision)
        if decision.offers:
            last_offer = decision.offers[0].offer_code
    check_caps(person)
    check_presented_elsewhere(person)
