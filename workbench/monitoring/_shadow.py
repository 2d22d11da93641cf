"""Champion and shadow challenger on the same requests and the same actuals.

``workbench serve models:/NAME@champion --shadow challenger`` logs the champion's answers
in the inference log and the challenger's, for the same request ids and rows, in
``<log>/shadow/``. :func:`compare_shadow` joins the two by (request id, row), keeps the
rows whose actual has arrived (``POST /actuals``) and scores each version on exactly those
rows, with the metrics defined once in :mod:`workbench._metrics`.

:func:`promote_shadowed` hands those same rows (the logged inputs, the actual as the
target) to :func:`~workbench.packaging.promote`, the check ``workbench promote`` makes:
``@champion`` moves only when the challenger is not worse on them. The dashboard's
Promote button calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._metrics import class_order, evaluate

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.packaging import Promotion

__all__ = ["compare_shadow", "promote_shadowed", "shadow_folder", "shadow_holdout"]

_KEY = ["request_id", "row_in_request"]


def shadow_folder(log_dir: str | Path) -> str:
    """Where the shadow's answers to requests logged in ``log_dir`` are."""
    return str(log_dir).rstrip("/") + "/shadow"


def _answered_by_both(log_dir: str | Path, columns: list[str] | None) -> pd.DataFrame:
    """The champion's logged rows (``columns`` of them, every column with ``None``) that
    the shadow answered too and whose actual has arrived: the shadow's own
    ``model_version`` and ``prediction`` beside them (suffixes ``_champion`` and
    ``_challenger``), and ``actual``."""
    from workbench.serving import LogFolder, join_actuals, read_inference_log

    if not LogFolder(shadow_folder(log_dir)).exists():
        raise MonitoringError(
            f"No shadow log at {shadow_folder(log_dir)}: serve the champion with "
            f"`--shadow challenger` to log the challenger's answers to the same requests."
        )
    champion = read_inference_log(log_dir)
    if columns is not None:
        champion = champion[[*_KEY, *columns]]
    shadow = read_inference_log(shadow_folder(log_dir))[[*_KEY, "model_version", "prediction"]]
    both = join_actuals(
        champion.merge(shadow, on=_KEY, suffixes=("_champion", "_challenger")), log_dir
    )
    return both[both["actual"].notna()]


def shadow_holdout(log_dir: str | Path, *, target: str) -> pd.DataFrame:
    """The rows :func:`compare_shadow` compares, as a holdout for ``promote``: the inputs
    the champion logged for each request the shadow answered too and whose actual has
    arrived, the actual in column ``target``.

    Raises:
        MonitoringError: No shadow log under ``log_dir``.
    """
    from workbench.serving._log import LOG_COLUMNS

    both = _answered_by_both(log_dir, None)
    logged = [c for c in LOG_COLUMNS if c != "prediction"]
    answers = [f"{c}_{role}" for c in ("model_version", "prediction")
               for role in ("champion", "challenger")]  # fmt: skip
    inputs = both.drop(columns=[c for c in [*logged, *answers] if c in both.columns])
    return inputs.rename(columns={"actual": target}).reset_index(drop=True)


def promote_shadowed(
    model_name: str,
    log_dir: str | Path,
    *,
    metric: str | None = None,
    promoted_by: str | None = None,
    settings: Settings | None = None,
) -> Promotion:
    """Move ``@champion`` to the shadowed ``@challenger`` if it is not worse on the
    requests both answered whose actuals have arrived (:func:`shadow_holdout`), with
    :func:`~workbench.packaging.promote`'s check; ``promoted_by`` is recorded on the
    version (tag ``promoted_by``) and in the log line.

    Args:
        model_name: The registered model.
        log_dir: The inference log of the server run with ``--shadow challenger``.
        metric: The metric compared (default: MAE for regression, accuracy for
            classification: the first one the Challenger tab shows).
        promoted_by: Who asked (the dashboard's signed-in user).
        settings: Settings (default: resolved from the working directory).

    Raises:
        PromotionRefused: The challenger is worse; nothing changed.
        MonitoringError: No shadow log, or no compared row has an actual yet.
        ModelError: ``@challenger`` or the champion's target is missing.
    """
    from workbench._exceptions import ModelError
    from workbench._versions import VersionArtifacts
    from workbench.packaging import promote

    champion = VersionArtifacts.of(model_name, alias="champion", settings=settings)
    target = champion.target
    if not target:
        raise ModelError(
            f"Version {champion.version} of {model_name!r} names no target column, so the "
            f"logged actuals cannot be compared: package it with target=... ."
        )
    holdout = shadow_holdout(log_dir, target=target)
    if holdout.empty:
        raise MonitoringError(
            f"No request both versions of {model_name!r} answered has an actual yet "
            f"(POST /actuals): nothing to compare them on."
        )
    chosen = metric or ("mae" if champion.task == "regression" else "accuracy")
    return promote(
        model_name,
        holdout,
        target=target,
        metric=chosen,
        promoted_by=promoted_by,
        settings=settings,
    )


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

    both = _answered_by_both(log_dir, ["model_version", "prediction"])
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
