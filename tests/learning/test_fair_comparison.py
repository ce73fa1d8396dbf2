"""Champion against challenger on rows neither learnt from: a random hold-out is a hash of
each response under a salt the version records, a new training reuses the active
version's salt, and another salt compares on the rows both held out (or not at all)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from decisioning.learning.dataset import training_set
from decisioning.learning.fitting import held_out, propensity
from decisioning.learning.registry import MIN_COMPARED_ROWS, model_train
from decisioning.models import PropensityModel
from tests.decisioning.catalog import small_bank
from tests.learning.history import history

pytestmark = pytest.mark.django_db


def _learnt_from(model: PropensityModel, data) -> np.ndarray:
    """The rows a random-split version trained on, from the salt it recorded."""
    return ~held_out(data.response_ids, model.metrics["split"]["salt"])


def test_a_challenger_with_another_seed_is_not_compared_on_rows_the_champion_learnt_from():
    bank = small_bank()
    history(bank.savings, dated=False)
    champion = model_train(actor="system:test", product=bank.savings.product, seed=0)
    assert champion.status == "active" and champion.holdout_method == "random"
    challenger = model_train(actor="system:test", product=bank.savings.product, seed=1)
    data = training_set(bank.savings.product)
    compared = held_out(data.response_ids, challenger.metrics["split"]["salt"])
    # the challenger reused the champion's salt: none of its held-out rows trained the champion
    assert challenger.metrics["split"]["salt"] == champion.metrics["split"]["salt"]
    assert not (compared & _learnt_from(champion, data)).any()
    assert challenger.challenged["rows"] == challenger.holdout_rows == compared.sum()
    # so the champion scores there what it scored on its own hold-out, not an inflated AUC
    assert challenger.challenged["auc"] == pytest.approx(champion.auc, abs=1e-9)
    assert challenger.challenged["fair"] is True
    assert "which neither learnt from" in challenger.status_reason


def test_another_salt_compares_only_on_the_rows_both_held_out():
    bank = small_bank()
    history(bank.savings, size=3000, dated=False)
    champion = model_train(actor="system:test", product=bank.savings.product)
    challenger = model_train(actor="system:test", product=bank.savings.product, salt=12345)
    data = training_set(bank.savings.product)
    mine = held_out(data.response_ids, 12345)
    both = mine & ~_learnt_from(champion, data)
    assert MIN_COMPARED_ROWS <= both.sum() < mine.sum() == challenger.holdout_rows
    assert challenger.challenged["rows"] == both.sum()
    assert challenger.challenged["salt"] == 12345
    assert challenger.challenged["champion_salt"] == champion.metrics["split"]["salt"]
    own = training_set(bank.savings.product, tuple(champion.feature_names))
    calibration = champion.calibration
    scores = propensity(
        own.X[both],
        champion.coefficients,
        champion.intercept,
        calibration["a"],
        calibration["b"],
    )
    expected = roc_auc_score(own.y[both], scores)
    assert challenger.challenged["auc"] == pytest.approx(expected, abs=1e-9)


def test_too_few_rows_both_held_out_is_no_fair_comparison_and_no_promotion():
    bank = small_bank()
    history(bank.savings, dated=False)
    champion = model_train(actor="system:test", product=bank.savings.product)
    challenger = model_train(actor="system:test", product=bank.savings.product, salt=12345)
    assert challenger.challenged["rows"] < MIN_COMPARED_ROWS
    assert challenger.challenged["fair"] is False
    assert challenger.status == "candidate" and "no fair comparison" in challenger.status_reason
    champion.refresh_from_db()
    assert champion.status == "active"


def test_an_active_version_that_recorded_no_split_is_not_compared_on_guessed_rows():
    bank = small_bank()
    history(bank.savings, dated=False)
    champion = model_train(actor="system:test", product=bank.savings.product)
    # as a version trained before hold-out salts were recorded
    metrics = {k: v for k, v in champion.metrics.items() if k != "split"}
    PropensityModel.objects.filter(pk=champion.pk).update(metrics=metrics)
    challenger = model_train(actor="system:test", product=bank.savings.product, seed=1)
    assert challenger.challenged["rows"] == 0
    assert challenger.status == "candidate" and "no fair comparison" in challenger.status_reason
    assert challenger.metrics["split"]["salt"] is not None
