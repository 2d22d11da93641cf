"""The ready-made model families: each task's families, in order, and what they build."""

from __future__ import annotations

import pytest
from sklearn.base import is_classifier, is_regressor

from workbench.tuning import FAMILIES, available_families

REGRESSION = ["ridge", "lasso", "elastic_net", "random_forest", "extra_trees"]
CLASSIFICATION = ["logistic", "random_forest", "extra_trees", "hist_gradient_boosting"]


def test_each_task_lists_its_families_in_their_order() -> None:
    """The order is the ``family`` choice of every study (a resume compares it)."""
    names = {
        t: [n for (task, n) in FAMILIES if task == t] for t in ("regression", "classification")
    }
    boosters = ["xgboost", "lightgbm", "catboost"]
    assert names["regression"] == [*REGRESSION, "hist_gradient_boosting", *boosters]
    assert names["classification"] == [*CLASSIFICATION, *boosters]
    for task, listed in names.items():
        assert available_families(task) == [n for n in listed if FAMILIES[(task, n)].available]


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_scikit_learn_families_build_an_estimator_of_their_task(task: str) -> None:
    check = is_regressor if task == "regression" else is_classifier
    for (family_task, name), family in FAMILIES.items():
        if family_task != task or family.requires is not None:
            continue
        params = {"alpha": 1.0} if name in ("ridge", "lasso", "elastic_net") else {}
        estimator = family.build(params, "cpu", 0)
        assert check(estimator), (name, type(estimator).__name__)
        assert estimator.get_params().get("random_state", 0) in (0, None), name
