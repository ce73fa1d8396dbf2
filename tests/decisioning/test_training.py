import datetime

import numpy as np
import pytest

from core.exceptions import ValidationFailed
from customers.models import Customer
from customers.pseudonyms import pseudonym_for
from decisioning.decisions.explanation import decision_explanation
from decisioning.decisions.inbound import decide_inbound
from decisioning.decisions.snapshots import snapshots
from decisioning.learning.registry import model_train
from decisioning.models import PropensityModel, Response
from ledger.models import AuditRecord
from tests.decisioning.catalog import small_bank

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


def _history(offer, size=800, seed=3):
    """Acceptance rises with salary and falls with age: learnable, like the seeded bank."""
    rng = np.random.default_rng(seed)
    salary = rng.uniform(600, 6000, size)
    age = rng.integers(18, 80, size)
    customers = Customer.objects.bulk_create(
        Customer(
            external_id=f"T{i:05d}",
            pseudonym=pseudonym_for(f"T{i:05d}"),
            birth_date=datetime.date(2026 - int(age[i]), 6, 1),
            attributes={"salary": float(salary[i]), "gender": "f" if i % 2 else "m"},
            income_band="high" if salary[i] > 3500 else "middle",
        )
        for i in range(size)
    )
    p = 1 / (1 + np.exp(-(-2.0 + 0.0009 * (salary - 3000) - 0.04 * (age - 45))))
    accepted = rng.random(size) < p
    Response.objects.bulk_create(
        Response(
            response_id=f"R{i}",
            customer=customer,
            offer=offer,
            outcome="accept" if accepted[i] else "decline",
            occurred_at=NOW - datetime.timedelta(days=30),
            channel="email",
            body_hash="x",
        )
        for i, customer in enumerate(customers)
    )
    return customers


def test_trained_model_beats_chance_is_activated_audited_and_used_by_the_engine():
    bank = small_bank()
    _history(bank.savings)
    model = model_train(actor="system:test", product=bank.savings.product)
    assert model.status == "active"
    assert model.metrics["auc"] > 0.7
    assert "attributes.salary" in model.inputs
    assert "holds:SAVINGS_PLUS" not in model.inputs  # the label would leak
    assert AuditRecord.objects.filter(kind="model", action="model_activated").exists()

    rich = Customer.objects.filter(attributes__salary__gt=5500).first()
    poor = Customer.objects.filter(attributes__salary__lt=800).first()
    loaded = snapshots.get(NOW)
    assert bank.savings.product.code in loaded.engine.models
    scores = {}
    for person in (rich, poor):
        decision = decide_inbound(
            actor="api:b", customer=person, channel="branch", max_offers=3, now=NOW
        )
        candidate = next(
            c
            for c in decision_explanation(decision)["candidates"]
            if c["offer_code"] == "SAVINGS_RETAIN"
        )
        assert candidate["score_factors"]["model_version"] == str(model.version)
        scores[person.pk] = candidate["score_factors"]["propensity"]
    assert scores[rich.pk] > scores[poor.pk]


def test_protected_attributes_are_refused_for_a_credit_product():
    bank = small_bank()
    _history(bank.personal_loan)
    with pytest.raises(ValidationFailed, match="Protected"):
        model_train(
            actor="system:test",
            product=bank.personal_loan.product,
            features=("age", "attributes.gender"),
        )
    assert not PropensityModel.objects.exists()


def test_a_product_without_enough_history_gets_no_model():
    bank = small_bank()
    with pytest.raises(ValidationFailed, match="labelled responses"):
        model_train(actor="system:test", product=bank.fuel_card.product)
