"""One definition per metric (workbench._metrics), against scikit-learn on its bundled
data sets, with the edges decided once; used alike by tuning, packaging and monitoring."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from workbench import DataError
from workbench import _metrics as m

NAN_SAFE = {"equal_nan": True}


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_diabetes(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.4, random_state=0)
    return yv, Ridge(alpha=0.5).fit(xt, yt).predict(xv)


def _classifier(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=1000))
    model.fit(xt, yt)
    return np.asarray(yv), model.predict(xv), model.predict_proba(xv), model.classes_


@pytest.fixture(scope="module")
def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = load_breast_cancer()
    return _classifier(data.data, data.target_names[data.target])  # "benign" / "malignant"


@pytest.fixture(scope="module")
def multiclass() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_wine(return_X_y=True)
    return _classifier(x, y + 1)


def test_regression_metrics_equal_scikit_learn_on_diabetes(regression: Any) -> None:
    y, p = regression
    got = m.evaluate("regression", y, p)
    assert list(got) == ["mae", "rmse", "mape", "r2"]
    assert got["mae"] == sk.mean_absolute_error(y, p)
    assert got["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, p)), rel=1e-15)
    assert got["mape"] == sk.mean_absolute_percentage_error(y, p)  # no zero truth here
    assert got["r2"] == sk.r2_score(y, p)
    # the baseline's and tuning's regression metrics are these
    from workbench.tuning import METRICS, regression_metrics

    assert regression_metrics(y, p) == got
    assert {n: METRICS["regression"][n].func(y, p) for n in got} == got


def test_binary_metrics_equal_scikit_learn_on_breast_cancer(binary: Any) -> None:
    y, predicted, proba, classes = binary
    assert classes.tolist() == ["benign", "malignant"]
    got = m.evaluate("classification", y, predicted, scores=proba[:, 1], labels=classes)
    assert list(got) == ["accuracy", "precision_binary", "recall_binary", "f1_binary", "roc_auc"]
    positive = {"pos_label": "malignant"}
    assert got["accuracy"] == sk.accuracy_score(y, predicted)
    assert got["precision_binary"] == sk.precision_score(y, predicted, **positive)
    assert got["recall_binary"] == sk.recall_score(y, predicted, **positive)
    assert got["f1_binary"] == sk.f1_score(y, predicted, **positive)
    assert got["roc_auc"] == sk.roc_auc_score(y == "malignant", proba[:, 1])
    # both columns, or the positive one alone: the same
    assert m.roc_auc(y, proba, labels=classes) == got["roc_auc"]
    assert m.log_loss(y, proba[:, 1], labels=classes) == sk.log_loss(y, proba, labels=classes)
    assert m.f1_macro(y, predicted, labels=classes) == sk.f1_score(y, predicted, average="macro")
    assert m.f1_macro(y, predicted) != got["f1_binary"]  # two definitions, two names


def test_multiclass_metrics_equal_scikit_learn_on_wine(multiclass: Any) -> None:
    y, predicted, proba, classes = multiclass
    got = m.evaluate("classification", y, predicted, scores=proba, labels=classes)
    assert list(got) == ["accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc"]
    macro = {"average": "macro"}
    assert got["precision_macro"] == sk.precision_score(y, predicted, **macro)
    assert got["recall_macro"] == sk.recall_score(y, predicted, **macro)
    assert got["f1_macro"] == sk.f1_score(y, predicted, **macro)
    assert got["roc_auc"] == sk.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    assert m.log_loss(y, proba, labels=classes) == sk.log_loss(y, proba, labels=classes)
    # columns in the model's order, whatever it is: reversed columns with reversed labels
    assert m.roc_auc(y, proba[:, ::-1], labels=classes[::-1]) == got["roc_auc"]
    assert m.log_loss(y, proba[:, ::-1], labels=classes[::-1]) == pytest.approx(
        sk.log_loss(y, proba, labels=classes), rel=1e-15
    )
    with pytest.raises(DataError, match="f1_binary is the positive class's score"):
        m.f1_binary(y, predicted, labels=classes)


def test_the_positive_class_is_the_model_s_last_not_the_last_as_text() -> None:
    y = np.array([2, 10, 10, 2, 10, 10])
    p = np.array([2, 10, 2, 2, 10, 2])
    assert m.class_order([10, 2, 10]) == [2, 10]  # numbers by value, as classes_ holds them
    assert m.f1_binary(y, p) == sk.f1_score(y, p, pos_label=10) == pytest.approx(2 / 3)
    assert m.recall_binary(y, p, labels=[10, 2]) == sk.recall_score(y, p, pos_label=2)
    with pytest.raises(DataError, match="mix kinds that have no order"):
        m.class_order(["a", 1])


def test_edges_are_decided_once() -> None:
    empty = np.array([], dtype=float)
    for name in m.REGRESSION:
        assert np.isnan(m.METRICS["regression"][name].func(empty, empty)), name
    for name in ("accuracy", "f1_macro", "precision_binary"):
        func = m.METRICS["classification"][name].func
        kwargs = {"labels": [0, 1]} if name != "accuracy" else {}
        assert np.isnan(func(np.array([]), np.array([]), **kwargs)), name
    assert np.isnan(m.roc_auc([], np.empty((0, 2)), labels=[0, 1]))
    # MAPE: rows whose truth is 0 are left out (scikit-learn divides them by 2.2e-16)
    y, p = np.array([0.0, 2.0, 4.0]), np.array([1.0, 1.0, 5.0])
    assert m.mape(y, p) == sk.mean_absolute_percentage_error(y[1:], p[1:]) == 0.375
    assert sk.mean_absolute_percentage_error(y, p) > 1e14
    assert np.isnan(m.mape([0.0, 0.0], [1.0, 2.0]))
    # R² of one row is not defined; of a constant truth, scikit-learn's finite rule
    assert np.isnan(m.r2([3.0], [2.0]))
    assert m.r2([1.0, 1.0], [1.0, 2.0]) == sk.r2_score([1.0, 1.0], [1.0, 2.0]) == 0.0
    # a prediction that is not a number: NaN, for the caller to refuse (tuning does)
    assert np.isnan(m.rmse([1.0, 2.0], [1.0, np.nan]))
    # one class in the truth: ROC AUC is not defined, the others are
    one = np.array([1, 1, 1])
    assert np.isnan(m.roc_auc(one, [0.2, 0.7, 0.9], labels=[0, 1]))
    assert m.f1_binary(one, [1, 0, 1], labels=[0, 1]) == sk.f1_score(one, [1, 0, 1])
    assert m.log_loss(one, [0.8, 0.9, 0.7], labels=[0, 1]) == sk.log_loss(
        one, [0.8, 0.9, 0.7], labels=[0, 1]
    )
    with pytest.raises(DataError, match="needs exactly two classes"):
        m.f1_binary(one, one)  # which class is positive? only labels= can say
    with pytest.raises(DataError, match=r"not among the classes"):
        m.roc_auc([0, 1, 7], [0.1, 0.9, 0.5], labels=[0, 1])


def test_old_names_keep_reading_with_a_warning() -> None:
    from workbench.tuning import METRICS, Metric
    from workbench.tuning._objective import metric_for

    assert METRICS is m.METRICS and Metric is m.Metric
    with pytest.warns(FutureWarning, match="'f1' is ambiguous and read as 'f1_macro'"):
        assert metric_for("classification", "f1").name == "f1_macro"  # tuning's old f1
    with pytest.warns(FutureWarning):
        assert METRICS["classification"]["recall"].name == "recall_macro"
    with pytest.warns(FutureWarning, match="read as 'f1_binary'"):
        assert m.get("classification", "f1", binary=True).name == "f1_binary"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metric_for("classification", "f1_binary").labels
    with pytest.raises(KeyError):
        METRICS["regression"]["f1"]


def test_holdout_metrics_on_the_card_are_the_same_definitions(binary: Any) -> None:
    """Packaging scores the holdout with the model's classes and probabilities: the card
    shows what monitoring shows per window, named alike."""
    from workbench.monitoring import performance_over_time
    from workbench.packaging._card_contents import holdout_metrics

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=str)
    frame["target"] = data.target_names[data.target]
    features = [c for c in frame.columns if c != "target"]
    train, holdout = train_test_split(frame, test_size=0.4, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=1000))
    model.fit(train[features], train["target"])
    card = holdout_metrics(model, holdout, features, "target", "classification")
    predicted = model.predict(holdout[features])
    proba = model.predict_proba(holdout[features])[:, 1]
    assert card["f1_binary"]["value"] == sk.f1_score(
        holdout["target"], predicted, pos_label="malignant"
    )
    assert card["roc_auc"]["value"] == sk.roc_auc_score(holdout["target"] == "malignant", proba)
    log = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC"),
            "actual": holdout["target"].to_numpy(),
            "prediction": predicted,
            "p": proba,
        }
    )
    realized = performance_over_time(
        log, task="classification", window=len(log), score="p", classes=model.classes_
    )
    assert {k: v["value"] for k, v in card.items()} == realized.iloc[0][list(card)].to_dict()


def test_the_card_says_what_each_metric_means_old_names_included() -> None:
    """A card saved before the names said which (``holdout_f1``, tuning's macro F1) still
    loads and reads right; a new one names its definitions."""
    from workbench.packaging import ModelCard
    from workbench.packaging._card import metric_entry

    fields: dict[str, Any] = {
        "name": "churn",
        "version": 3,
        "alias": "champion",
        "purpose": "",
        "task": "classification",
        "estimator": "LogisticRegression",
        "steps": [],
        "created": "2024-07-01T00:00:00+00:00",
        "run_id": "r",
        "model_uri": "models:/m/1",
        "ui_url": None,
        "target": "churn",
        "data": {},
        "features": [],
        "feature_views": {},
        "params": {},
        "tuning": None,
        "cost": {},
        "serialization": {"format": "skops", "reason": "r"},
        "requirements": [],
    }
    old = ModelCard(**fields, metrics={"holdout_f1": metric_entry(0.8, "holdout")})
    assert "| holdout_f1 | F1 averaged over classes (the old name of f1_macro) | 0.8" in (
        old.to_markdown()
    )
    new = ModelCard(
        **fields,
        metrics={
            "holdout_f1_binary": metric_entry(0.7, "holdout"),
            "roc_auc": metric_entry([0.9, 0.8], "cv folds"),
        },
    )
    text = new.to_markdown()
    assert "| holdout_f1_binary | F1 of the positive class | 0.7" in text
    assert "| roc_auc | ROC AUC (macro one-vs-rest for more than two classes) |" in text
    assert m.describe("fit_seconds") == ""
