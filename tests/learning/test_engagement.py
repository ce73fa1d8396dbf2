"""Engagement-history features: one customer and a batch agree, training reads them as of
each response's own decision, never the answer being learned, and the engine scores a
model trained on them as of the decision's clock."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from customers.models import Customer
from customers.pseudonyms import pseudonym_for
from decisioning.decisions.snapshots import snapshots
from decisioning.engine import CustomerBatch, DecisionRequest, decide, decide_batch
from decisioning.engine.features import (
    ENGAGEMENT_DAYS,
    build_feature_matrix,
    build_feature_vector,
    engagement_names,
    forest_feature_name,
)
from decisioning.engine.timeutil import to_us
from decisioning.engine.types import ContactRecord, CustomerContext
from decisioning.learning.dataset import training_set
from decisioning.learning.registry import model_train
from decisioning.models import Contact, Decision, Response
from tests.decisioning.catalog import small_bank, weekly_batch
from tests.learning.history import NOW, history

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
FAMILY = {"SAVINGS_PLUS": "deposits", "CURRENT_ACCOUNT": "deposits", "PERSONAL_LOAN": "loans"}


def _contact(product, released, outcome=None, answered=None):
    return ContactRecord(
        offer_code=f"{product}_OFFER",
        product_code=product,
        family=FAMILY[product],
        campaign_id=None,
        channel="email",
        kind="sales",
        released_at=released,
        outcome=outcome,
        outcome_at=answered,
    )


def _customers() -> list[CustomerContext]:
    histories = [
        (),
        (
            _contact("SAVINGS_PLUS", NOW - 2 * DAY, "accept", NOW - 2 * DAY + 3 * HOUR),
            _contact("CURRENT_ACCOUNT", NOW - 5 * DAY, "decline", NOW - 4 * DAY),
            _contact("PERSONAL_LOAN", NOW - 1 * DAY, "dismiss", NOW - 20 * HOUR),
        ),
        (
            # outside the window, at the clock, answered after the clock, never answered
            _contact("SAVINGS_PLUS", NOW - 8 * DAY, "accept", NOW - 8 * DAY + HOUR),
            _contact("SAVINGS_PLUS", NOW, "accept", NOW + HOUR),
            _contact("SAVINGS_PLUS", NOW - 3 * DAY, "accept", NOW),
            _contact("CURRENT_ACCOUNT", NOW - 6 * DAY, "impression", NOW - 6 * DAY),
            _contact("PERSONAL_LOAN", NOW - 3 * DAY),
            _contact("PERSONAL_LOAN", NOW - 4 * DAY, "click", NOW - 3 * DAY - 7 * HOUR),
        ),
    ]
    return [
        CustomerContext(customer_id=i + 1, contact_history=contacts)
        for i, contacts in enumerate(histories)
    ]


def test_engagement_counts_the_window_before_the_clock_per_family():
    names = (
        "engagement.offers_7d:deposits",
        "engagement.accepts_7d:deposits",
        "engagement.declines_7d:deposits",
        "engagement.days_since_response:deposits",
        "engagement.offers_7d:loans",
        "engagement.declines_7d:loans",
        "engagement.days_since_response:loans",
    )
    rows = [build_feature_vector(c, names, now_us=to_us(NOW)) for c in _customers()]
    assert rows[0] == (0.0, 0.0, 0.0, ENGAGEMENT_DAYS, 0.0, 0.0, ENGAGEMENT_DAYS)
    assert rows[1] == (2.0, 1.0, 1.0, 2 - 3 / 24, 1.0, 1.0, 20 / 24)
    # in the window and before the clock: the SAVINGS_PLUS release 3 days ago (its answer
    # at the clock itself does not count) and the impression; the loan click is an answer
    assert rows[2] == (2.0, 0.0, 0.0, ENGAGEMENT_DAYS, 2.0, 0.0, 3 + 7 / 24)


def test_engagement_features_are_the_same_for_one_customer_and_for_a_batch():
    customers = _customers()
    names = engagement_names()
    # a forest over engagement and profile inputs, as a tree model exports it
    forest = forest_feature_name(
        {
            "inputs": ["engagement.accepts_7d:deposits", "engagement.days_since_response:loans"],
            "feature": [0, 0, 0, 1, 0, 0, 0],
            "threshold": [0.5, 1e308, 1e308, 3.1, 1e308, 1e308, 1e308],
            "left": [1, 1, 2, 4, 4, 5, 6],
            "right": [2, 1, 2, 5, 4, 5, 6],
            "value": [0.0, -0.4, 0.9, 0.0, 0.3, -0.2, 0.0],
            "roots": [0, 3],
            "depth": 1,
        }
    )
    names = (*names, forest)
    for now in (NOW, NOW - 3 * DAY + HOUR, NOW + 10 * DAY):
        scalar = np.array([build_feature_vector(c, names, now_us=to_us(now)) for c in customers])
        batch = CustomerBatch.from_contexts(customers).source(FAMILY)
        vectorised = build_feature_matrix(batch, names, now_us=to_us(now))
        assert np.array_equal(scalar, vectorised)
    assert scalar.shape == (3, len(names))


def test_engagement_features_refuse_to_guess_without_the_clock():
    customer = _customers()[1]
    with pytest.raises(ValueError, match="needs the clock"):
        build_feature_vector(customer, ("engagement.offers_7d:deposits",))
    with pytest.raises(ValueError, match="needs the clock"):
        build_feature_matrix(
            CustomerBatch.from_contexts([customer]).source(FAMILY),
            ("engagement.offers_7d:deposits",),
        )


def _decided(customer, offer, released, outcome, answered, *, linked=True):
    """A release of ``offer`` at ``released`` answered with ``outcome`` at ``answered``:
    the contact the engine keeps and the response the trainer learns from."""
    decision = Decision.objects.create(
        customer=customer, mode="inbound", created_at=released, snapshot_version="t"
    )
    Contact.objects.create(
        customer=customer,
        decision=decision,
        offer=offer,
        product_code=offer.product.code,
        family=offer.product.family,
        kind="sales",
        channel="email",
        released_at=released,
        outcome=outcome,
        outcome_at=answered,
    )
    return Response.objects.create(
        response_id=f"{customer.pk}-{released.isoformat()}",
        customer=customer,
        decision=decision if linked else None,
        offer=offer,
        outcome=outcome,
        occurred_at=answered,
        channel="email",
        body_hash="x",
    )


@pytest.mark.django_db
def test_training_rows_read_engagement_as_of_their_own_decision_never_their_answer():
    bank = small_bank()
    customers = history(bank.savings, size=300)
    first, second = customers[0], customers[1]
    t1, t2 = NOW - 3 * DAY, NOW - 1 * DAY
    accepted = _decided(first, bank.savings, t1, "accept", t1 + HOUR)
    declined = _decided(first, bank.savings, t2, "decline", t2 + HOUR)
    # a response the trainer cannot tie to its release: as of the moment it happened
    unlinked = _decided(second, bank.savings, t1, "accept", t1 + 2 * HOUR, linked=False)
    names = (
        "attributes.salary",
        "engagement.offers_7d:deposits",
        "engagement.accepts_7d:deposits",
        "engagement.declines_7d:deposits",
        "engagement.days_since_response:deposits",
    )
    data = training_set(bank.savings.product, names)

    def row(response):
        at = np.datetime64(response.occurred_at.replace(tzinfo=None), "us")
        (found,) = np.flatnonzero(
            (data.customer_ids == response.customer_id) & (data.occurred_at == at)
        )
        return dict(zip(names, data.X[found], strict=True)), data.y[found]

    features, label = row(accepted)
    assert label == 1.0
    # its own release and its own acceptance come at or after its clock: neither counts
    assert features["engagement.offers_7d:deposits"] == 0.0
    assert features["engagement.accepts_7d:deposits"] == 0.0
    assert features["engagement.days_since_response:deposits"] == ENGAGEMENT_DAYS
    features, label = row(declined)
    assert label == 0.0
    # the earlier acceptance counts; its own decline does not
    assert features["engagement.offers_7d:deposits"] == 1.0
    assert features["engagement.accepts_7d:deposits"] == 1.0
    assert features["engagement.declines_7d:deposits"] == 0.0
    assert features["engagement.days_since_response:deposits"] == 2 - 1 / 24
    features, label = row(unlinked)
    assert label == 1.0
    assert features["engagement.offers_7d:deposits"] == 1.0  # released before it happened
    assert features["engagement.accepts_7d:deposits"] == 0.0  # answered at its own moment
    # profile features are the customer's, on every row
    assert features["attributes.salary"] == second.attributes["salary"]


def _engaged_history(bank, size=400):
    """Savings responses over 200 days, accepted far more often by customers who accepted
    a personal loan two days before (the engagement history the model should learn)."""
    rng = np.random.default_rng(5)
    customers = Customer.objects.bulk_create(
        Customer(
            external_id=f"E{i:05d}",
            pseudonym=pseudonym_for(f"E{i:05d}"),
            birth_date=datetime.date(1980, 6, 1),
            attributes={"salary": 2000.0},
        )
        for i in range(size)
    )
    engaged = np.arange(size) % 2 == 0
    accepted = rng.random(size) < np.where(engaged, 0.6, 0.08)
    for i, customer in enumerate(customers):
        at = NOW - (200 - i * 200 // size) * DAY
        if engaged[i]:
            _decided(customer, bank.personal_loan, at - 2 * DAY, "accept", at - 2 * DAY + HOUR)
        Response.objects.create(
            response_id=f"ES{i}",
            customer=customer,
            offer=bank.savings,
            outcome="accept" if accepted[i] else "decline",
            occurred_at=at,
            channel="email",
            body_hash="x",
        )


@pytest.mark.django_db
def test_engagement_features_are_defaults_and_a_trained_model_reading_them_is_scored():
    bank = small_bank()
    campaign = weekly_batch(bank)
    _engaged_history(bank)
    data = training_set(bank.savings.product)
    assert "engagement.accepts_7d:loans" in data.features  # a default
    model = model_train(
        actor="system:test",
        product=bank.savings.product,
        features=("age", "engagement.accepts_7d:loans", "engagement.days_since_response:loans"),
    )
    assert model.status == "active" and model.auc > 0.7
    snap = snapshots.get(NOW).engine
    assert snap.models["SAVINGS_PLUS"].version == str(model.version)

    def person(customer_id, history=()):
        # 19: too young for the loan offer, so the savings offer is the one released
        return CustomerContext(
            customer_id=customer_id,
            external_id=f"P{customer_id}",
            age=19,
            consents={"email": True, "sms": True, "push": True},
            contact_history=tuple(history),
        )

    recent = _contact("PERSONAL_LOAN", NOW - 2 * DAY, "accept", NOW - 2 * DAY + HOUR)
    stale = _contact("PERSONAL_LOAN", NOW - 9 * DAY, "accept", NOW - 9 * DAY + HOUR)
    people = [person(1), person(2, [recent]), person(3, [stale])]
    request = DecisionRequest(mode="batch", now=NOW, campaign_ids=frozenset({campaign.pk}))
    scalar = []
    for context in people:
        decision = decide(snap, context, request)
        (released,) = decision.offers
        assert released.offer_code == "SAVINGS_RETAIN"
        assert (released.factors.source, released.factors.model_version) == (
            "model",
            str(model.version),
        )
        scalar.append(released.factors.propensity)
    result = decide_batch(snap, CustomerBatch.from_contexts(people), request)
    assert result.released.all()
    assert result.chosen_propensity[:, 0].tolist() == scalar
    # a recent loan acceptance raises the savings score; one outside the window does not
    assert scalar[1] > scalar[0] + 0.2
    assert scalar[2] == scalar[0]
