"""Classifiers on scikit-learn's bundled data sets, for CBPE against NannyML's.

Each case: a model fitted on one part, its scores and labels on a reference part (with
labels, to calibrate on) and on an analysis part (whose labels CBPE does not see).
Shared by ``test_performance.py`` and, run as a script in a separate environment with
NannyML installed, the producer of the reference figures recorded there::

    python -m venv /tmp/nml-venv
    /tmp/nml-venv/bin/pip install nannyml==0.13.1 statsmodels
    /tmp/nml-venv/bin/python tests/monitoring/cbpe_cases.py

(It imports only NumPy, pandas, scikit-learn and NannyML, never the workbench.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Case:
    ref_scores: np.ndarray  # positive class's column for two classes, else one per class
    ref_labels: np.ndarray
    ana_scores: np.ndarray
    ana_labels: np.ndarray
    ana_predicted: np.ndarray  # the model's predict on the analysis rows
    classes: np.ndarray  # the model's classes_


def _case(model: Any, x: Any, y: Any, sizes: tuple[int, int], seed: int, binary: bool) -> Case:
    from sklearn.model_selection import train_test_split

    xt, xr, yt, yr = train_test_split(x, y, train_size=sizes[0], random_state=seed, stratify=y)
    xr, xa, yr, ya = train_test_split(xr, yr, train_size=sizes[1], random_state=seed, stratify=yr)
    model.fit(xt, yt)
    pr, pa = model.predict_proba(xr), model.predict_proba(xa)
    if binary:
        pr, pa = pr[:, 1], pa[:, 1]
    return Case(pr, np.asarray(yr), pa, np.asarray(ya), model.predict(xa), model.classes_)


def _logistic(c: float = 1.0) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))


def cases() -> dict[str, Case]:
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = load_breast_cancer(return_X_y=True)
    d, t = load_digits(return_X_y=True)
    w, wt = load_wine(return_X_y=True)
    boost = HistGradientBoostingClassifier
    return {
        # two classes, the positive one 1; isotonic calibration helps (NannyML's test)
        "binary_logistic": _case(_logistic(0.05), x, y, (200, 169), 0, True),
        # the same model and rows with the labels 2 and 10: sorted as text, 10 comes first
        "binary_logistic_2_10": _case(
            _logistic(0.05), x, np.where(y == 1, 10, 2), (200, 169), 0, True
        ),
        # 169 reference rows whose scores need no calibration (NannyML's test says so)
        "binary_logistic_uncalibrated": _case(_logistic(), x, y, (250, 169), 6, True),
        "binary_gboost": _case(
            boost(max_iter=15, max_depth=3, random_state=0),
            d,
            (t >= 5).astype(int),
            (600, 600),
            0,
            True,
        ),
        # ten classes labelled 1..10: as text 10 sorts between 1 and 2
        "multiclass_logistic_1_10": _case(_logistic(0.05), d, t + 1, (600, 600), 0, False),
        "multiclass_gboost": _case(
            boost(max_iter=10, max_depth=2, random_state=0), w, wt, (60, 60), 0, False
        ),
    }


def nannyml_figures() -> dict[str, dict[str, Any]]:
    """NannyML's CBPE on each case: one chunk of the analysis rows."""
    import warnings

    import nannyml as nml
    import pandas as pd
    from nannyml.calibration import NoopCalibrator

    warnings.simplefilter("ignore")
    names = ["accuracy", "precision", "recall", "f1", "roc_auc"]
    out: dict[str, dict[str, Any]] = {}
    for name, c in cases().items():
        classes = c.classes.tolist()
        if c.ref_scores.ndim == 1:  # NannyML's binary problems are 0/1: 1 = classes_[1]

            def frame(s: np.ndarray, labels: np.ndarray, positive: Any = classes[1]) -> Any:
                return pd.DataFrame(
                    {"p": s, "y_pred": (s >= 0.5).astype(int), "y": (labels == positive) * 1}
                )

            est = nml.CBPE(
                y_pred_proba="p",
                y_pred="y_pred",
                y_true="y",
                metrics=names,
                chunk_number=1,
                problem_type="classification_binary",
            ).fit(frame(c.ref_scores, c.ref_labels))
            calibrated = [bool(est.needs_calibration)]
        else:

            def frame(s: np.ndarray, labels: np.ndarray, known: Any = classes) -> Any:
                f = pd.DataFrame({f"p_{k}": s[:, i] for i, k in enumerate(known)})
                f["y_pred"] = np.asarray(known)[np.argmax(s, axis=1)]
                f["y"] = labels
                return f

            est = nml.CBPE(
                y_pred_proba={k: f"p_{k}" for k in classes},
                y_pred="y_pred",
                y_true="y",
                metrics=names,
                chunk_number=1,
                problem_type="classification_multiclass",
            ).fit(frame(c.ref_scores, c.ref_labels))
            calibrated = [
                not isinstance(est._calibrators[k], NoopCalibrator) for k in sorted(classes)
            ]
        result = est.estimate(frame(c.ana_scores, c.ana_labels)).filter(period="analysis")
        table = result.to_df()
        out[name] = {m: float(table[(m, "value")].iloc[0]) for m in names}
        out[name]["calibrated"] = calibrated
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(nannyml_figures(), indent=1))
