"""Model performance over time: realized (with actuals) and estimated (before them).

Realized: the inference log joined with the actuals (``join_actuals``), cut into windows
by time (``"1h"``, ``"1D"``, ``"1W"``) or by count (every N rows), one row of metrics per
window. Estimated: confidence-based performance estimation (CBPE, as NannyML's): the
classifier's scores are calibrated on reference data with labels (isotonic regression),
and the calibrated probability of each current row gives the expected confusion matrix,
hence expected accuracy, precision, recall and F1 with no label at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench.monitoring._summary import _window_keys

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CBPE",
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "performance_over_time",
    "windows",
]

REGRESSION_METRICS = ("mae", "rmse", "mape", "r2")
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def windows(frame: pd.DataFrame, window: str | int, *, time_column: str = "timestamp") -> Any:
    """Group ``frame`` by window: a pandas frequency (``"1h"``, ``"1D"``, ``"1W"``) on
    ``time_column``, or an int for consecutive blocks of that many rows (in time order).

    Returns:
        A pandas GroupBy whose keys are the windows' start (a time, or a row number).

    Raises:
        MonitoringError: The time column is missing or the window is not valid.
    """
    import pandas as pd

    if time_column not in frame.columns:
        raise MonitoringError(
            f"Windows need the time column {time_column!r}; the frame has {list(frame.columns)}."
        )
    ordered = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise MonitoringError(f"A count window needs at least 1 row; got {window}.")
        start = (np.arange(len(ordered)) // window) * window
        return ordered.groupby(pd.Series(start, name="window"), sort=True)
    try:
        pd.tseries.frequencies.to_offset(str(window))
    except ValueError as exc:
        raise MonitoringError(
            f"Window {window!r} is neither a row count nor a pandas frequency such as "
            f"'1h', '1D' or '1W': {exc}"
        ) from exc
    keys = _window_keys(ordered, str(window), time_column)
    return ordered.groupby(keys.rename("window"), sort=True)


def _regression(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from sklearn import metrics

    nonzero = actual != 0
    return {
        "mae": float(metrics.mean_absolute_error(actual, predicted)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(actual, predicted))),
        "mape": float(np.mean(np.abs((actual[nonzero] - predicted[nonzero]) / actual[nonzero])))
        if nonzero.any()
        else float("nan"),
        "r2": float(metrics.r2_score(actual, predicted)) if len(actual) > 1 else float("nan"),
    }


def _classification(
    actual: np.ndarray, predicted: np.ndarray, scores: np.ndarray | None, positive: Any
) -> dict[str, float]:
    from sklearn import metrics

    labels = sorted(set(actual.tolist()) | set(predicted.tolist()), key=str)
    binary = positive is not None or len(labels) <= 2
    average = "binary" if binary else "macro"
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kwargs["pos_label"] = positive if positive is not None else labels[-1]
    out = {
        "accuracy": float(metrics.accuracy_score(actual, predicted)),
        "precision": float(metrics.precision_score(actual, predicted, **kwargs)),
        "recall": float(metrics.recall_score(actual, predicted, **kwargs)),
        "f1": float(metrics.f1_score(actual, predicted, **kwargs)),
        "roc_auc": float("nan"),
    }
    if scores is not None and binary and len(set(actual.tolist())) == 2:
        target = actual == kwargs["pos_label"]
        out["roc_auc"] = float(metrics.roc_auc_score(target, scores))
    return out


def performance_over_time(
    log: pd.DataFrame,
    *,
    task: str,
    window: str | int = "1D",
    actual: str = "actual",
    prediction: str = "prediction",
    score: str | None = None,
    positive: Any = None,
    time_column: str = "timestamp",
) -> pd.DataFrame:
    """Realized metrics per window, over the rows that have an actual.

    Args:
        log: The inference log joined with actuals (``join_actuals``).
        task: ``regression`` (MAE, RMSE, MAPE, R²) or ``classification`` (accuracy,
            precision, recall, F1; ROC AUC when ``score`` names a probability column).
        window: A pandas frequency or a row count (see :func:`windows`).
        actual: The ground-truth column.
        prediction: The prediction column.
        score: For classifiers, the positive class's probability column, if logged.
        positive: The positive class (default: the last label in sorted order).
        time_column: The timestamp column.

    Returns:
        One row per window: ``window``, ``rows``, ``labelled`` and the metrics (NaN where
        a window has no labelled row).

    Raises:
        MonitoringError: A column is missing or ``task`` is unknown.
    """
    import pandas as pd

    if task not in ("regression", "classification"):
        raise MonitoringError(f"task must be 'regression' or 'classification'; got {task!r}.")
    needed = [actual, prediction, time_column] + ([score] if score else [])
    absent = [c for c in needed if c not in log.columns]
    if absent:
        raise MonitoringError(
            f"Performance needs the columns {absent}, which the log does not have "
            f"(join the actuals first: workbench.serving.join_actuals)."
        )
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    rows = []
    for start, part in windows(log, window, time_column=time_column):
        labelled = part[part[actual].notna()]
        record: dict[str, Any] = {"window": start, "rows": len(part), "labelled": len(labelled)}
        if len(labelled):
            truth = labelled[actual].to_numpy()
            guess = labelled[prediction].to_numpy()
            if task == "regression":
                record |= _regression(truth.astype(float), guess.astype(float))
            else:
                scores = labelled[score].to_numpy(dtype=float) if score else None
                record |= _classification(truth, guess, scores, positive)
        else:
            record |= dict.fromkeys(names, float("nan"))
        rows.append(record)
    return pd.DataFrame(rows, columns=["window", "rows", "labelled", *names])


@dataclass
class CBPE:
    """Confidence-based performance estimation for a classifier, before labels arrive.

    Fit on reference rows with labels (``fit``), then ``estimate`` current rows from their
    scores alone. For a binary classifier ``scores`` is the positive class's probability;
    for more classes, one column per class (``classes`` in that order).

    Args:
        threshold: Score at or above which a binary prediction is positive.
    """

    threshold: float = 0.5
    classes: tuple[Any, ...] = ()
    _calibrators: tuple[Any, ...] = ()

    def fit(self, scores: Any, labels: Any, classes: Sequence[Any] | None = None) -> CBPE:
        """Calibrate the scores against the reference labels (isotonic, per class)."""
        from sklearn.isotonic import IsotonicRegression

        matrix = _as_matrix(scores)
        truth = np.asarray(labels)
        found = sorted(set(truth.tolist()), key=str)
        self.classes = tuple(classes) if classes is not None else tuple(found)
        if matrix.shape[1] == 1 and len(self.classes) != 2:
            raise MonitoringError(
                f"One score column means a binary classifier; the labels have classes "
                f"{list(self.classes)}."
            )
        if matrix.shape[1] > 1 and matrix.shape[1] != len(self.classes):
            raise MonitoringError(
                f"{matrix.shape[1]} score columns for {len(self.classes)} classes "
                f"{list(self.classes)}."
            )
        targets = (
            [truth == self.classes[1]]
            if matrix.shape[1] == 1
            else [truth == c for c in self.classes]
        )
        self._calibrators = tuple(
            IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(matrix[:, i], t)
            for i, t in enumerate(targets)
        )
        return self

    def calibrated(self, scores: Any) -> np.ndarray:
        if not self._calibrators:
            raise MonitoringError("CBPE.estimate before fit: calibrate on reference rows first.")
        matrix = _as_matrix(scores)
        out = np.column_stack([c.predict(matrix[:, i]) for i, c in enumerate(self._calibrators)])
        if out.shape[1] > 1:
            out = out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out

    def estimate(self, scores: Any) -> dict[str, float]:
        """Expected accuracy, precision, recall and F1 of these rows (binary), or expected
        accuracy (more classes)."""
        matrix = _as_matrix(scores)
        p = self.calibrated(matrix)
        if p.shape[1] == 1:
            positive = matrix[:, 0] >= self.threshold
            prob = p[:, 0]
            tp = float(prob[positive].sum())
            fp = float((1 - prob[positive]).sum())
            fn = float(prob[~positive].sum())
            tn = float((1 - prob[~positive]).sum())
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            return {
                "accuracy": (tp + tn) / max(len(prob), 1),
                "precision": precision,
                "recall": recall,
                "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            }
        chosen = np.argmax(matrix, axis=1)
        return {"accuracy": float(p[np.arange(len(p)), chosen].mean())}

    def estimate_over_time(
        self,
        frame: pd.DataFrame,
        score_columns: str | Sequence[str],
        *,
        window: str | int = "1D",
        time_column: str = "timestamp",
    ) -> pd.DataFrame:
        """:meth:`estimate` per window of ``frame`` (for example the inference log)."""
        import pandas as pd

        columns = [score_columns] if isinstance(score_columns, str) else list(score_columns)
        rows = []
        for start, part in windows(frame, window, time_column=time_column):
            rows.append({"window": start, "rows": len(part), **self.estimate(part[columns])})
        return pd.DataFrame(rows)


def _as_matrix(scores: Any) -> np.ndarray:
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise MonitoringError("Scores must be a finite 1-D array or a 2-D array (one per class).")
    return matrix


@dataclass(frozen=True)
class Alert:
    """A metric that crossed its threshold in a window, and why."""

    window: Any
    metric: str
    value: float
    threshold: float
    reason: str


def check_thresholds(
    frame: pd.DataFrame, thresholds: Mapping[str, tuple[str, float]]
) -> list[Alert]:
    """Alerts for every window whose metric crosses its bound.

    Args:
        frame: One row per window with a ``window`` column (``performance_over_time``,
            ``CBPE.estimate_over_time``, ``drift_over_time``).
        thresholds: ``{"rmse": ("max", 5.0), "accuracy": ("min", 0.8)}``: ``max`` alerts
            above the bound, ``min`` below it.

    Raises:
        MonitoringError: A metric is not in the frame or a direction is unknown.
    """
    alerts = []
    for metric, (direction, bound) in thresholds.items():
        if metric not in frame.columns:
            raise MonitoringError(
                f"No metric {metric!r} to check; the frame has {list(frame.columns)}."
            )
        if direction not in ("max", "min"):
            raise MonitoringError(f"{metric}: direction must be 'max' or 'min', not {direction!r}.")
        for window, value in zip(frame["window"], frame[metric], strict=True):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            crossed = value > bound if direction == "max" else value < bound
            if crossed:
                word = "above the maximum" if direction == "max" else "below the minimum"
                alerts.append(
                    Alert(
                        window,
                        metric,
                        float(value),
                        float(bound),
                        f"{metric} = {value:.4g} in the window starting {window}: {word} "
                        f"{bound:.4g}.",
                    )
                )
    return alerts
