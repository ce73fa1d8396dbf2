"""A model reading the engagement history is scored by the engine as of the decision's
clock: the scalar and batch engines agree, the explanation names the model, and the score
follows the customer's recent history."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from decisioning.engine import CustomerBatch, ModelSpec, decide, decide_batch
from decisioning.engine.features import engagement_value
from decisioning.engine.timeutil import to_us

from .builders import NOW, batch, campaign, contact, customer, offer, snapshot

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
FEATURES = (
    "age",
    "engagement.offers_7d:cards",
    "engagement.accepts_7d:cards",
    "engagement.declines_7d:cards",
    "engagement.days_since_response:cards",
)
COEFFICIENTS = (0.01, 0.2, 0.9, -0.7, -0.15)
MODEL = ModelSpec("SAVINGS", "3", FEATURES, COEFFICIENTS, intercept=-1.0, calibration_a=0.95)


def _cards(at, outcome=None, answered=None):
    # a service contact of another family: counted by the engagement history, never by
    # the sales caps, so every customer below stays eligible for the savings offer
    return contact(
        "GOLD",
        at,
        product="GOLD_CARD",
        kind="service",
        campaign_id=None,
        outcome=outcome,
        outcome_at=answered,
    )


def _people():
    return [
        customer(1, age=30),
        customer(2, age=45, contact_history=[_cards(NOW - 2 * DAY, "accept", NOW - 2 * DAY)]),
        customer(
            3,
            age=52,
            contact_history=[
                _cards(NOW - 6 * DAY, "decline", NOW - 5 * DAY),
                _cards(NOW - 1 * DAY, "accept", NOW - 20 * HOUR),
                _cards(NOW - 3 * DAY),
            ],
        ),
        # outside the window, and answered only after the clock: neither counts
        customer(
            4,
            age=61,
            contact_history=[
                _cards(NOW - 9 * DAY, "accept", NOW - 9 * DAY),
                _cards(NOW - 1 * DAY, "decline", NOW + HOUR),
            ],
        ),
    ]


def _snapshot(audience: str = ""):
    return snapshot(
        [offer("SAVE", "SAVINGS")],
        [campaign(1, ["SAVE"], kind="batch", channels=("email",), audience=audience)],
        models=[MODEL],
    )


def _expected(person) -> float:
    now_us = to_us(NOW)
    z = MODEL.intercept + COEFFICIENTS[0] * person.age
    for coef, name in zip(COEFFICIENTS[1:], FEATURES[1:], strict=True):
        stat, family = name[len("engagement.") :].split(":")
        z += coef * engagement_value(stat, family, person.contact_history, now_us)
    return 1 / (1 + math.exp(-(MODEL.calibration_a * z)))


def test_an_engagement_model_scores_the_same_in_decide_and_decide_batch():
    snap, people = _snapshot(), _people()
    scalar = []
    for person in people:
        decision = decide(snap, person, batch(1))
        (released,) = decision.offers
        scalar.append(released.factors.propensity)
    result = decide_batch(snap, CustomerBatch.from_contexts(people), batch(1))
    assert result.released.all()
    vectorised = result.chosen_propensity[:, 0]
    assert np.array_equal(vectorised, scalar)
    assert np.allclose(scalar, [_expected(person) for person in people], rtol=0, atol=1e-12)
    # the engagement history, not only age, moved the scores
    assert len({round(p, 9) for p in scalar}) == len(people)


def test_the_explanation_factors_name_the_engagement_model():
    decision = decide(_snapshot(), _people()[2], batch(1))
    factors = decision.offers[0].factors
    assert (factors.source, factors.model_version) == ("model", "3")
    assert decision.model_versions == {"SAVINGS": "3"}
    explained = decision.to_dict()
    assert "3" in str(explained) and "model" in str(explained)


def test_an_engagement_model_changes_its_score_when_recent_history_changes():
    snap = _snapshot()
    quiet = customer(7, age=40)
    accepted = customer(7, age=40, contact_history=[_cards(NOW - DAY, "accept", NOW - DAY)])
    stale = customer(7, age=40, contact_history=[_cards(NOW - 8 * DAY, "accept", NOW - 8 * DAY)])

    def propensity(person) -> float:
        return decide(snap, person, batch(1)).offers[0].factors.propensity

    assert propensity(accepted) > propensity(quiet)
    # older than the engagement window: as if it never happened
    assert propensity(stale) == propensity(quiet)
    # the same history read a week later has left the window too
    later = decide(snap, accepted, batch(1, now=NOW + 8 * DAY)).offers[0].factors.propensity
    assert later == propensity(quiet)


def test_a_likelihood_rule_on_an_engagement_model_reads_the_decisions_clock():
    # only recent card accepters reach the target band (see _expected)
    snap = _snapshot(audience='likelihood("SAVINGS") >= "target"')
    people = _people()
    bands = [_expected(person) >= 0.5 for person in people]
    assert any(bands) and not all(bands)
    scalar = [bool(decide(snap, person, batch(1)).offers) for person in people]
    result = decide_batch(snap, CustomerBatch.from_contexts(people), batch(1))
    assert scalar == bands
    assert result.in_audience.tolist() == bands
