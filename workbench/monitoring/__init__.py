"""Monitoring: drift, integrity and performance of a model in production, over time.

* Drift: a :class:`ReferenceProfile` of the training data (stored with the model by
  ``package_model``), mergeable :class:`Summary` counts of production data (pandas or Dask,
  one pass), eight tests (``TESTS``) chosen by Evidently's rules →
  :func:`compute_drift` (a :class:`DriftSnapshot`, JSON) and :func:`drift_over_time`.
* Integrity: :func:`check_integrity` of a batch against the data contract; refused and
  failed requests per window with :func:`errors_over_time`.
* Performance: :func:`performance_over_time` once actuals arrive, :class:`CBPE` before.
* Alerts: :func:`check_thresholds` and ``DriftTimeline.alerts``; everything recorded in
  MLflow with :func:`log_to_mlflow`.
* Figures: :func:`drift_table_figure`, :func:`distribution_figure`, :func:`metric_figure`;
  :class:`DriftExplorer` in a notebook.
"""

from __future__ import annotations

from workbench.monitoring._dashboard import (
    LogOverview,
    MonitoringDashboard,
    collect,
    estimate_from_log,
    open_dashboard,
)
from workbench.monitoring._drift import (
    ColumnDrift,
    DriftSnapshot,
    compute_drift,
    latest_snapshot,
)
from workbench.monitoring._figures import distribution_figure, drift_table_figure, metric_figure
from workbench.monitoring._performance import (
    CBPE,
    Alert,
    check_thresholds,
    performance_over_time,
    windows,
)
from workbench.monitoring._stats import TESTS
from workbench.monitoring._summary import (
    ReferenceProfile,
    Summary,
    summarize,
    summarize_by_window,
)
from workbench.monitoring._timeline import (
    DriftTimeline,
    IntegrityReport,
    check_integrity,
    drift_over_time,
    errors_over_time,
    log_to_mlflow,
    reference_profile_of,
)
from workbench.monitoring._widgets import DriftExplorer

__all__ = [
    "CBPE",
    "TESTS",
    "Alert",
    "ColumnDrift",
    "DriftExplorer",
    "DriftSnapshot",
    "DriftTimeline",
    "IntegrityReport",
    "LogOverview",
    "MonitoringDashboard",
    "ReferenceProfile",
    "Summary",
    "check_integrity",
    "check_thresholds",
    "collect",
    "compute_drift",
    "distribution_figure",
    "drift_over_time",
    "drift_table_figure",
    "errors_over_time",
    "estimate_from_log",
    "latest_snapshot",
    "log_to_mlflow",
    "metric_figure",
    "open_dashboard",
    "performance_over_time",
    "reference_profile_of",
    "summarize",
    "summarize_by_window",
    "windows",
]
