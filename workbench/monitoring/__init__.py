"""Monitoring: drift, integrity and performance of a model in production, over time.

* Drift: a :class:`ReferenceProfile` of the training data (stored with the model by
  ``package_model``), mergeable :class:`Summary` counts of production data (pandas or Dask,
  one pass), eight tests (``TESTS``) chosen by Evidently's rules →
  :func:`compute_drift` (a :class:`DriftSnapshot`, JSON) and :func:`drift_over_time`.
* Integrity: :func:`check_integrity` of a batch against the data contract; refused and
  failed requests per period with :func:`errors_over_time`.
* Performance: :func:`performance_over_time` once actuals arrive, :class:`CBPE` before.
* Periods: every "per period" result is cut by :func:`periods` (a pandas frequency such
  as ``"1D"``, or a row count), asked for with ``period=``; the old ``window=`` keyword,
  ``windows`` and ``summarize_by_window`` still work, with a ``DeprecationWarning``.
* Time: periods follow the data's event time where the model's data contract names
  one (``Contract.event_time``, logged by the server beside the inputs), else the
  requests' arrival time.
* Alerts: :func:`check_thresholds` and ``DriftTimeline.alerts``; default bounds from the
  version's own validation metrics (:func:`thresholds_from_metrics`, each
  :class:`Threshold` saying where it came from); everything recorded in MLflow with
  :func:`log_to_mlflow`.
* The scheduled monitor: :func:`run_monitor` (``workbench monitor``) reads what arrived
  since its checkpoint, records results per period and evaluates the alert rules; a
  :class:`Notifier` delivers them to a :class:`WebhookReceiver` (JSON, Slack, Teams) or
  an :class:`EmailReceiver` (SMTP): fired, repeated, resolved; an alert rule's
  :class:`AlertAction` (``retrain``) runs once when its alert fires.
* Champion and challenger: :func:`compare_shadow` scores both on the same requests
  and actuals, from the log of a server run with ``--shadow``; :func:`promote_shadowed`
  promotes the challenger on those rows if it is not worse.
* Figures: :func:`drift_table_figure` (:func:`drift_table_html` in the dashboards),
  :func:`drift_over_time_figure`, :func:`distribution_figure`, :func:`metric_figure`;
  :class:`DriftExplorer` and :class:`MonitoringDashboard` (:func:`open_dashboard`, over
  the log's summaries per period from :func:`collect`) in a notebook or Voilà.

The reference profile and its mergeable counts are on the foundation floor
(``workbench._reference_profile``, ``workbench._summaries``, ``workbench._records``), since
packaging writes the profile. Modules here, lowest first: ``_periods`` (buckets of time),
``_profile`` (summaries per period), ``_stats`` (the tests), ``_drift`` (snapshots);
``_alerts``, ``_performance`` (realized), ``_cbpe`` (estimated), ``_shadow`` (champion
and challenger); ``_timeline`` (drift per period, integrity, errors, MLflow), ``_collect``
(the log's one pass and the dashboard's data). Presentation on top: ``_figures`` (pure:
record → figure) and ``_widgets``; no compute module imports plotly or ipywidgets.
"""

from __future__ import annotations

from workbench._summaries import Summary
from workbench.monitoring._alerts import (
    Alert,
    AlertAction,
    Threshold,
    check_thresholds,
    thresholds_from_metrics,
)
from workbench.monitoring._cbpe import CBPE, estimate_from_log
from workbench.monitoring._collect import LogOverview, collect
from workbench.monitoring._drift import (
    ColumnDrift,
    DriftSnapshot,
    compute_drift,
    latest_snapshot,
)
from workbench.monitoring._figures import (
    distribution_figure,
    drift_over_time_figure,
    drift_table_figure,
    drift_table_html,
    metric_figure,
)
from workbench.monitoring._job import ActionOutcome, MonitorResult, run_monitor
from workbench.monitoring._notify import (
    AlertInbox,
    Delivery,
    EmailReceiver,
    Notifier,
    WebhookReceiver,
    actions_from_settings,
    notifier_from_settings,
    read_deliveries,
)
from workbench.monitoring._performance import performance_over_time
from workbench.monitoring._periods import periods, windows
from workbench.monitoring._profile import (
    ReferenceProfile,
    summarize,
    summarize_by_period,
    summarize_by_window,
)
from workbench.monitoring._shadow import compare_shadow, promote_shadowed, shadow_holdout
from workbench.monitoring._stats import TESTS
from workbench.monitoring._timeline import (
    DriftTimeline,
    IntegrityReport,
    check_integrity,
    drift_over_time,
    errors_over_time,
    log_to_mlflow,
    reference_profile_of,
)
from workbench.monitoring._widgets import DriftExplorer, MonitoringDashboard, open_dashboard

__all__ = [
    "CBPE",
    "TESTS",
    "ActionOutcome",
    "Alert",
    "AlertAction",
    "AlertInbox",
    "ColumnDrift",
    "Delivery",
    "DriftExplorer",
    "DriftSnapshot",
    "DriftTimeline",
    "EmailReceiver",
    "IntegrityReport",
    "LogOverview",
    "MonitorResult",
    "MonitoringDashboard",
    "Notifier",
    "ReferenceProfile",
    "Summary",
    "Threshold",
    "WebhookReceiver",
    "actions_from_settings",
    "check_integrity",
    "check_thresholds",
    "collect",
    "compare_shadow",
    "compute_drift",
    "distribution_figure",
    "drift_over_time",
    "drift_over_time_figure",
    "drift_table_figure",
    "drift_table_html",
    "errors_over_time",
    "estimate_from_log",
    "latest_snapshot",
    "log_to_mlflow",
    "metric_figure",
    "notifier_from_settings",
    "open_dashboard",
    "performance_over_time",
    "periods",
    "promote_shadowed",
    "read_deliveries",
    "reference_profile_of",
    "run_monitor",
    "shadow_holdout",
    "summarize",
    "summarize_by_period",
    "summarize_by_window",
    "thresholds_from_metrics",
    "windows",
]
