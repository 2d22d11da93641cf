"""Alerts: a metric per period that crosses its threshold, with the reason in words.

:func:`check_thresholds` reads any frame with one row per period (realized performance,
estimated performance, drift); :func:`resolve_thresholds` reads a metric's old name as
the one it meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._metrics import LEGACY

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Alert", "check_thresholds", "performance_alerts", "resolve_thresholds"]


def resolve_thresholds(
    thresholds: Mapping[str, tuple[str, float]], columns: Sequence[str]
) -> dict[str, tuple[str, float]]:
    """``thresholds`` with a metric's old name (``f1``, ``precision``, ``recall``) read as
    the one of ``columns`` that it meant (``f1_binary`` for two classes, else
    ``f1_macro``), with a ``FutureWarning``; other names as they are."""
    import warnings

    out: dict[str, tuple[str, float]] = {}
    for name, bound in thresholds.items():
        if name in LEGACY and name not in columns:
            binary, macro = LEGACY[name]
            new = binary if binary in columns else macro if macro in columns else name
            if new != name:
                warnings.warn(
                    f"The threshold's metric name {name!r} is ambiguous and read as {new!r} "
                    f"here; say {binary!r} (the positive class's) or {macro!r} (averaged "
                    "over classes).",
                    FutureWarning,
                    stacklevel=2,
                )
            name = new
        out[name] = bound
    return out


@dataclass(frozen=True)
class Alert:
    """A metric that crossed its threshold in a period (``window``: its start), and why."""

    window: Any
    metric: str
    value: float
    threshold: float
    reason: str


def check_thresholds(
    frame: pd.DataFrame, thresholds: Mapping[str, tuple[str, float]]
) -> list[Alert]:
    """Alerts for every period whose metric crosses its bound.

    Args:
        frame: One row per period, its start in a ``window`` column (``performance_over_time``,
            ``CBPE.estimate_over_time``, ``drift_over_time``).
        thresholds: ``{"rmse": ("max", 5.0), "accuracy": ("min", 0.8)}``: ``max`` alerts
            above the bound, ``min`` below it.

    Raises:
        MonitoringError: A metric is not in the frame or a direction is unknown.
    """
    thresholds = resolve_thresholds(thresholds, [str(c) for c in frame.columns])
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
                        f"{metric} = {value:.4g} in the period starting {window}: {word} "
                        f"{bound:.4g}.",
                    )
                )
    return alerts


def performance_alerts(
    performance: pd.DataFrame | None,
    estimated: pd.DataFrame | None,
    thresholds: Mapping[str, tuple[str, float]] | None,
) -> tuple[dict[str, tuple[str, float]], list[Alert]]:
    """The thresholds (an old metric name read as the one it meant) and the alerts of a
    served model: realized metrics crossing their bound, and before labels the estimated
    ones (named ``estimated <metric>``).

    Args:
        performance: Realized metrics per period (``performance_over_time``), if any.
        estimated: Estimated metrics per period (``CBPE.estimate_over_time``), if any.
        thresholds: ``{"mae": ("max", 4.0)}``; metrics neither frame has are left out.
    """
    resolved = resolve_thresholds(  # an old name (f1) read as the one it meant
        thresholds or {}, [*_columns(performance), *_columns(estimated)]
    )
    alerts: list[Alert] = []
    if performance is not None and resolved:
        usable = {k: v for k, v in resolved.items() if k in performance.columns}
        alerts = check_thresholds(performance, usable)
    if estimated is not None and len(estimated) and resolved:
        # before labels, the estimate is what can cross a bound (said as estimated)
        named = estimated.rename(columns={k: f"estimated {k}" for k in resolved})
        alerts += check_thresholds(
            named,
            {f"estimated {k}": v for k, v in resolved.items() if k in estimated},
        )
    return resolved, alerts


def _columns(frame: pd.DataFrame | None) -> list[str]:
    return [] if frame is None else [str(c) for c in frame.columns]
