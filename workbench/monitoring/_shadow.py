"""Champion and shadow challenger on the same requests and the same actuals.

``workbench serve models:/NAME@champion --shadow challenger`` logs the champion's answers
in the inference log and the challenger's, for the same request ids and rows, in
``<log>/shadow/``. :func:`compare_shadow` joins the two by (request id, row), keeps the
rows whose actual has arrived (``POST /actuals``) and scores each version on exactly those
rows, with the metrics defined once in :mod:`workbench._metrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._metrics import class_order, evaluate

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["compare_shadow", "shadow_folder"]

_KEY = ["request_id", "row_in_request"]


def shadow_folder(log_dir: str | Path) -> str:
    """Where the shadow's answers to requests logged in ``log_dir`` are."""
    return str(log_dir).rstrip("/") + "/shadow"


def _task_of(predictions: Any) -> str:
    kind = np.asarray(predictions).dtype.kind
    return "regression" if kind == "f" else "classification"


def compare_shadow(
    log_dir: str | Path,
    *,
    task: str | None = None,
    metrics: list[str] | None = None,
) -> pd.DataFrame:
    """Each served version's metrics on the requests both the champion and the shadow
    answered and whose actuals have arrived.

    Args:
        log_dir: The inference log folder (or fsspec URL) of a server run with
            ``--shadow``; the shadow's answers are in its ``shadow/`` folder.
        task: ``regression`` or ``classification`` (default: regression when the
            predictions are floating-point numbers, else classification).
        metrics: Metric names of :mod:`workbench._metrics` (default: the task's standard
            ones that need no class probabilities).

    Returns:
        One row per version: ``role`` (``champion`` or ``challenger``), ``version``,
        ``requests`` and ``rows`` compared, then one column per metric; champion first.
        Empty (the same columns) when no compared row has an actual yet.

    Raises:
        MonitoringError: No shadow log under ``log_dir`` (the server ran without
            ``--shadow``).
    """
    import pandas as pd

    from workbench.serving import LogFolder, join_actuals, read_inference_log

    if not LogFolder(shadow_folder(log_dir)).exists():
        raise MonitoringError(
            f"No shadow log at {shadow_folder(log_dir)}: serve the champion with "
            f"`--shadow challenger` to log the challenger's answers to the same requests."
        )
    wanted = [*_KEY, "model_version", "prediction"]
    champion = read_inference_log(log_dir)[wanted]
    shadow = read_inference_log(shadow_folder(log_dir))[wanted]
    both = join_actuals(
        champion.merge(shadow, on=_KEY, suffixes=("_champion", "_challenger")), log_dir
    )
    both = both[both["actual"].notna()]
    task = task or _task_of(both["prediction_champion"] if len(both) else [])
    if task == "regression":
        names = metrics or ["mae", "rmse", "mape", "r2"]
    else:
        names = metrics or ["accuracy", "precision_macro", "recall_macro", "f1_macro"]
    labels = None  # a classifier's classes: the same for both versions
    if task != "regression":
        seen = [*both["actual"], *both["prediction_champion"], *both["prediction_challenger"]]
        labels = class_order(seen)
    records = []
    for role in ("champion", "challenger"):
        for version, rows in both.groupby(f"model_version_{role}", sort=True):
            truth, predicted = rows["actual"].to_numpy(), rows[f"prediction_{role}"].to_numpy()
            if task == "regression":
                truth, predicted = truth.astype(float), predicted.astype(float)
            records.append(
                {
                    "role": role,
                    "version": str(version),
                    "requests": int(rows["request_id"].nunique()),
                    "rows": len(rows),
                    **evaluate(task, truth, predicted, labels=labels, names=names),
                }
            )
    return pd.DataFrame(records, columns=["role", "version", "requests", "rows", *names])
