"""The registry: the better algorithm kept, champion against challenger, the AUC floor,
fair lending, time-ordered hold-out, and the engine using what is active."""

from __future__ import annotations

import numpy as np
import pytest

from core.exceptions import ValidationFailed
from decisioning.decisions.snapshots import snapshots
from decisioning.learning.dataset import training_set
from decisioning.learning.fitting import split, split_salt
from decisioning.learning.registry import MIN_AUC, model_train
from decisioning.models import PropensityModel
from ledger.models import AuditRecord
from tests.decisioning.catalog import small_bank
from tests.learning.history import NOW, history

pytestmark = pytest.mark.django_db


def test_a_trained_version_records_its_held_out_figures_and_becomes_active():
    bank = small_bank()
    history(bank.savings)
    model = model_train(actor="system:test", product=bank.savings.product)
    assert model.status == "active"
    assert model.auc > 0.7 and 0 < model.brier < 0.25
    assert {c["algorithm"] for c in model.candidates} == {
        "logistic_regression",
        "hist_gradient_boosting",
    }
    assert (
        model.algorithm.split("+")[0] == max(model.candidates, key=lambda c: c["auc"])["algorithm"]
    )
    assert model.holdout_method == "time" and model.holdout_rows == 160
    assert model.training_rows == 640
    assert model.window_start < model.window_end <= NOW
    assert len(model.calibration_curve) == 10
    assert sum(p["count"] for p in model.calibration_curve) == 160
    assert "attributes.salary" in [name for name, _ in model.feature_importance[:3]]
    assert set(model.reference) == set(model.inputs)
    assert "no active version" in model.status_reason
    assert sum(model.metrics["bands"].values()) == 160
    assert snapshots.get(NOW).engine.models["SAVINGS_PLUS"].version == str(model.version)


def test_the_held_out_rows_are_the_most_recent_when_the_history_has_dates():
    bank = small_bank()
    history(bank.savings)
    data = training_set(bank.savings.product)
    parts = split(data)
    assert parts.method == "time"
    assert data.occurred_at[parts.holdout].min() >= data.occurred_at[parts.calibrate].max()
    assert data.occurred_at[parts.calibrate].min() >= data.occurred_at[parts.fit].max()


def test_undated_history_is_held_out_by_a_hash_of_each_response_whatever_the_seed():
    bank = small_bank()
    history(bank.savings, dated=False)
    data = training_set(bank.savings.product)
    parts = split(data)
    assert parts.method == "random" and parts.salt == split_salt(0)
    assert abs(len(parts.holdout) / len(data.y) - 0.2) < 0.05
    assert 0 < data.y[parts.holdout].sum() < len(parts.holdout)
    # the seed draws the calibration part, never the hold-out
    other = split(data, seed=7, salt=parts.salt)
    assert np.array_equal(other.holdout, parts.holdout)
    assert not np.array_equal(other.calibrate, parts.calibrate)
    assert not set(parts.training) & set(parts.holdout)
    # a response stays held out (or not) when the history grows
    held = set(data.response_ids[parts.holdout].tolist())
    history(bank.savings, size=300, dated=False, prefix="N", seed=9)
    grown = training_set(bank.savings.product)
    again = split(grown, salt=parts.salt)
    old = np.isin(grown.response_ids, data.response_ids)
    assert set(grown.response_ids[again.holdout][old[again.holdout]].tolist()) == held


def test_a_version_that_does_not_beat_the_active_one_is_kept_unused_with_the_reason():
    bank = small_bank()
    history(bank.savings)
    champion = model_train(actor="system:test", product=bank.savings.product)
    weak = model_train(actor="system:test", product=bank.savings.product, features=("age",))
    assert weak.auc >= MIN_AUC and weak.status == "candidate"
    assert "does not beat" in weak.status_reason
    assert f"active v{champion.version}" in weak.status_reason
    assert weak.challenged["version"] == champion.version
    assert weak.challenged["auc"] == pytest.approx(champion.auc, abs=1e-9)
    # dated: the most recent rows, after everything the champion trained on
    assert champion.metrics["split"]["method"] == "time"
    assert weak.challenged["rows"] == weak.holdout_rows and weak.challenged["fair"]
    champion.refresh_from_db()
    assert champion.status == "active"
    assert AuditRecord.objects.filter(kind="model", action="model_trained").exists()


def test_a_better_version_replaces_the_active_one():
    bank = small_bank()
    history(bank.savings)
    weak = model_train(
        actor="system:test", product=bank.savings.product, features=("age", "has_email")
    )
    strong = model_train(actor="system:test", product=bank.savings.product)
    weak.refresh_from_db()
    assert strong.status == "active" and "beats active v1" in strong.status_reason
    assert weak.status == "retired" and "replaced by v2" in weak.status_reason


def test_a_model_below_the_auc_floor_never_scores_and_the_product_falls_back():
    bank = small_bank()
    history(bank.savings, signal=0.0, seed=11)
    model = model_train(actor="system:test", product=bank.savings.product)
    assert model.auc < MIN_AUC
    assert model.status == "candidate" and "below the floor" in model.status_reason
    assert "SAVINGS_PLUS" not in snapshots.get(NOW).engine.models


def test_a_protected_attribute_or_declared_proxy_is_refused_for_a_credit_product():
    bank = small_bank()
    history(bank.personal_loan)
    for feature in ("attributes.gender=f", "attributes.marital=single"):
        with pytest.raises(ValidationFailed, match="fair lending"):
            model_train(
                actor="system:test",
                product=bank.personal_loan.product,
                features=("age", feature),
            )
    assert not PropensityModel.objects.exists()


def test_default_features_of_a_credit_product_leave_protected_attributes_out():
    bank = small_bank()
    history(bank.personal_loan)
    model = model_train(actor="system:test", product=bank.personal_loan.product)
    assert not [name for name in model.inputs if "gender" in name]


def test_four_fifths_ratio_is_reported_and_flagged_for_credit_products():
    bank = small_bank()
    history(bank.personal_loan, size=1200, gender_bias=2500.0)
    model = model_train(actor="system:test", product=bank.personal_loan.product)
    gender = model.fairness["attributes"]["gender"]
    assert set(gender["rates"]) == {"f", "m"}
    assert gender["ratio"] == pytest.approx(
        min(gender["rates"].values()) / max(gender["rates"].values()), abs=1e-3
    )
    assert gender["flagged"] is True and model.fairness["flagged"] == ["gender"]


def test_non_credit_products_get_no_fair_lending_report():
    bank = small_bank()
    history(bank.savings, gender_bias=2500.0)
    assert model_train(actor="system:test", product=bank.savings.product).fairness == {}
