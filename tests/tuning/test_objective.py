"""One trial's cross-validation scores with the shared metric definitions."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.datasets import load_breast_cancer

from workbench.tuning._objective import (
    TuningSpec,
    build_pipeline,
    cross_validate,
    metric_for,
    splits,
)
from workbench.tuning._spaces import resolve_families


def _folds(metric: str, frame: pd.DataFrame) -> tuple[list[float], TuningSpec]:
    spec = TuningSpec(
        task="classification",
        target="label",
        features=tuple(c for c in frame.columns if c != "label"),
        categorical=(),
        families=resolve_families("classification", ["logistic"]),
        metric=metric_for("classification", metric),
        cv=3,
        seed=0,
    )
    scores: list[float] = []
    trial = optuna.trial.FixedTrial({"family": "logistic", "logistic.C": 0.01})
    cross_validate(trial, spec, frame, lambda value, fold, last: None, scores, {})
    return scores, spec


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    out = data.frame.drop(columns="target").rename(columns=str)
    out["label"] = np.where(data.target == 1, 10, 2)  # classes_ [2, 10]: 10 is positive
    return out


def _fold_models(spec: TuningSpec, frame: pd.DataFrame) -> list[tuple[Any, Any, Any]]:
    x, y = frame[list(spec.features)], frame["label"]
    out = []
    for train, test in splits(spec, frame):
        model = build_pipeline(spec.families["logistic"], {"C": 0.01}, spec, "cpu")
        out.append((model.fit(x.iloc[train], y.iloc[train]), x.iloc[test], y.iloc[test]))
    return out


def test_folds_are_scored_with_the_model_s_classes(frame: pd.DataFrame) -> None:
    """f1_binary scores the model's positive class (classes_[1] = 10, which as text
    would sort first); f1_macro is the average over both, as scikit-learn's."""
    binary, spec = _folds("f1_binary", frame)
    macro, _ = _folds("f1_macro", frame)
    auc, _ = _folds("roc_auc", frame)
    models = _fold_models(spec, frame)
    assert [m.classes_.tolist() for m, _, _ in models] == [[2, 10]] * 3
    assert binary == [sk.f1_score(y, m.predict(x), pos_label=10) for m, x, y in models]
    assert macro == [sk.f1_score(y, m.predict(x), average="macro") for m, x, y in models]
    assert auc == [sk.roc_auc_score(y == 10, m.predict_proba(x)[:, 1]) for m, x, y in models]
    assert binary != macro
