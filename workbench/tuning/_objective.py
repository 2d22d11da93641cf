"""What one trial computes: a family's pipeline, cross-validated, fold by fold.

Runs on Dask workers; everything here is picklable and imports lazily.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import DataError
from workbench._metrics import METRICS, Metric
from workbench._metrics import get as get_metric
from workbench.tuning._data import to_host
from workbench.tuning._devices import trained_device
from workbench.tuning._spaces import Family

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "METRICS",
    "Metric",
    "TuningSpec",
    "build_pipeline",
    "cross_validate",
    "frame_pipeline",
    "metric_for",
]


def metric_for(task: str, metric: str | Metric) -> Metric:
    """The metric named ``metric`` (see :mod:`workbench._metrics`); tuning's old ``f1``
    was the macro F1, and reads as ``f1_macro``."""
    return get_metric(task, metric, binary=False)


@dataclasses.dataclass(frozen=True)
class TuningSpec:
    """Everything a worker needs to evaluate a trial (sent to each worker once a study)."""

    task: str
    target: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    families: dict[str, Family]
    metric: Metric
    cv: Any
    seed: int
    time_column: str | None = None
    device: str = "cpu"  # cpu, cuda, or auto (each worker: its GPU if it has one)
    objective: Callable[..., float] | None = None


def build_pipeline(family: Family, params: dict[str, Any], spec: TuningSpec, device: str) -> Any:
    """Preprocessing (one-hot categories; median-imputed, optionally scaled numbers) and
    the family's estimator, as one scikit-learn pipeline.

    Built from scikit-learn, pandas and the family's library only, so the packaged model
    loads where the workbench is not installed."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    from workbench.tuning._estimators import text_categories

    numeric = [c for c in spec.features if c not in spec.categorical]
    steps: list[Any] = [SimpleImputer(strategy="median")]
    if family.scale:
        steps.append(StandardScaler())
    parts: list[tuple[str, Any, list[str]]] = []
    if spec.categorical:
        parts.append(("categories", text_categories(), list(spec.categorical)))
    if numeric:
        parts.append(("numbers", make_pipeline(*steps), numeric))
    # a family that takes no sparse matrix (cuML's) gets the one-hot columns dense
    sparse = 0.0 if family.dense else 0.3
    encode = ColumnTransformer(parts, sparse_threshold=sparse, verbose_feature_names_out=False)
    return Pipeline([("encode", encode), ("model", family.build(params, device, spec.seed))])


def frame_pipeline(family: Family, params: dict[str, Any], spec: TuningSpec, device: str) -> Any:
    """The pipeline of a trial on a GPU frame (numeric columns only): median imputation
    and the family's scaling in frame operations (:class:`FrameImputer`, the same on
    pandas), then the family's estimator, all on the GPU."""
    from sklearn.pipeline import Pipeline

    from workbench.tuning._estimators import FrameImputer

    model = family.build(params, device, spec.seed)
    return Pipeline([("encode", FrameImputer(scale=family.scale)), ("model", model)])


def splits(spec: TuningSpec, frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test row positions of each fold."""
    from sklearn import model_selection

    cv = spec.cv
    y = frame[spec.target].to_numpy()
    if isinstance(cv, int) or cv == "time":
        n = 5 if cv == "time" else int(cv)
        if cv == "time" or spec.time_column:
            cv = model_selection.TimeSeriesSplit(n_splits=n)
        elif spec.task == "classification":
            cv = model_selection.StratifiedKFold(n_splits=n, shuffle=True, random_state=spec.seed)
        else:
            cv = model_selection.KFold(n_splits=n, shuffle=True, random_state=spec.seed)
    return [(np.asarray(a), np.asarray(b)) for a, b in cv.split(frame, y)]


def _predict(model: Any, x: pd.DataFrame, metric: Metric) -> Any:
    if not metric.proba:
        return model.predict(x)
    proba = model.predict_proba(x)
    return proba[:, 1] if proba.shape[1] == 2 else proba


def cross_validate(
    trial: Any,
    spec: TuningSpec,
    frame: pd.DataFrame,
    report: Callable[[float, int, bool], None],
    scores: list[float],
    extra: dict[str, Any],
    device_frame: Any = None,
) -> float:
    """Draw a family and its parameters on ``trial`` and score them fold by fold.

    ``report(mean_so_far, fold, last)`` is called after each fold (the pruner's steps; it
    may raise to prune, except after the ``last`` fold: by then the work is done, and a
    finished trial is complete, whatever its score). Each fold's score is appended to
    ``scores`` and what else to record goes into ``extra`` as soon as it is known, so a
    pruned or failed trial keeps them; for a family that can use a GPU, ``device`` is the
    device its library reports having trained on. ``device_frame`` is the set's copy in
    GPU memory (a cuDF frame, see :mod:`._data`): a family that takes one trains on it.

    Returns:
        The mean score over folds.
    """
    family_name = trial.suggest_categorical("family", list(spec.families))
    family = spec.families[family_name]
    device = spec.device if family.gpu else "cpu"
    extra.update(family=family_name)
    params = family.suggest(trial)
    on_gpu = device == "cuda" and family.cudf and device_frame is not None
    source = device_frame if on_gpu else frame
    x = source[list(spec.features)]
    y = source[spec.target]
    pipeline = frame_pipeline if on_gpu else build_pipeline
    fit_seconds = 0.0
    folds = splits(spec, frame)
    for fold, (train, test) in enumerate(folds):
        model = pipeline(family, params, spec, device)
        started = time.perf_counter()
        model.fit(x.iloc[train], y.iloc[train])
        fit_seconds += time.perf_counter() - started
        if family.gpu and fold == 0:
            extra["device"] = trained_device(model)
        predicted = to_host(_predict(model, x.iloc[test], spec.metric))
        truth = to_host(y.iloc[test])
        if spec.metric.labels:  # a fold may lack a class: say which classes columns mean
            scores.append(spec.metric.func(truth, predicted, labels=model.classes_))
        else:
            scores.append(spec.metric.func(truth, predicted))
        extra["fit_seconds"] = fit_seconds
        report(float(np.mean(scores)), fold, fold == len(folds) - 1)
    value = float(np.mean(scores))
    if not np.isfinite(value):
        raise DataError(f"The {spec.metric.name} of {family_name} is not finite ({value}).")
    return value


def check_frame(frame: pd.DataFrame, spec: TuningSpec) -> None:
    """Raise a clear error before any trial starts when the data cannot be tuned on."""
    absent = [c for c in (*spec.features, spec.target) if c not in frame.columns]
    if absent:
        raise DataError(f"The training set lacks columns {absent}. Columns: {list(frame.columns)}.")
    missing = int(frame[spec.target].isna().sum())
    if missing:
        raise DataError(
            f"The target {spec.target!r} has {missing} missing values; quarantine those rows first."
        )
    if len(frame) < 10:
        raise DataError(f"The training set has {len(frame)} rows; tuning needs at least 10.")


def default_features(
    frame: pd.DataFrame, target: str, exclude: Sequence[str]
) -> tuple[list[str], list[str]]:
    """All columns but the target and ``exclude``; text-like ones are categorical."""
    import pandas as pd

    features = [str(c) for c in frame.columns if c != target and c not in exclude]
    usable = [c for c in features if not pd.api.types.is_datetime64_any_dtype(frame[c].dtype)]
    categorical = [
        c
        for c in usable
        if not pd.api.types.is_numeric_dtype(frame[c].dtype)
        or pd.api.types.is_bool_dtype(frame[c].dtype)
    ]
    return usable, categorical
