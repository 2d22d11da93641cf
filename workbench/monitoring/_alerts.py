"""Alerts: a metric per period that crosses its threshold, with the reason in words.

:func:`check_thresholds` reads any frame with one row per period (realized performance,
estimated performance, drift); :func:`resolve_thresholds` reads a metric's old name as
the one it meant. :func:`thresholds_from_metrics` derives a model's default bounds from
its own validation metrics (stored with the version at packaging): an error may grow to
1.5× its validation value (``mae``, ``rmse``, ``mape``, ``log_loss``), a score may fall
to 0.9× (``accuracy``, ``f1_*``, ``roc_auc``...); each :class:`Threshold` says where it
came from.

An alert rule may also name an action (:class:`AlertAction`, from the ``rules`` of
``[tool.workbench.alerts]``: :func:`actions_from_config`): ``retrain`` refits (or
re-tunes) the champion when the alert fires, once per firing; ``run_monitor`` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Union

import numpy as np

from workbench._exceptions import ConfigurationError, MonitoringError
from workbench._metrics import LEGACY

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACTIONS",
    "GROWTH",
    "Alert",
    "AlertAction",
    "Bound",
    "Threshold",
    "actions_from_config",
    "check_thresholds",
    "performance_alerts",
    "resolve_thresholds",
    "thresholds_from_metrics",
]

#: How far a metric may move from its validation value before it alerts: an error (a
#: metric to minimize) up to 1.5×, a score (to maximize) down to 0.9×.
GROWTH = {"minimize": 1.5, "maximize": 0.9}
#: Where a version's validation value of a metric is read, most trusted first: the
#: training run's validation split, the holdout scored at packaging, the tuning's CV.
_SOURCES = (("valid_", "validation"), ("holdout_", "holdout"), ("", "validation"))
#: Metrics with no default bound: R² of a period depends on that period's own spread.
_NO_DEFAULT = ("r2",)


class Threshold(NamedTuple):
    """A bound on a metric: ``("max", 197.0)`` alerts above, ``("min", 0.8)`` below;
    ``source`` says where it came from (``"given"``, or the validation metric it was
    derived from). Reads as the ``(direction, bound)`` pair it extends."""

    direction: str
    bound: float
    source: str = "given"

    def describe(self, metric: str = "") -> str:
        """``max 195.3 (1.5 × validation mae of v1, 130.2)``; a share (``mape``) in %."""
        return f"{self.direction} {shown(metric, self.bound)} ({self.source})"


#: Metrics that are shares, shown as percentages.
_SHARES = ("mape",)


def shown(metric: str, value: float) -> str:
    """``value`` of ``metric`` as a person reads it: 4 significant digits with thousands
    separators, a share (``mape``) as a percentage."""
    return f"{100 * value:,.3g} %" if metric in _SHARES else f"{value:,.4g}"


#: A bound as a caller gives it: a :class:`Threshold`, or a ``(direction, bound)`` pair.
Bound = Union[tuple[str, float], Threshold]  # noqa: UP007 (a runtime alias)


def as_threshold(value: Any) -> Threshold:
    """A :class:`Threshold` from one, or from a ``(direction, bound)`` pair."""
    if isinstance(value, Threshold):
        return value
    try:
        direction, bound = value
        return Threshold(str(direction), float(bound))
    except (TypeError, ValueError) as exc:
        raise MonitoringError(
            f"A threshold is ('max' or 'min', a number), such as ('max', 4.0); got {value!r}."
        ) from exc


def thresholds_from_metrics(
    metrics: Mapping[str, Any], task: str, *, version: Any = None
) -> dict[str, Threshold]:
    """Default alert bounds from a version's own validation metrics.

    Args:
        metrics: The model card's metrics (``{"valid_mae": {"value": 131.2, ...}}``) or
            plain numbers (``{"valid_mae": 131.2}``).
        task: ``regression`` or ``classification``.
        version: Named in each threshold's source (``v3``), if given.

    Returns:
        ``{"mae": Threshold("max", 196.8, "1.5 × validation mae 131 (v3)")}``: each metric
        of the task with a positive validation value; none for ``r2``.

    Example:
        >>> thresholds_from_metrics({"valid_mae": 100.0}, "regression")["mae"].bound
        150.0
    """
    from workbench._metrics import METRICS

    known = METRICS.get(task, {})
    out: dict[str, Threshold] = {}
    for name, metric in known.items():
        if name in _NO_DEFAULT:
            continue
        for prefix, label in _SOURCES:
            entry = metrics.get(f"{prefix}{name}")
            value = entry.get("value") if isinstance(entry, Mapping) else entry
            if value is None or isinstance(value, bool):
                continue
            value = float(value)
            if not np.isfinite(value) or value <= 0:
                continue
            factor = GROWTH[metric.direction]
            of = f" of v{version}" if version is not None else ""
            out[name] = Threshold(
                "max" if metric.direction == "minimize" else "min",
                factor * value,
                f"{factor:g} × {label} {name}{of}, {shown(name, value)}",
            )
            break
    return out


def resolve_thresholds(
    thresholds: Mapping[str, Bound], columns: Sequence[str]
) -> dict[str, Threshold]:
    """``thresholds`` with a metric's old name (``f1``, ``precision``, ``recall``) read as
    the one of ``columns`` that it meant (``f1_binary`` for two classes, else
    ``f1_macro``), with a ``FutureWarning``; other names as they are."""
    import warnings

    out: dict[str, Threshold] = {}
    for name, given in thresholds.items():
        bound = as_threshold(given)
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


def check_thresholds(frame: pd.DataFrame, thresholds: Mapping[str, Bound]) -> list[Alert]:
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
    for metric, given in thresholds.items():
        direction, bound = given[0], given[1]
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
                        f"{metric} = {shown(metric, value)} in the period starting "
                        f"{_when(window)}: {word} {shown(metric, bound)}.",
                    )
                )
    return alerts


def _when(start: Any) -> str:
    """A period's start as a person reads it: ``2024-07-01``, or with its time of day."""
    if hasattr(start, "isoformat") and hasattr(start, "hour"):
        if start.hour == start.minute == start.second == 0:
            return str(start.isoformat())[:10]
        return str(start.isoformat())[:16].replace("T", " ")
    return str(start)


def performance_alerts(
    performance: pd.DataFrame | None,
    estimated: pd.DataFrame | None,
    thresholds: Mapping[str, Bound] | None,
) -> tuple[dict[str, Threshold], list[Alert]]:
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


#: The actions an alert rule may name.
ACTIONS = ("retrain",)


@dataclass(frozen=True)
class AlertAction:
    """What to do when an alert fires: run once per firing (not when it repeats), by
    :func:`~workbench.monitoring.run_monitor` after it has recorded its results.

    Attributes:
        when: The alert it answers: its metric (``drift``, ``mae``, ``estimated
            accuracy``) or a pattern (``integrity*``, ``*``).
        action: ``retrain``: ``workbench.packaging.retrain`` on the rows of ``labels``
            up to the end of the period that fired, packaged as ``@challenger``.
        labels: The label rows (Parquet or CSV: entity keys, their time, the target); a
            relative path is read from the project folder.
        backtest_days: Days before the end of the period held out to backtest.
        since_days: Only rows of this many days before that end (``None``: all).
        promote: Then move ``@champion`` to the challenger if it is not worse.
        tune: Trials of a short re-tune (0: refit the champion's configuration).
        time_column: The labels' time column (default: their only datetime column).
        measure_cost: Measure the challenger's latency for its card.
    """

    when: str
    action: str = "retrain"
    labels: str = ""
    backtest_days: int = 14
    since_days: int | None = None
    promote: bool = False
    tune: int = 0
    time_column: str | None = None
    measure_cost: bool = True

    def __post_init__(self) -> None:
        where = f"The alert rule {self.when!r}"
        if self.action not in ACTIONS:
            raise ConfigurationError(
                f"{where} names the action {self.action!r}; the actions are {list(ACTIONS)}."
            )
        if not self.labels:
            raise ConfigurationError(
                f"{where}: 'retrain' needs 'labels', the file of label rows to retrain on "
                "(such as 'data/processed/labels.parquet')."
            )
        for field, low in (("backtest_days", 1), ("since_days", 1), ("tune", 0)):
            value = getattr(self, field)
            if value is None and field == "since_days":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(
                    f"{where}: {field!r} must be a whole number >= {low}; got {value!r}."
                )
        for field in ("promote", "measure_cost"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigurationError(
                    f"{where}: {field!r} must be true or false; got {getattr(self, field)!r}."
                )

    def matches(self, metric: str) -> bool:
        """Whether this rule answers the alert named ``metric``."""
        import fnmatch

        return metric == self.when or fnmatch.fnmatchcase(metric, self.when)


def actions_from_config(
    config: Mapping[str, Any], project_dir: str | Any | None = None
) -> list[AlertAction]:
    """The actions of a ``[tool.workbench.alerts]`` table's ``rules``::

        [tool.workbench.alerts.rules.mae]
        action = "retrain"
        labels = "data/processed/labels.parquet"
        backtest_days = 14
        promote = false

    A rule's name is the alert it answers (``drift``, ``mae``, ``"integrity*"``); a
    relative ``labels`` path is read from ``project_dir``.

    Raises:
        ConfigurationError: A rule is not a table, names an unknown field or action, or
            a field has the wrong type.
    """
    from pathlib import Path

    rules = config.get("rules", {})
    if not isinstance(rules, Mapping):
        raise ConfigurationError(
            "[tool.workbench.alerts] rules must be a table of alert names, such as "
            f"[tool.workbench.alerts.rules.mae]; got {rules!r}."
        )
    known = {f for f in AlertAction.__dataclass_fields__ if f != "when"}
    out = []
    for when, rule in rules.items():
        if not isinstance(rule, Mapping):
            raise ConfigurationError(
                f"[tool.workbench.alerts.rules] {when!r} must be a table with 'action'; got "
                f"{rule!r}."
            )
        unknown = sorted(set(rule) - known)
        if unknown:
            raise ConfigurationError(
                f"[tool.workbench.alerts.rules] {when!r} has unknown fields {unknown}; the "
                f"fields are {sorted(known)}."
            )
        if "action" not in rule:
            raise ConfigurationError(
                f"[tool.workbench.alerts.rules] {when!r} names no action; say "
                f"action = {ACTIONS[0]!r}."
            )
        labels = str(rule.get("labels", ""))
        if labels and project_dir is not None and "://" not in labels:
            path = Path(labels)
            labels = str(path if path.is_absolute() else Path(project_dir) / path)
        out.append(AlertAction(when=str(when), **{**dict(rule), "labels": labels}))
    return out
