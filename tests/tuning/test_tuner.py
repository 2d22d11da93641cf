"""Tuner is a scikit-learn estimator: parameters, clone, fitted state, and its repr."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from distributed import Client
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score

from workbench.tuning import Tuner, tune


def test_tuner_estimator_and_classification(client: Client) -> None:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    tuner = Tuner(
        task="classification",
        metric="roc_auc",
        families=["logistic", "xgboost"],
        n_trials=3,
        cv=3,
        cluster=client,
        study_name="cancer",
        progress=False,
    )
    assert tuner.fit(x, y) is tuner
    assert tuner.result_.best_value > 0.95 and tuner.result_.direction == "maximize"
    assert (tuner.predict(x.head(5)) == tuner.best_estimator_.predict(x.head(5))).all()
    assert tuner.predict_proba(x.head(2)).shape == (2, 2)
    assert tuner.score(x, y) == accuracy_score(y, tuner.predict(x))  # as ClassifierMixin's
    assert tuner.best_params_ == tuner.result_.best_params

    again = clone(tuner)  # the parameters, not what fit learned
    assert again.get_params() == tuner.get_params() and again.cluster is client
    assert not hasattr(again, "result_")
    with pytest.raises(NotFittedError, match="This Tuner instance is not fitted yet"):
        again.predict(x.head(1))


def test_parameters_are_tunes_keywords_with_its_defaults() -> None:
    """Each keyword of tune is a constructor parameter of Tuner, with tune's default (the
    parameters fit passes to tune are exactly get_params())."""
    ours = inspect.signature(Tuner).parameters
    theirs = {
        name: p
        for name, p in inspect.signature(tune).parameters.items()
        if p.kind == p.KEYWORD_ONLY
    }
    assert list(ours) == list(theirs)
    assert {n: p.default for n, p in ours.items()} == {n: p.default for n, p in theirs.items()}
    assert {n: p.annotation for n, p in ours.items()} == {
        n: p.annotation for n, p in theirs.items()
    }
    assert Tuner().get_params() == {n: p.default for n, p in theirs.items()}


def test_get_params_set_params_and_clone_round_trip() -> None:
    def square(trial: object, frame: pd.DataFrame) -> float:
        return 0.0

    tuner = Tuner(
        task="classification",
        families=["logistic", "random_forest"],
        n_trials=7,
        cv=3,
        objective=square,
        storage="sqlite:///optuna.db",
    )
    params = tuner.get_params()
    assert params["families"] is tuner.families  # stored as given
    assert (params["task"], params["n_trials"], params["objective"]) == (
        "classification",
        7,
        square,
    )
    assert tuner.set_params(n_trials=3, seed=5) is tuner
    assert (tuner.n_trials, tuner.seed) == (3, 5)
    assert Tuner(**tuner.get_params()).get_params() == tuner.get_params()

    copy = clone(tuner)
    assert copy is not tuner and copy.get_params() == tuner.get_params()
    assert copy.families is not tuner.families  # copied, as scikit-learn copies
    assert copy.objective is square

    with pytest.raises(ValueError, match="Invalid parameter 'n_trails' for estimator Tuner"):
        tuner.set_params(n_trails=3)
    with pytest.raises(TypeError, match="n_trails"):
        Tuner(n_trails=3)  # type: ignore[call-arg]


def test_an_unfitted_or_unrefitted_tuner_says_so(client: Client) -> None:
    frame = pd.DataFrame({"x": range(20), "y": [float(i % 3) for i in range(20)]})
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Tuner().predict(frame[["x"]])

    def square(trial: object, frame: pd.DataFrame) -> float:
        return float(trial.suggest_float("a", -1, 1) ** 2)  # type: ignore[attr-defined]

    tuner = Tuner(objective=square, n_trials=2, cluster=client, progress=False)
    tuner.fit(frame[["x"]], frame["y"])
    assert tuner.best_estimator_ is None and tuner.result_.n_complete == 2
    with pytest.raises(NotFittedError, match=r"refit=True and objective=<function .*square"):
        tuner.predict(frame[["x"]])


def test_the_task_makes_it_a_regressor_or_a_classifier() -> None:
    assert is_regressor(Tuner()) and not is_classifier(Tuner())
    assert is_classifier(Tuner(task="classification"))
    assert not is_regressor(Tuner(task="forecast")) and not is_classifier(Tuner(task="forecast"))


def test_its_repr_shows_no_password() -> None:
    tuner = Tuner(storage="postgresql://tuner:s3cret@db:5432/optuna", n_trials=3)
    assert "tuner:***@db" in repr(tuner) and "n_trials=3" in repr(tuner)
    bundle = tuner._repr_mimebundle_()
    shown = repr(tuner) + str(bundle) + tuner._repr_html_inner()
    assert "s3cret" not in shown and "tuner:***@db" in bundle["text/html"]
    assert tuner.storage == "postgresql://tuner:s3cret@db:5432/optuna"  # kept as given
