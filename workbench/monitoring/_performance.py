"""Realized model performance per period, once the actuals arrive.

The inference log joined with the actuals (``join_actuals``), cut into periods by time
(``"1h"``, ``"1D"``, ``"1W"``) or by count (every N rows), one row of metrics per period,
each defined once in :mod:`workbench._metrics`. Before the actuals, the performance is
estimated instead (:mod:`workbench.monitoring._cbpe`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import DataError, MonitoringError
from workbench._metrics import BINARY, MULTICLASS, REGRESSION, class_order, evaluate
from workbench.monitoring._periods import periods, renamed_window

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BINARY_METRICS",
    "MULTICLASS_METRICS",
    "REGRESSION_METRICS",
    "performance_over_time",
]

REGRESSION_METRICS = REGRESSION
BINARY_METRICS = BINARY
MULTICLASS_METRICS = MULTICLASS


def _classes_of(
    labelled: pd.DataFrame,
    actual: str,
    prediction: str,
    classes: Sequence[Any] | None,
    positive: Any,
) -> list[Any]:
    """The classes, decided once for the whole log: ``classes`` as given (the model's
    ``classes_``), else the labels present in scikit-learn's order; ``positive`` last."""
    if classes is not None:
        found = list(np.asarray(classes, dtype=object).tolist())
    else:
        try:
            found = class_order(
                np.concatenate([labelled[actual].to_numpy(), labelled[prediction].to_numpy()])
            )
        except DataError as exc:
            raise MonitoringError(f"{exc} (performance_over_time: pass classes=).") from exc
    if positive is None:
        return found
    others = [c for c in found if c != positive]
    if len(others) > 1:
        raise MonitoringError(
            f"positive={positive!r} names the positive class of a two-class model, but the "
            f"classes are {found!r}."
        )
    return [*others, positive]


def performance_over_time(
    log: pd.DataFrame,
    *,
    task: str,
    period: str | int = "1D",
    actual: str = "actual",
    prediction: str = "prediction",
    score: str | Sequence[str] | None = None,
    positive: Any = None,
    classes: Sequence[Any] | None = None,
    time_column: str = "timestamp",
    window: str | int | None = None,
) -> pd.DataFrame:
    """Realized metrics per period, over the rows that have an actual.

    Args:
        log: The inference log joined with actuals (``join_actuals``).
        task: ``regression`` (``mae``, ``rmse``, ``mape``, ``r2``) or ``classification``
            (two classes: ``accuracy``, ``precision_binary``, ``recall_binary``,
            ``f1_binary``, ``roc_auc``; more: the ``_macro`` ones); each as
            :mod:`workbench._metrics` defines it.
        period: A pandas frequency or a row count (see :func:`periods`).
        actual: The ground-truth column.
        prediction: The prediction column.
        score: For classifiers, the probability column(s) logged: the positive class's
            (two classes) or one per class in ``classes`` order (the server's
            ``proba_<class>`` columns); without it ``roc_auc`` is NaN.
        positive: The positive class of a two-class model (default: the last of
            ``classes``).
        classes: The model's ``classes_`` (default: the labels in the log, in
            scikit-learn's order: numbers by value, text alphabetically). Decided once
            for the log, so every period has the same metrics.
        time_column: The event-time column.
        window: Deprecated: the old name of ``period``.

    Returns:
        One row per period: ``window`` (the period's start), ``rows``, ``labelled`` and
        the metrics (NaN where a period has no labelled row, or a metric is not defined
        on it).

    Raises:
        MonitoringError: A column is missing, ``task`` is unknown, or the classes do not
            fit the scores.
    """
    import pandas as pd

    period = renamed_window(period, window, default="1D", caller="performance_over_time")
    if task not in ("regression", "classification"):
        raise MonitoringError(f"task must be 'regression' or 'classification'; got {task!r}.")
    scored = [score] if isinstance(score, str) else list(score or [])
    needed = [actual, prediction, time_column, *scored]
    absent = [c for c in needed if c not in log.columns]
    if absent:
        raise MonitoringError(
            f"Performance needs the columns {absent}, which the log does not have "
            f"(join the actuals first: workbench.serving.join_actuals)."
        )
    known: list[Any] = []
    names: tuple[str, ...] = REGRESSION
    if task == "classification":
        known = _classes_of(log[log[actual].notna()], actual, prediction, classes, positive)
        names = BINARY if len(known) <= 2 else MULTICLASS
        fits = len(scored) == len(known) or (len(scored) == 1 and len(known) == 2)
        if scored and not fits:
            raise MonitoringError(
                f"score names {len(scored)} columns {scored} for the {len(known)} classes "
                f"{known!r}: give the positive class's column for two classes, else one "
                "column per class in classes= order."
            )
    rows = []
    for start, part in periods(log, period, time_column=time_column):
        labelled = part[part[actual].notna()]
        record: dict[str, Any] = {"window": start, "rows": len(part), "labelled": len(labelled)}
        if task == "regression":
            record |= evaluate(
                task, labelled[actual].to_numpy(float), labelled[prediction].to_numpy(float)
            )
        elif len(known) < 2:  # one class seen and none given: no positive class to name
            record |= dict.fromkeys(names, math.nan)
            record["accuracy"] = evaluate(
                task, labelled[actual], labelled[prediction], labels=known, names=["accuracy"]
            )["accuracy"]
        else:
            record |= evaluate(
                task,
                labelled[actual].to_numpy(),
                labelled[prediction].to_numpy(),
                scores=labelled[scored].to_numpy(dtype=float) if scored else None,
                labels=known,
                names=names,
            )
        rows.append(record)
    return pd.DataFrame(rows, columns=["window", "rows", "labelled", *names])
