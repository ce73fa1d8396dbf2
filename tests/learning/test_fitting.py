"""What each candidate learns from: the hold-out never, the calibration rows of a random
split as well as the fit rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from decisioning.engine.features import parse_forest
from decisioning.learning.dataset import training_set
from decisioning.learning.fitting import TREES, fit_logistic, fit_trees, split
from tests.decisioning.catalog import small_bank
from tests.learning.history import history

pytestmark = pytest.mark.django_db


def _margins(exported, X):
    forest = parse_forest(exported.feature_names[0])
    return forest.margins(X) + exported.intercept


@pytest.mark.parametrize("dated", [False, True])
def test_trees_are_refitted_on_the_whole_training_part_only_when_it_is_a_random_share(dated):
    bank = small_bank()
    history(bank.savings, dated=dated)
    data = training_set(bank.savings.product)
    parts = split(data, seed=4)
    exported = fit_trees(data, parts, seed=4)
    learnt_from = parts.training if not dated else parts.fit
    expected = HistGradientBoostingClassifier(random_state=4, **TREES)
    expected.fit(data.X[learnt_from], data.y[learnt_from])
    held = data.X[parts.holdout]
    assert np.allclose(_margins(exported, held), expected.decision_function(held))
    assert not set(parts.training) & set(parts.holdout)


def test_a_random_split_calibrates_on_rows_the_first_fit_never_saw_then_refits_logistic():
    bank = small_bank()
    history(bank.savings, dated=False)
    data = training_set(bank.savings.product)
    parts = split(data, seed=1)
    on_all = fit_logistic(data, parts, seed=1)
    # the same split with no calibration rows to learn from gives another model
    narrower = type(parts)(parts.fit, parts.calibrate, parts.holdout, "time")
    on_fit = fit_logistic(data, narrower, seed=1)
    assert on_all.calibration == on_fit.calibration  # Platt from the calibration rows
    assert not np.allclose(on_all.coefficients, on_fit.coefficients)
