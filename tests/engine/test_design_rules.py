"""One test (or a few) per rule of DESIGN.md "Rules the engine must keep"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from decisioning.engine import (
    CampaignOffer,
    SuppressionSpec,
    decide,
    reasons,
)

from .builders import (
    NOW,
    batch,
    campaign,
    contact,
    contact_policy,
    customer,
    event,
    hardship,
    inbound,
    later,
    offer,
    snapshot,
    with_released,
    with_response,
)

OUTBOUND = ("push", "sms", "email")


def realtime(id: int, offers: list[str], channels=OUTBOUND, triggers=("app_login",), **fields):
    return campaign(id, offers, kind="realtime", triggers=triggers, channels=channels, **fields)


def reasons_by_offer(decision):
    return {item.offer_code: item.reason for item in decision.suppressed}


# --- rule 1: consent, opt-out, do-not-contact, erasure -------------------------------------


def test_outbound_offer_needs_explicit_channel_consent():
    snap = snapshot([offer("GOLD")], [realtime(1, ["GOLD"])])
    none = decide(snap, customer(consents={}), event("app_login"))
    assert none.offers == ()
    assert reasons_by_offer(none) == {"GOLD": reasons.NO_CONSENT}

    sms_only = decide(snap, customer(consents={"push": False, "sms": True}), event("app_login"))
    assert [(o.offer_code, o.channel) for o in sms_only.offers] == [("GOLD", "sms")]


def test_inbound_channel_is_open_unless_revoked():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"])])
    assert decide(snap, customer(consents={}), inbound("web")).offers[0].channel == "web"
    revoked = decide(snap, customer(consents={"web": False}), inbound("web"))
    assert revoked.offers == ()
    assert reasons_by_offer(revoked) == {"GOLD": reasons.NO_CONSENT}


def test_global_opt_out_blocks_sales_on_every_channel():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"]), realtime(2, ["GOLD"])])
    opted_out = customer(global_opt_out=True)
    for request in (inbound("branch"), inbound("mobile_app"), event("app_login")):
        decision = decide(snap, opted_out, request)
        assert decision.offers == ()
        assert decision.outcome == reasons.GLOBAL_OPT_OUT


def test_do_not_contact_blocks_sales_on_every_channel():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"]), realtime(2, ["GOLD"])])
    flagged = customer(do_not_contact=True)
    for request in (inbound("contact_center"), event("app_login")):
        decision = decide(snap, flagged, request)
        assert decision.offers == ()
        assert decision.outcome == reasons.DO_NOT_CONTACT


def test_an_outbound_channel_needs_an_address_and_the_next_reachable_channel_is_chosen():
    snap = snapshot([offer("GOLD")], [realtime(1, ["GOLD"])])  # push, sms, email
    no_device = decide(snap, customer(addresses=frozenset({"email"})), event("app_login"))
    assert [(o.offer_code, o.channel) for o in no_device.offers] == [("GOLD", "email")]
    (candidate,) = no_device.candidates
    push = next(trace for trace in candidate.channels if trace.channel == "push")
    assert [v.rule for v in push.verdicts if not v.passed] == [reasons.NO_CONTACT]

    nowhere = decide(snap, customer(addresses=frozenset()), event("app_login"))
    assert nowhere.offers == ()
    assert reasons_by_offer(nowhere) == {"GOLD": reasons.NO_CONTACT}
    # unknown addresses (a context built without them) are not checked
    assert decide(snap, customer(), event("app_login")).offers[0].channel == "push"


def test_a_service_action_is_not_dropped_for_want_of_an_address():
    snap = snapshot([offer("HELP", kind="service")], [realtime(1, ["HELP"])])
    decision = decide(snap, customer(addresses=frozenset()), event("app_login"))
    assert [o.offer_code for o in decision.offers] == ["HELP"]  # the gate reroutes or owes it
    assert any(e.rule == reasons.NO_CONTACT and e.would_have_blocked for e in decision.exemptions)


def test_erased_customer_gets_nothing_not_even_service_actions():
    snap = snapshot(
        [offer("GOLD"), offer("HELP", "CURRENT_ACCOUNT", kind="service")],
        [campaign(1, ["GOLD", "HELP"]), realtime(2, ["GOLD", "HELP"])],
    )
    erased = customer(erased=True)
    for request in (inbound("web"), event("app_login")):
        decision = decide(snap, erased, request)
        assert decision.offers == () and decision.would_have_offered == ()
        assert set(reasons_by_offer(decision).values()) == {reasons.ERASED}


# --- rule 2: approved content of active offers in running campaigns ------------------------


def test_only_active_offers_inside_their_validity_window_are_released():
    snap = snapshot(
        [
            offer("PAUSED", "GOLD_CARD", status="paused"),
            offer("FUTURE", "PERSONAL_LOAN", valid_from=NOW + timedelta(days=1)),
            offer("ENDED", "MORTGAGE", valid_until=NOW),
            offer("LIVE", "SAVINGS", valid_from=NOW - timedelta(days=1), valid_until=later(days=1)),
        ],
        [campaign(1, ["PAUSED", "FUTURE", "ENDED", "LIVE"])],
    )
    decision = decide(snap, customer(), inbound(max_offers=4))
    assert [o.offer_code for o in decision.offers] == ["LIVE"]
    assert reasons_by_offer(decision) == {
        "PAUSED": reasons.OFFER_NOT_ACTIVE,
        "FUTURE": reasons.OFFER_NOT_ACTIVE,
        "ENDED": reasons.OFFER_NOT_ACTIVE,
    }


def test_offer_without_approved_content_on_a_channel_is_suppressed_there():
    snap = snapshot(
        [offer("GOLD", channels=("sms", "mobile_app"))],
        [campaign(1, ["GOLD"], channels=("web", "mobile_app")), realtime(2, ["GOLD"])],
    )
    web = decide(snap, customer(), inbound("web"))
    assert web.offers == ()
    assert reasons_by_offer(web) == {"GOLD": reasons.CONTENT_NOT_APPROVED}
    # outbound: push has no approved content, so the next channel with content is used
    pushed = decide(snap, customer(), event("app_login"))
    assert [(o.channel, o.content.version) for o in pushed.offers] == [("sms", 1)]
    assert pushed.offers[0].content.offer_code == "GOLD"


def test_campaign_that_is_not_running_releases_nothing():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"], status="paused")])
    decision = decide(snap, customer(), inbound())
    assert decision.offers == () and decision.outcome == reasons.NO_CANDIDATES


def test_batch_run_of_a_campaign_that_is_not_running_is_evaluated_as_shadow_only():
    snap = snapshot(
        [offer("GOLD")], [campaign(1, ["GOLD"], kind="batch", channels=OUTBOUND, status="draft")]
    )
    decision = decide(snap, customer(), batch(1))
    assert decision.offers == ()
    assert [o.offer_code for o in decision.shadow] == ["GOLD"]
    assert decision.shadow_outcome == reasons.RELEASED


# --- rule 3: contact policy ------------------------------------------------------------------


def test_daily_cap_counts_sales_releases_on_every_channel_inbound_included():
    snap = snapshot(
        [offer("GOLD"), offer("LOAN", "PERSONAL_LOAN")],
        [campaign(1, ["GOLD", "LOAN"]), realtime(2, ["GOLD", "LOAN"])],
    )
    person = customer(
        contact_history=[contact("X", later(hours=-3), channel="branch", product="FUND")]
    )
    for request in (inbound("web"), event("app_login")):
        decision = decide(snap, person, request)
        assert decision.offers == ()
        assert decision.outcome == reasons.FREQUENCY_CAP
        verdict = decision.candidates[0].verdicts[-1]
        assert verdict.rule == reasons.FREQUENCY_CAP and verdict.detail["released_24h"] == 1


def test_weekly_cap_allows_three_sales_releases_in_seven_days():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"])])
    two = [contact("X", later(days=-d), product="FUND") for d in (2, 4)]
    assert decide(snap, customer(contact_history=two), inbound()).offers
    three = [*two, contact("Y", later(days=-6), product="SAVINGS", outcome="click")]
    assert decide(snap, customer(contact_history=three), inbound()).outcome == reasons.FREQUENCY_CAP
    # a release 7 days ago has left the window
    old = [*two, contact("Y", later(days=-7), product="SAVINGS", outcome="click")]
    assert decide(snap, customer(contact_history=old), inbound()).offers


def test_request_for_more_offers_than_the_budget_releases_what_fits_and_marks_the_rest():
    snap = snapshot(
        [offer("GOLD"), offer("LOAN", "PERSONAL_LOAN"), offer("SAVE", "SAVINGS")],
        [campaign(1, ["GOLD", "LOAN", "SAVE"])],
        policy=contact_policy(daily_cap=2, weekly_cap=5),
    )
    person = customer(
        contact_history=[contact("X", later(hours=-1), product="FUND", outcome="click")]
    )
    decision = decide(snap, person, inbound(max_offers=3))
    assert [o.offer_code for o in decision.offers] == ["LOAN"]  # the best one fits
    assert reasons_by_offer(decision) == {
        "GOLD": reasons.FREQUENCY_CAP,
        "SAVE": reasons.FREQUENCY_CAP,
    }


def test_push_in_quiet_hours_is_deferred_to_0800_local_not_dropped():
    snap = snapshot([offer("GOLD")], [realtime(1, ["GOLD"], channels=("push",))])
    paris = ZoneInfo("Europe/Paris")
    night = datetime(2024, 3, 12, 22, 30, tzinfo=paris)
    decision = decide(snap, customer(time_zone="Europe/Paris"), event("app_login", now=night))
    (released,) = decision.offers
    assert released.channel == "push"
    assert released.deliver_after == datetime(2024, 3, 13, 8, 0, tzinfo=paris)
    assert any(note.startswith(reasons.QUIET_HOURS) for note in released.reasons)
    early = datetime(2024, 3, 13, 6, 0, tzinfo=paris)
    assert decide(snap, customer(time_zone="Europe/Paris"), event("app_login", now=early)).offers[
        0
    ].deliver_after == datetime(2024, 3, 13, 8, 0, tzinfo=paris)
    day = datetime(2024, 3, 13, 8, 0, tzinfo=paris)
    assert (
        decide(snap, customer(time_zone="Europe/Paris"), event("app_login", now=day))
        .offers[0]
        .deliver_after
        is None
    )


def test_quiet_hours_prefer_a_channel_that_is_open_and_use_the_customer_time_zone():
    snap = snapshot([offer("GOLD")], [realtime(1, ["GOLD"], channels=("sms", "email"))])
    # 03:00 UTC is 22:00 the day before in New York: quiet there, and e-mail is not quiet
    night_in_new_york = datetime(2024, 3, 13, 3, 0, tzinfo=UTC)
    decision = decide(
        snap, customer(time_zone="America/New_York"), event("app_login", now=night_in_new_york)
    )
    assert [(o.channel, o.deliver_after) for o in decision.offers] == [("email", None)]
    # the same instant is 04:00 in London: quiet too; in Tokyo (12:00) sms goes at once
    tokyo = decide(
        snap, customer(time_zone="Asia/Tokyo"), event("app_login", now=night_in_new_york)
    )
    assert [(o.channel, o.deliver_after) for o in tokyo.offers] == [("sms", None)]


def test_decline_suppresses_same_product_on_every_channel_for_30_days():
    snap = snapshot(
        [offer("GOLD"), offer("GOLD_WEB", "GOLD_CARD")],
        [campaign(1, ["GOLD", "GOLD_WEB"]), realtime(2, ["GOLD"])],
    )
    declined = contact(
        "GOLD", later(days=-29), channel="branch", outcome="decline", product="GOLD_CARD"
    )
    person = customer(contact_history=[declined])
    for request in (inbound("web"), inbound("atm"), event("app_login")):
        decision = decide(snap, person, request)
        assert decision.offers == ()
        assert set(reasons_by_offer(decision).values()) == {reasons.COOLDOWN_AFTER_DECLINE}
    expired = customer(
        contact_history=[contact("GOLD", later(days=-30), outcome="decline", product="GOLD_CARD")]
    )
    assert decide(snap, expired, inbound("web")).offers


def test_three_ignored_sales_offers_in_a_row_start_a_14_day_back_off():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"])])
    ignored = [
        contact("A", later(days=-20), product="FUND", outcome="impression"),
        contact("B", later(days=-15), product="SAVINGS", outcome="dismiss"),
        contact("C", later(days=-13), product="MORTGAGE"),  # no response at all
    ]
    decision = decide(snap, customer(contact_history=ignored), inbound())
    assert decision.outcome == reasons.FATIGUE_BACKOFF
    verdict = next(v for v in decision.candidates[0].verdicts if v.rule == reasons.FATIGUE_BACKOFF)
    assert verdict.detail["ignored_in_row"] == 3
    assert verdict.detail["until"] == later(days=1)
    assert decide(snap, customer(contact_history=ignored), inbound(now=later(days=1))).offers


def test_a_click_breaks_the_run_of_ignored_offers():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"])])
    history = [
        contact("A", later(days=-12), product="FUND"),
        contact("B", later(days=-11), product="SAVINGS"),
        contact("C", later(days=-10), product="MORTGAGE", outcome="click"),
        contact("D", later(days=-9), product="FUND"),
        contact("E", later(days=-8), product="FUND"),
    ]
    assert decide(snap, customer(contact_history=history), inbound()).offers


def test_held_product_family_is_never_offered():
    snap = snapshot(
        [offer("GOLD"), offer("FUEL", "FUEL_CARD"), offer("SAVE", "SAVINGS")],
        [campaign(1, ["GOLD", "FUEL", "SAVE"])],
    )
    decision = decide(snap, customer(holdings={"FUEL_CARD"}), inbound(max_offers=3))
    assert [o.offer_code for o in decision.offers] == ["SAVE"]
    assert reasons_by_offer(decision) == {
        "GOLD": reasons.HOLDS_PRODUCT,
        "FUEL": reasons.HOLDS_PRODUCT,
    }


def test_same_offer_is_not_presented_on_another_channel_within_7_days():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"])])
    shown = customer(
        contact_history=[contact("GOLD", later(days=-6), channel="push", product="GOLD_CARD")]
    )
    decision = decide(snap, shown, inbound("web"))
    assert reasons_by_offer(decision) == {"GOLD": reasons.PRESENTED_ELSEWHERE}
    old = customer(
        contact_history=[contact("GOLD", later(days=-7), channel="push", product="GOLD_CARD")]
    )
    assert decide(snap, old, inbound("web")).offers


def test_click_allows_follow_up_on_another_channel():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"])])
    clicked = customer(
        contact_history=[
            contact("GOLD", later(days=-2), channel="push", product="GOLD_CARD", outcome="click")
        ]
    )
    decision = decide(snap, clicked, inbound("web"))
    assert [o.offer_code for o in decision.offers] == ["GOLD"]
    assert any("continue the conversation" in note for note in decision.offers[0].reasons)


def test_one_offer_per_product_family_and_top_n_per_channel():
    snap = snapshot(
        [
            offer("GOLD", lever=3.0),
            offer("FUEL", "FUEL_CARD", lever=9.0),
            offer("LOAN", "PERSONAL_LOAN"),
            offer("SAVE", "SAVINGS"),
            offer("FUND", "FUND"),
        ],
        [campaign(1, ["GOLD", "FUEL", "LOAN", "SAVE", "FUND"])],
        policy=contact_policy(daily_cap=5, weekly_cap=5),
    )
    decision = decide(snap, customer(), inbound(max_offers=2))
    assert [o.offer_code for o in decision.offers] == ["FUEL", "LOAN"]  # 1080, 40 (FUND 20)
    assert [o.rank for o in decision.offers] == [1, 2]
    assert reasons_by_offer(decision)["GOLD"] == reasons.FAMILY_ALREADY_OFFERED
    assert reasons_by_offer(decision)["FUND"] == reasons.MAX_OFFERS_REACHED


def test_contact_policy_is_configurable():
    policy = contact_policy(
        version=7,
        daily_cap=2,
        decline_cooldown_days=5,
        presented_elsewhere_days=1,
        quiet_start=time(22, 0),
        quiet_end=time(6, 0),
    )
    snap = snapshot(
        [offer("GOLD"), offer("LOAN", "PERSONAL_LOAN")],
        [realtime(1, ["GOLD", "LOAN"], channels=("push",))],
        policy=policy,
    )
    history = [
        contact("X", later(hours=-2), product="FUND", outcome="click"),
        contact("GOLD", later(days=-6), outcome="decline", product="GOLD_CARD"),
    ]
    night = datetime(2024, 3, 12, 21, 30, tzinfo=UTC)
    decision = decide(snap, customer(contact_history=history), event("app_login", now=night))
    assert [o.offer_code for o in decision.offers] == ["LOAN"]  # the second of two a day
    # the decline is 6 days old: past the 5-day cooldown, GOLD only lost the budget
    assert reasons_by_offer(decision) == {"GOLD": reasons.FREQUENCY_CAP}
    assert decision.offers[0].deliver_after is None  # quiet only from 22:00
    assert decision.policy_version == 7
    gold_only = snapshot(
        [offer("GOLD")], [realtime(1, ["GOLD"], channels=("push",))], policy=policy
    )
    shown = customer(
        contact_history=[contact("GOLD", later(days=-2), channel="sms", product="GOLD_CARD")]
    )
    decision = decide(gold_only, shown, event("app_login", now=night))
    assert [o.offer_code for o in decision.offers] == ["GOLD"]  # "elsewhere" lasts 1 day here


# --- rule 4: control group ------------------------------------------------------------------


def test_control_group_gets_no_offer_but_records_what_would_have_been_offered():
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"], control_group_pct=100)])
    decision = decide(snap, customer(), inbound())
    assert decision.offers == ()
    assert decision.control_group is True
    assert decision.outcome == reasons.CONTROL_GROUP
    assert [o.offer_code for o in decision.would_have_offered] == ["GOLD"]
    assert decision.would_have_offered[0].held_out
    assert reasons_by_offer(decision) == {"GOLD": reasons.CONTROL_GROUP}
    assert decision.to_dict()["control_group"] is True


def test_control_group_is_deterministic_per_campaign_and_customer():
    snap = snapshot(
        [offer("GOLD")],
        [campaign(1, ["GOLD"], control_group_pct=30), campaign(2, ["GOLD"], control_group_pct=30)],
    )
    one = [
        decide(snap, customer(i), inbound(campaign_ids=frozenset({1}))).control_group
        for i in range(300)
    ]
    again = [
        decide(snap, customer(i), inbound(campaign_ids=frozenset({1}))).control_group
        for i in range(300)
    ]
    other = [
        decide(snap, customer(i), inbound(campaign_ids=frozenset({2}))).control_group
        for i in range(300)
    ]
    assert one == again
    assert one != other  # a different campaign draws a different holdout


# --- rule 5: explanations -------------------------------------------------------------------


def test_decision_explains_candidates_verdicts_factors_and_versions():
    snap = snapshot(
        [
            offer("GOLD", eligibility="age >= 18"),
            offer("LOAN", "PERSONAL_LOAN", eligibility="age >= 40"),
        ],
        [campaign(1, ["GOLD", "LOAN"])],
        version="snap-42",
    )
    decision = decide(snap, customer(age=30), inbound())
    assert {c.offer_code: c.outcome for c in decision.candidates} == {
        "GOLD": "released",
        "LOAN": "ineligible",
    }
    loan = next(c for c in decision.candidates if c.offer_code == "LOAN")
    assert loan.verdicts[-1].rule == reasons.INELIGIBLE
    assert loan.verdicts[-1].detail == {"rule": "age >= 40", "values": {"age": 30}}
    gold = next(c for c in decision.candidates if c.offer_code == "GOLD")
    assert [v.rule for v in gold.verdicts] == [*reasons.CANDIDATE_STAGES, reasons.VOLUME_LIMIT]
    assert all(v.passed for v in gold.verdicts)
    assert [v.rule for v in gold.channels[0].verdicts] == list(reasons.CHANNEL_STAGES[1:])
    factors = decision.offers[0].factors
    assert (factors.propensity, factors.value, factors.lever, factors.context_weight) == (
        0.05,
        300.0,
        1.0,
        1.0,
    )
    assert decision.snapshot_version == "snap-42" and decision.policy_version == 1
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["offers"][0]["score_factors"]["propensity"] == 0.05
    assert data["suppressed"] == [
        {
            "offer_code": "LOAN",
            "campaign_id": 1,
            "campaign": "C1",
            "channel": None,
            "reason": "ineligible",
            "detail": {"rule": "age >= 40", "values": {"age": 30}},
            "shadow": False,
        }
    ]
    verdict = data["verdicts"][data["candidates"][1]["verdicts"][-1]]
    assert verdict == {
        "rule": "ineligible",
        "passed": False,
        "detail": {"rule": "age >= 40", "values": {"age": 30}},
    }


# --- rule 6: determinism (idempotency itself is Django-side) -------------------------------


def test_same_inputs_give_the_same_decision():
    snap = snapshot(
        [offer("GOLD"), offer("LOAN", "PERSONAL_LOAN")],
        [
            campaign(
                1, [CampaignOffer("GOLD", "A"), CampaignOffer("LOAN", "B")], control_group_pct=50
            )
        ],
    )
    for i in range(50):
        first = decide(snap, customer(i), inbound())
        assert decide(snap, customer(i), inbound()).to_dict() == first.to_dict()


# --- rule 7: one attention budget; service actions are exempt and audited -------------------


def test_service_action_is_exempt_from_consent_and_caps_and_each_exemption_is_listed():
    snap = snapshot(
        [offer("HELP", "CURRENT_ACCOUNT", kind="service"), offer("GOLD")],
        [realtime(1, ["HELP", "GOLD"], channels=("sms",))],
    )
    person = customer(
        consents={},
        global_opt_out=True,
        contact_history=[contact("X", later(hours=-1), product="FUND", outcome="click")],
    )
    decision = decide(snap, person, event("app_login"))
    assert [(o.offer_code, o.kind) for o in decision.offers] == [("HELP", "service")]
    assert reasons_by_offer(decision) == {"GOLD": reasons.GLOBAL_OPT_OUT}
    used = {e.rule for e in decision.exemptions if e.would_have_blocked}
    assert used == {reasons.GLOBAL_OPT_OUT, reasons.FREQUENCY_CAP, reasons.NO_CONSENT}
    listed = {e.rule for e in decision.exemptions}
    assert listed == {
        reasons.HOLDS_PRODUCT,
        reasons.HARDSHIP_PROTECTION,
        reasons.DO_NOT_CONTACT,
        reasons.GLOBAL_OPT_OUT,
        reasons.COOLDOWN_AFTER_DECLINE,
        reasons.FATIGUE_BACKOFF,
        reasons.FREQUENCY_CAP,
        reasons.NO_CONSENT,
        reasons.NO_CONTACT,
        reasons.PRESENTED_ELSEWHERE,
    }
    assert all(e.offer_code == "HELP" and e.channel == "sms" for e in decision.exemptions)
    assert json.dumps(decision.to_dict()["exemptions"])


def test_service_actions_do_not_use_the_attention_budget():
    snap = snapshot(
        [offer("HELP", "CURRENT_ACCOUNT", kind="service", lever=100.0), offer("GOLD")],
        [campaign(1, ["HELP", "GOLD"])],
    )
    decision = decide(snap, customer(), inbound(max_offers=3))
    assert [o.offer_code for o in decision.offers] == ["HELP", "GOLD"]
    person = with_released(customer(), decision)
    # the service release did not count: one sales offer was released today, the cap is 1
    again = decide(snap, person, inbound("web", now=later(hours=1)))
    assert reasons_by_offer(again)["GOLD"] == reasons.FREQUENCY_CAP


# --- rule 8: protection first ---------------------------------------------------------------


def test_hardship_event_suppresses_credit_sales_and_promotes_service_action():
    snap = snapshot(
        [
            offer("LOAN", "PERSONAL_LOAN", lever=10.0),
            offer("INVEST", "FUND"),
            offer(
                "PAYMENT_HELP",
                "CURRENT_ACCOUNT",
                kind="service",
                lever=0.01,
                trigger_weights={"payment_failed": 2.0},
            ),
        ],
        [realtime(1, ["LOAN", "INVEST", "PAYMENT_HELP"], triggers={"payment_failed", "app_login"})],
    )
    decision = decide(
        snap, customer(recent_events=[hardship(at=later(days=-3))]), event("app_login")
    )
    assert [o.offer_code for o in decision.offers] == ["PAYMENT_HELP", "INVEST"]
    assert decision.offers[0].score < decision.offers[1].score  # promoted, not out-scored
    assert reasons_by_offer(decision) == {"LOAN": reasons.HARDSHIP_PROTECTION}
    assert decision.hardship_events == ("payment_failed",)
    # the triggering event itself counts as the hardship signal
    fresh = decide(snap, customer(), event("payment_failed"))
    assert fresh.offers[0].offer_code == "PAYMENT_HELP"
    assert fresh.offers[0].factors.context_weight == 2.0
    assert reasons_by_offer(fresh)["LOAN"] == reasons.HARDSHIP_PROTECTION


def test_hardship_protection_lasts_30_days():
    snap = snapshot([offer("LOAN", "PERSONAL_LOAN")], [campaign(1, ["LOAN"])])
    recent = customer(recent_events=[hardship("overdraft", later(days=-29))])
    assert decide(snap, recent, inbound()).outcome == reasons.HARDSHIP_PROTECTION
    old = customer(recent_events=[hardship("overdraft", later(days=-30))])
    assert decide(snap, old, inbound()).offers


# --- beyond the anchors ------------------------------------------------------------------------


def test_shadow_campaign_is_evaluated_but_never_released():
    snap = snapshot(
        [offer("GOLD"), offer("SAVE", "SAVINGS")],
        [campaign(1, ["GOLD"], shadow=True), campaign(2, ["SAVE"])],
    )
    decision = decide(snap, customer(), inbound())
    assert [o.offer_code for o in decision.offers] == ["SAVE"]
    assert [o.offer_code for o in decision.shadow] == ["GOLD"] and decision.shadow[0].shadow
    assert decision.shadow_outcome == reasons.RELEASED


def test_daily_volume_limit_and_per_customer_cap_of_a_campaign():
    snap = snapshot(
        [offer("GOLD")], [campaign(1, ["GOLD"], daily_volume_limit=10, per_customer_cap=2)]
    )
    assert decide(snap, customer(), inbound(campaign_volume_today={1: 9})).offers
    assert (
        decide(snap, customer(), inbound(campaign_volume_today={1: 10})).outcome
        == reasons.VOLUME_LIMIT
    )
    twice = [
        contact("GOLD", later(days=-40), product="GOLD_CARD", campaign_id=1),
        contact("GOLD", later(days=-20), product="GOLD_CARD", campaign_id=1, outcome="click"),
    ]
    assert decide(snap, customer(contact_history=twice), inbound()).outcome == reasons.CAMPAIGN_CAP


def test_event_request_only_considers_campaigns_triggered_by_that_event():
    snap = snapshot(
        [
            offer("FUEL", "FUEL_CARD", trigger_weights={"card_transaction": 3.0}),
            offer("SAVE", "SAVINGS"),
        ],
        [
            realtime(1, ["FUEL"], triggers={"card_transaction"}),
            realtime(2, ["SAVE"], triggers={"salary_deposit"}),
        ],
    )
    decision = decide(snap, customer(), event("card_transaction"))
    assert [c.offer_code for c in decision.candidates] == ["FUEL"]
    assert decision.offers[0].factors.context_weight == 3.0
    assert decide(snap, customer(), event("unknown_type")).outcome == reasons.NO_CANDIDATES


def test_released_offers_feed_the_next_decision():
    snap = snapshot([offer("GOLD"), offer("SAVE", "SAVINGS")], [campaign(1, ["GOLD", "SAVE"])])
    first = decide(snap, customer(), inbound("web"))
    assert [o.offer_code for o in first.offers] == ["GOLD"]
    person = with_response(with_released(customer(), first), "GOLD", "accept", later(minutes=5))
    assert person.holdings == {"GOLD_CARD"}
    second = decide(snap, person, inbound("web", now=later(days=2)))
    assert [o.offer_code for o in second.offers] == ["SAVE"]
    assert reasons_by_offer(second)["GOLD"] == reasons.HOLDS_PRODUCT


def test_suppression_entries_apply_by_scope_until_they_expire():
    snap = snapshot(
        [offer("GOLD"), offer("SAVE", "SAVINGS")],
        [campaign(1, ["GOLD", "SAVE"]), realtime(2, ["GOLD"], channels=("push", "email"))],
    )
    by_family = customer(
        suppressions=[SuppressionSpec("family", "cards", later(days=1), "complaint")]
    )
    assert reasons_by_offer(decide(snap, by_family, inbound()))["GOLD"] == reasons.SUPPRESSED
    expired = customer(suppressions=[SuppressionSpec("offer", "GOLD", NOW, "old")])
    assert decide(snap, expired, inbound()).offers[0].offer_code == "GOLD"
    no_push = customer(suppressions=[SuppressionSpec("channel", "push")])
    assert decide(snap, no_push, event("app_login")).offers[0].channel == "email"
    everything = customer(suppressions=[SuppressionSpec("all")])
    assert decide(snap, everything, inbound()).outcome == reasons.SUPPRESSED
