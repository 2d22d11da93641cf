"""The ready-made model families: each task's families, in order, and what they build."""

from __future__ import annotations

import optuna
import pytest
from sklearn.base import is_classifier, is_regressor

from workbench.tuning import FAMILIES, SPACES, available_families, resolve_families
from workbench.tuning._spaces import cpu_only_note

REGRESSION = ["ridge", "lasso", "elastic_net", "random_forest", "extra_trees"]
CLASSIFICATION = ["logistic", "random_forest", "extra_trees", "hist_gradient_boosting"]


def test_each_task_lists_its_families_in_their_order() -> None:
    """The order is the ``family`` choice of every study (a resume compares it)."""
    names = {
        t: [n for (task, n) in FAMILIES if task == t] for t in ("regression", "classification")
    }
    boosters = ["xgboost", "lightgbm", "catboost"]
    cuml_reg = ["cuml_random_forest", "cuml_ridge", "cuml_lasso"]
    cuml_clf = ["cuml_random_forest", "cuml_logistic"]
    assert names["regression"] == [*REGRESSION, "hist_gradient_boosting", *boosters, *cuml_reg]
    assert names["classification"] == [*CLASSIFICATION, *boosters, *cuml_clf]
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


def test_cuml_families_search_their_scikit_learn_twins_space() -> None:
    """Issue 28: cuML's random forest, ridge, lasso and logistic regression are GPU
    families whose space is their twin's, drawn the same way (under their own name)."""
    twins = {name: f for (_, name), f in FAMILIES.items() if f.twin is not None}
    assert sorted(twins) == ["cuml_lasso", "cuml_logistic", "cuml_random_forest", "cuml_ridge"]
    for (task, name), family in FAMILIES.items():
        assert family.space == SPACES[family.twin or name], name
        if family.twin is None:
            continue
        twin = FAMILIES[(task, family.twin)]
        assert family.space is twin.space  # one definition, not a copy that could drift
        assert (family.gpu, family.requires, family.scale) == (True, "cuml", twin.scale)
        drawn = []
        for f in (family, twin):
            trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
            params = f.suggest(trial)
            drawn.append(params)
            assert set(trial.distributions) == {f"{f.name}.{p}" for p in SPACES[twin.name]}
        assert drawn[0] == drawn[1]  # same names, ranges and kinds: same draws at a seed


@pytest.mark.skipif(FAMILIES[("regression", "cuml_ridge")].available, reason="cuML is here")
def test_without_cuml_a_cuml_family_says_so_and_trains_its_twin_on_the_cpu() -> None:
    with pytest.warns(UserWarning, match="cuML is not installed.*scikit-learn's 'ridge'"):
        families = resolve_families("regression", ["cuml_ridge", "ridge"])
    assert list(families) == ["cuml_ridge", "ridge"]
    assert "cuml_ridge" not in available_families("regression")  # never by default
    assert "cuml_ridge" not in resolve_families("regression", None)
    for device in ("cpu", "cuda"):  # no cuML here: the twin either way
        estimator = families["cuml_ridge"].build({"alpha": 2.0}, device, 0)
        assert type(estimator).__module__.startswith("sklearn") and estimator.alpha == 2.0
    forest = FAMILIES[("classification", "cuml_random_forest")].build({}, "cuda", 7)
    assert type(forest).__name__ == "RandomForestClassifier" and forest.random_state == 7


def test_a_gpu_study_names_the_families_that_train_on_the_cpu() -> None:
    families = {n: FAMILIES[("regression", n)] for n in ("ridge", "xgboost", "lightgbm")}
    note = cpu_only_note(families, "cuda")
    assert note is not None
    assert note.startswith("cluster='cuda': ridge, lightgbm have no GPU build and train on")
    assert "catboost, cuml_lasso" in note and "cuml-cu12" in note
    assert cpu_only_note(families, "cpu") is None and cpu_only_note(families, "auto") is None
    gpu_only = {n: FAMILIES[("regression", n)] for n in ("xgboost", "cuml_ridge")}
    assert cpu_only_note(gpu_only, "cuda") is None
