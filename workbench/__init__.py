"""The workbench: raw data to a monitored production model, in one package.

Importing ``workbench`` is cheap: the heavy parts (MLflow, Dask, Optuna, plotly,
ipywidgets, scikit-learn) load only when a stage that needs them is first used.

Stages live in subpackages: ``workbench.datasets``, ``workbench.data``,
``workbench.features``, ``workbench.tuning``, ``workbench.packaging``,
``workbench.serving``, ``workbench.monitoring``.
"""

from __future__ import annotations

import os as _os

from workbench._exceptions import (
    ConfigurationError,
    DataError,
    MissingDependencyError,
    ModelError,
    MonitoringError,
    PromotionRefused,
    ServingError,
    WorkbenchError,
)
from workbench._init import init_project
from workbench._settings import Settings, get_settings, reset_settings, resolve_settings
from workbench._tracking import ensure_experiment, mlflow_for

# Nothing leaves the machine unless configured: MLflow 3 sends usage telemetry to its
# maintainers by default. Off here (before MLflow is imported, in this process and in the
# servers and kernels it starts), unless the user set MLFLOW_DISABLE_TELEMETRY themselves.
_os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "DataError",
    "MissingDependencyError",
    "ModelError",
    "MonitoringError",
    "PromotionRefused",
    "ServingError",
    "Settings",
    "WorkbenchError",
    "__version__",
    "ensure_experiment",
    "get_settings",
    "init_project",
    "mlflow_for",
    "reset_settings",
    "resolve_settings",
]
