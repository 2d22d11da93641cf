"""A baseline fit: one scikit-learn pipeline on a time-based split, logged to MLflow."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench._exceptions import DataError
from workbench._imports import require
from workbench._metrics import evaluate
from workbench._settings import Settings, get_settings
from workbench._tracking import ensure_experiment, mlflow_for

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FitResult", "fit_baseline", "regression_metrics", "time_split"]


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A fitted pipeline and where its run lives.

    Attributes:
        model: The fitted scikit-learn pipeline.
        run_id: The MLflow run holding its params and metrics.
        metrics: Validation metrics (``mae``, ``rmse``, ``mape``, ``r2``).
        features: Input columns, in order.
        target: Target column.
        train: The rows it was trained on (features and target).
        valid: The validation rows (features and target).
    """

    model: Any
    run_id: str
    metrics: Mapping[str, float]
    features: tuple[str, ...]
    target: str
    train: pd.DataFrame
    valid: pd.DataFrame


def time_split(
    frame: pd.DataFrame, time: str, valid_start: dt.date | str, end: dt.date | str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into ``time < valid_start`` and ``valid_start <= time < end``.

    Raises:
        DataError: Either side would be empty.
    """
    import pandas as pd

    start, stop = pd.Timestamp(valid_start), pd.Timestamp(end)
    train = frame[frame[time] < start]
    valid = frame[(frame[time] >= start) & (frame[time] < stop)]
    if train.empty or valid.empty:
        raise DataError(
            f"The time split on {time!r} at {start.date()} (validation up to {stop.date()}) "
            f"leaves {len(train)} training and {len(valid)} validation rows; both must be "
            f"non-empty. The data spans {frame[time].min()} to {frame[time].max()}."
        )
    return train, valid


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """MAE, RMSE, MAPE (on rows whose truth is not zero) and R², as
    :mod:`workbench._metrics` defines them."""
    return evaluate("regression", y_true, y_pred)


def _pipeline(categorical: Sequence[str], seed: int) -> Any:
    compose = require("sklearn.compose", feature="model training")
    ensemble = require("sklearn.ensemble")
    pipeline = require("sklearn.pipeline")
    preprocessing = require("sklearn.preprocessing")
    encode = compose.ColumnTransformer(
        [("categories", preprocessing.OneHotEncoder(handle_unknown="ignore"), list(categorical))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    model = ensemble.HistGradientBoostingRegressor(
        max_iter=300, learning_rate=0.05, random_state=seed
    )
    return pipeline.Pipeline([("encode", encode), ("model", model)])


def fit_baseline(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    *,
    features: Sequence[str],
    target: str,
    categorical: Sequence[str] = (),
    experiment: str | None = None,
    run_name: str = "baseline",
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    settings: Settings | None = None,
) -> FitResult:
    """Fit a gradient-boosting pipeline and log it as an MLflow run.

    Categorical columns are one-hot encoded (unknown categories ignored at prediction);
    the rest pass through, missing values included, to ``HistGradientBoostingRegressor``.

    Args:
        train: Training rows.
        valid: Validation rows, later in time than ``train``.
        features: Input columns.
        target: Column to predict.
        categorical: The subset of ``features`` to one-hot encode.
        experiment: MLflow experiment (default: the settings' ``experiment_name``).
        run_name: Name of the run.
        params: Extra parameters to log (split dates, data source).
        seed: Random seed of the estimator.
        settings: Settings to use (default: the process-wide ones).

    Returns:
        A :class:`FitResult`; the model is not yet registered (see ``workbench.packaging``).

    Raises:
        DataError: A feature or the target is absent, or the target has missing values.
    """
    s = settings or get_settings()
    columns = [*features, target]
    for name, frame in (("train", train), ("valid", valid)):
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise DataError(f"The {name} frame lacks columns {absent}.")
        if frame[target].isna().any():
            raise DataError(
                f"The {name} frame has {int(frame[target].isna().sum())} missing values in "
                f"the target {target!r}; quarantine those rows first."
            )
    mlflow = mlflow_for(s)
    experiment_id = ensure_experiment(experiment or s.experiment_name, s)
    model = _pipeline(categorical, seed)
    x_train, x_valid = train[list(features)], valid[list(features)]
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        started = time.perf_counter()
        model.fit(x_train, train[target])
        fit_seconds = time.perf_counter() - started
        scores = regression_metrics(valid[target], model.predict(x_valid))
        estimator = model.named_steps["model"]
        mlflow.log_params(
            {
                "estimator": type(estimator).__name__,
                **{f"model.{k}": v for k, v in estimator.get_params().items()},
                "features": ",".join(features),
                "categorical": ",".join(categorical),
                "target": target,
                "n_train": len(train),
                "n_valid": len(valid),
                **(params or {}),
            }
        )
        mlflow.log_metrics({f"valid_{k}": v for k, v in scores.items()})
        mlflow.log_metric("fit_seconds", fit_seconds)
        run_id = run.info.run_id
    return FitResult(
        model=model,
        run_id=run_id,
        metrics=scores,
        features=tuple(features),
        target=target,
        train=train[columns].reset_index(drop=True),
        valid=valid[columns].reset_index(drop=True),
    )
