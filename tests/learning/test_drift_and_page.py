"""Drift checks, the beat and on-demand tasks, and the console's models page."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from customers.models import Customer
from decisioning.learning.drift import PSI_FLAG, model_drift_check, psi, reference_bins
from decisioning.learning.registry import model_train
from decisioning.models import Decision, ModelDriftCheck, PropensityModel
from decisioning.tasks import check_model_drift, train_models
from tests.decisioning.catalog import small_bank
from tests.factories import persona
from tests.learning.history import history

pytestmark = pytest.mark.django_db


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shifted_one():
    rng = np.random.default_rng(1)
    reference = reference_bins(rng.normal(0, 1, 5000))
    assert psi(reference, rng.normal(0, 1, 5000)) < 0.02
    assert psi(reference, rng.normal(1.0, 1, 5000)) > PSI_FLAG


def _scored(customers, now):
    Decision.objects.bulk_create(
        Decision(customer=c, mode="inbound", channel="web", created_at=now, snapshot_version="t")
        for c in customers
    )


def test_drift_check_flags_an_input_whose_recent_customers_moved():
    bank = small_bank()
    history(bank.savings)
    model = model_train(actor="system:test", product=bank.savings.product)
    now = datetime.datetime.now(datetime.UTC)
    recent = list(Customer.objects.order_by("pk")[:300])
    for c in recent:
        c.attributes = {**c.attributes, "salary": c.attributes["salary"] + 6000}
    Customer.objects.bulk_update(recent, ["attributes"])
    _scored(recent, now)
    check = model_drift_check(actor="system:test", model=model, now=now)
    assert check.scored_customers == 300
    assert "attributes.salary" in check.flagged
    assert check.psi["attributes.salary"] > PSI_FLAG
    assert check.psi["tenure_months"] < PSI_FLAG


def test_beat_schedules_nightly_training_and_hourly_drift_checks():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"decisioning.train_models", "decisioning.check_model_drift"} <= tasks


def test_the_training_task_trains_one_product_on_demand_and_drift_task_runs():
    bank = small_bank()
    history(bank.savings)
    train_models.delay("SAVINGS_PLUS")
    model = PropensityModel.objects.get(product__code="SAVINGS_PLUS")
    assert model.trained_by == "system:train_models"
    _scored(Customer.objects.all()[:50], datetime.datetime.now(datetime.UTC))
    check_model_drift.delay()
    assert ModelDriftCheck.objects.filter(model=model).count() == 1


@pytest.fixture
def trained():
    bank = small_bank()
    history(bank.savings)
    champion = model_train(actor="system:test", product=bank.savings.product)
    challenger = model_train(actor="system:test", product=bank.savings.product, features=("age",))
    return champion, challenger


def test_models_page_shows_champion_challenger_and_why_a_version_is_not_active(client, trained):
    champion, challenger = trained
    client.force_login(persona("analyst", "analyst"))
    page = client.get(reverse("decisioning:model_list"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "SAVINGS_PLUS" in text and f"{champion.auc:.3f}" in text
    assert "does not beat" in text
    detail = client.get(reverse("decisioning:model_detail", args=["SAVINGS_PLUS"]))
    body = detail.content.decode()
    assert "<svg" in body and "<polyline" in body and "Calibration" in body
    assert "Feature importance" in body and "attributes.salary" in body
    assert "hist_gradient_boosting" in body and "logistic_regression" in body
    other = client.get(
        reverse("decisioning:model_detail", args=["SAVINGS_PLUS"])
        + f"?version={challenger.version}"
    )
    assert "Not active" in other.content.decode() and "does not beat" in other.content.decode()
    assert "cdn" not in body.lower()


def test_models_page_is_role_checked(client, trained):
    client.force_login(persona("outsider"))
    assert client.get(reverse("decisioning:model_list")).status_code == 403
    client.force_login(persona("admin", "admin"))
    assert client.get(reverse("decisioning:model_list")).status_code == 200
    response = client.post(reverse("decisioning:model_train", args=["SAVINGS_PLUS"]))
    assert response.status_code == 403  # admins run the system, they do not train models


def test_unknown_product_or_version_is_404(client, trained):
    client.force_login(persona("analyst", "analyst"))
    assert client.get(reverse("decisioning:model_detail", args=["NOPE"])).status_code == 404
    url = reverse("decisioning:model_detail", args=["SAVINGS_PLUS"]) + "?version=99"
    assert client.get(url).status_code == 404
