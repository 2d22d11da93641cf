"""Performance over time: realized metrics with the model's classes, and CBPE against
NannyML's and against an independent computation with scikit-learn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from tests.monitoring.cbpe_cases import Case, cases
from workbench import MonitoringError
from workbench.monitoring import CBPE, check_thresholds, performance_over_time
from workbench.monitoring._cbpe import needs_calibration

#: NannyML 0.13.1's CBPE on each case of ``cbpe_cases.py`` (one chunk of the analysis
#: rows), with scikit-learn 1.9.1, NumPy 2.4.6, pandas 3.1.1, produced by
#:     /tmp/nml-venv/bin/python tests/monitoring/cbpe_cases.py
#: in a venv made as that file's docstring says; and whether NannyML calibrated each
#: score column (``needs_calibration``). Ours equalled these exactly (difference 0.0).
NANNYML: dict[str, tuple[dict[str, float], list[bool]]] = {
    "binary_logistic": (
        {
            "accuracy": 0.9841294118211948,
            "precision": 0.9752022059706169,
            "recall": 1.0,
            "f1": 0.9874454402924295,
            "roc_auc": 0.9999576092432996,
        },
        [True],
    ),
    "binary_logistic_2_10": (
        {
            "accuracy": 0.9841294118211948,
            "precision": 0.9752022059706169,
            "recall": 1.0,
            "f1": 0.9874454402924295,
            "roc_auc": 0.9999576092432996,
        },
        [True],
    ),
    "binary_logistic_uncalibrated": (
        {
            "accuracy": 0.9638476395636718,
            "precision": 0.9624142368938752,
            "recall": 0.9801439149524452,
            "f1": 0.9711981667663966,
            "roc_auc": 0.9939635943219625,
        },
        [False],
    ),
    "binary_gboost": (
        {
            "accuracy": 0.8948832379456784,
            "precision": 0.9078913070486812,
            "recall": 0.8839556241210732,
            "f1": 0.8957635978787565,
            "roc_auc": 0.9511186545352417,
        },
        [True],
    ),
    "multiclass_logistic_1_10": (
        {
            "accuracy": 0.9070033410515589,
            "precision": 0.9090411362961115,
            "recall": 0.9080971625671882,
            "f1": 0.9070847577639466,
            "roc_auc": 0.9907219179175675,
        },
        [False, True, True, True, True, True, False, False, True, True],
    ),
    "multiclass_gboost": (
        {
            "accuracy": 0.9456378010425003,
            "precision": 0.9405149721971672,
            "recall": 0.9509562622464324,
            "f1": 0.9451543084007205,
            "roc_auc": 0.9953158322820971,
        },
        [True, True, True],
    ),
}


@pytest.fixture(scope="module")
def made() -> dict[str, Case]:
    return cases()


def _ours(case: Case) -> tuple[CBPE, dict[str, float]]:
    cbpe = CBPE().fit(case.ref_scores, case.ref_labels, classes=case.classes)
    return cbpe, cbpe.estimate(case.ana_scores)


@pytest.mark.parametrize("name", list(NANNYML))
def test_cbpe_equals_nannyml(made: dict[str, Case], name: str) -> None:
    """Accuracy, precision, recall, F1 and ROC AUC, two classes and ten, logistic and
    gradient boosting, calibrated where NannyML's test says so."""
    cbpe, estimate = _ours(made[name])
    figures, calibrated = NANNYML[name]
    kind = "_binary" if made[name].ref_scores.ndim == 1 else "_macro"
    for metric, value in figures.items():
        ours = estimate[metric if metric in ("accuracy", "roc_auc") else metric + kind]
        assert ours == pytest.approx(value, abs=1e-12), metric
    assert list(cbpe.calibrated_) == calibrated


def _weighted(case: Case, cbpe: CBPE) -> dict[str, float]:
    """CBPE by another road: every analysis row once per class, as that class with the
    calibrated probability as its weight, scored by scikit-learn (weighted confusion
    matrix; weighted ROC AUC on the model's own scores, ties counted half)."""
    p = cbpe.calibrated(case.ana_scores)
    n = len(p)
    if p.shape[1] == 1:
        truth = np.r_[np.ones(n), np.zeros(n)]
        weight = np.r_[p[:, 0], 1 - p[:, 0]]
        predicted = np.tile(case.ana_scores >= 0.5, 2)
        score = np.tile(case.ana_scores, 2)
        return {
            "accuracy": sk.accuracy_score(truth, predicted, sample_weight=weight),
            "precision_binary": sk.precision_score(truth, predicted, sample_weight=weight),
            "recall_binary": sk.recall_score(truth, predicted, sample_weight=weight),
            "f1_binary": sk.f1_score(truth, predicted, sample_weight=weight),
            "roc_auc": sk.roc_auc_score(truth, score, sample_weight=weight),
        }
    k = p.shape[1]
    classes = np.arange(k)
    truth = np.repeat(classes[None, :], n, axis=0).ravel()
    weight = p.ravel()
    predicted = np.repeat(np.argmax(case.ana_scores, axis=1), k)
    score = np.repeat(case.ana_scores, k, axis=0)
    macro = {"average": "macro", "sample_weight": weight}
    return {
        "accuracy": sk.accuracy_score(truth, predicted, sample_weight=weight),
        "precision_macro": sk.precision_score(truth, predicted, **macro),
        "recall_macro": sk.recall_score(truth, predicted, **macro),
        "f1_macro": sk.f1_score(truth, predicted, **macro),
        "roc_auc": sk.roc_auc_score(truth, score, multi_class="ovr", **macro),
    }


@pytest.mark.parametrize("name", ["binary_logistic_2_10", "binary_gboost", "multiclass_gboost"])
def test_cbpe_equals_an_independent_computation(made: dict[str, Case], name: str) -> None:
    from sklearn.isotonic import IsotonicRegression

    case = made[name]
    cbpe, estimate = _ours(case)
    expected = _weighted(case, cbpe)
    assert list(estimate) == list(expected)
    for metric, value in expected.items():
        # NannyML rounds the expected counts of its ROC curve to 5 decimals: so do we
        tolerance = 1e-6 if metric == "roc_auc" else 1e-12
        assert estimate[metric] == pytest.approx(value, abs=tolerance), metric
    # the calibrated probabilities: isotonic regression of the class's scores, where used
    p = cbpe.calibrated(case.ana_scores)
    if case.ref_scores.ndim == 1:
        iso = IsotonicRegression(out_of_bounds="clip").fit(
            case.ref_scores, case.ref_labels == case.classes[1]
        )
        np.testing.assert_array_equal(p[:, 0], iso.predict(case.ana_scores))
    else:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


def test_cbpe_takes_the_class_order_from_the_model_or_refuses(made: dict[str, Case]) -> None:
    """Labels 2 and 10 (and 1..10): as text 10 sorts first, which flipped the positive
    class and estimated 0.500 for a model right 94 % of the time."""
    for name in ("binary_logistic_2_10", "multiclass_logistic_1_10"):
        case = made[name]
        with pytest.raises(
            MonitoringError, match=r"CBPE\.fit needs classes=: the model's classes_"
        ):
            CBPE().fit(case.ref_scores, case.ref_labels)
        realized = float((case.ana_predicted == case.ana_labels).mean())
        estimate = _ours(case)[1]["accuracy"]
        assert realized == pytest.approx(0.94, abs=0.01)
        assert estimate == pytest.approx(realized, abs=0.05)
    case = made["binary_logistic_2_10"]
    assert _ours(case)[1] == _ours(made["binary_logistic"])[1]  # the labels' names do not matter
    with pytest.raises(MonitoringError, match=r"labels hold \['7'\] that are not among"):
        CBPE().fit(case.ref_scores[:3], np.array([2, 10, 7]), classes=case.classes)
    with pytest.raises(MonitoringError, match="3 score columns for 2 classes"):
        CBPE().fit(np.ones((4, 3)) / 3, [2, 10, 2, 10], classes=[2, 10])


def test_calibration_only_where_it_helps_as_nannyml_decides(made: dict[str, Case]) -> None:
    case = made["binary_logistic_uncalibrated"]  # 169 reference rows
    target = case.ref_labels == 1
    assert len(target) == 169 and not needs_calibration(target, case.ref_scores)
    realized = float((case.ana_predicted == case.ana_labels).mean())
    auto = CBPE().fit(case.ref_scores, case.ref_labels, classes=case.classes)
    forced = CBPE(calibration="isotonic").fit(case.ref_scores, case.ref_labels, classes=[0, 1])
    assert auto.calibrated_ == (False,) and forced.calibrated_ == (True,)
    # realized 0.9667; the scores as they are 0.9638 (NannyML's); isotonic anyway 0.9790
    assert abs(auto.estimate(case.ana_scores)["accuracy"] - realized) < abs(
        forced.estimate(case.ana_scores)["accuracy"] - realized
    )
    # no calibration where it cannot be tested or cannot help
    rng = np.random.default_rng(0)
    assert not needs_calibration(np.r_[np.zeros(8), np.ones(7)], rng.random(15))  # too few
    assert not needs_calibration(np.ones(50), rng.random(50))  # one class
    assert not needs_calibration(
        np.r_[np.zeros(50), np.ones(50)], np.r_[rng.random(50), 2 + rng.random(50)]
    )
    skewed = rng.random(2000)  # scores that are the square root of the true probability
    assert needs_calibration(rng.random(2000) < skewed**2, skewed)
    with pytest.raises(MonitoringError, match="calibration must be 'auto', 'isotonic' or 'none'"):
        CBPE(calibration="platt").fit(case.ref_scores, case.ref_labels, classes=[0, 1])


def _classification_log(labels: np.ndarray, predicted: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(len(labels)), "min"),
            "actual": labels,
            "prediction": predicted,
            **{f"proba_{i}": p[:, i] for i in range(p.shape[1])},
        }
    )


def test_realized_metrics_use_the_model_classes(made: dict[str, Case]) -> None:
    case = made["binary_logistic_2_10"]
    p = np.column_stack([1 - case.ana_scores, case.ana_scores])
    log = _classification_log(case.ana_labels, case.ana_predicted, p)
    table = performance_over_time(log, task="classification", period=100, score="proba_1")
    part = log.iloc[:100]
    # the positive class is 10 (classes_[1]), not 2 (the last as text)
    assert table.loc[0, "f1_binary"] == sk.f1_score(
        part["actual"], part["prediction"], pos_label=10
    )
    assert table.loc[0, "roc_auc"] == sk.roc_auc_score(part["actual"] == 10, part["proba_1"])
    # ten classes, periods that lack some: the classes are decided once, for the whole log
    case = made["multiclass_logistic_1_10"]
    log = _classification_log(case.ana_labels, case.ana_predicted, case.ana_scores)
    columns = [f"proba_{i}" for i in range(10)]
    table = performance_over_time(
        log, task="classification", period=300, score=columns, classes=case.classes
    )
    part = log.iloc[:300]
    assert list(table.columns[3:]) == [
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc",
    ]
    assert table.loc[0, "roc_auc"] == sk.roc_auc_score(
        part["actual"], part[columns], multi_class="ovr", labels=case.classes
    )
    few = performance_over_time(
        log.iloc[:12], task="classification", period=6, classes=case.classes
    )
    assert few.loc[0, "f1_macro"] == sk.f1_score(
        log["actual"][:6],
        log["prediction"][:6],
        average="macro",
        labels=case.classes,
        zero_division=0,
    )
    assert np.isnan(few.loc[0, "roc_auc"])
    # every actual one class so far, no classes given: accuracy, and no positive to guess
    same = log.iloc[:50].assign(actual=3, prediction=3)
    table = performance_over_time(same, task="classification", period=25)
    assert table["accuracy"].tolist() == [1.0, 1.0] and table["f1_binary"].isna().all()


def test_an_old_metric_name_in_thresholds_reads_as_the_one_it_meant() -> None:
    frame = pd.DataFrame({"window": [0, 1], "f1_binary": [0.9, 0.5]})
    with pytest.warns(FutureWarning, match="'f1' is ambiguous and read as 'f1_binary'"):
        alerts = check_thresholds(frame, {"f1": ("min", 0.7)})
    assert [(a.metric, a.window) for a in alerts] == [("f1_binary", 1)]


def _served_log(folder: Path, model: Any, x: pd.DataFrame) -> None:
    """What the scoring server writes: predictions and ``proba_<class>`` per row."""
    from workbench.serving import InferenceLogWriter
    from workbench.serving._log import LoggedRequest

    writer = InferenceLogWriter(folder, flush_seconds=3600)
    start = pd.Timestamp("2024-07-01", tz="UTC").value
    for i in range(0, len(x), 50):
        part = x.iloc[i : i + 50]
        writer.append(
            LoggedRequest(
                request_id=f"r{i}",
                timestamp_ns=start + i * 60 * 10**9,
                model_name="m",
                model_version="1",
                latency_ms=1.0,
                inputs={c: part[c].to_numpy() for c in part.columns},
                rows=len(part),
                predictions=model.predict(part),
                scores=model.predict_proba(part),
                classes=tuple(np.asarray(model.classes_).tolist()),
            )
        )
    writer.close()


def test_the_class_order_travels_from_packaging_to_the_estimate(tmp_path: Path) -> None:
    """``reference_scores.parquet`` keeps the model's ``classes_`` beside its
    ``proba_<class>`` columns; the estimate from the served log equals CBPE's own."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from workbench.monitoring import estimate_from_log
    from workbench.packaging._reference import reference_scores

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=str)
    frame["target"] = np.where(data.target == 1, 10, 2)
    features = [c for c in frame.columns if c != "target"]
    train, rest = train_test_split(frame, train_size=200, random_state=0)
    holdout, served = train_test_split(rest, train_size=169, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
    model.fit(train[features], train["target"])
    scored = reference_scores(model, holdout, features, "target")
    assert scored is not None
    scored.to_parquet(tmp_path / "reference_scores.parquet", index=False)
    stored = pd.read_parquet(tmp_path / "reference_scores.parquet")
    assert stored.attrs["classes"] == [2, 10]
    _served_log(tmp_path / "log", model, served[features])
    estimated = estimate_from_log(tmp_path / "log", stored, period=len(served))
    assert estimated is not None
    direct = CBPE().fit(
        model.predict_proba(holdout[features])[:, 1], holdout["target"], classes=model.classes_
    )
    expected = direct.estimate(model.predict_proba(served[features])[:, 1])
    assert estimated.iloc[0][list(expected)].to_dict() == pytest.approx(expected, abs=1e-15)
    realized = (model.predict(served[features]) == served["target"]).mean()
    assert estimated.loc[0, "accuracy"] == pytest.approx(realized, abs=0.05)
    # a file written before the classes were stored: the columns' order, labels by text
    stored.attrs = {}
    again = estimate_from_log(tmp_path / "log", stored, period=len(served))
    assert again is not None
    pd.testing.assert_frame_equal(again, estimated)
