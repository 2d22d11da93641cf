"""The workbench's exceptions: one tree, rooted at :class:`WorkbenchError`.

::

    WorkbenchError
    ├── ConfigurationError      a setting is missing, malformed or contradictory
    ├── MissingDependencyError  an optional package is not installed (also an ImportError)
    ├── DataError               input data breaks a rule (names the file, column, rule, value)
    ├── ModelError              a model cannot be trained, logged, registered or loaded
    │   └── PromotionRefused    a challenger scored worse than the champion on the holdout
    ├── ServingError            the scoring server cannot start or answer
    └── MonitoringError         drift or quality results cannot be computed or read

Catch ``WorkbenchError`` to handle everything the workbench raises on purpose; anything
else escaping the package is a bug worth reporting.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DataError",
    "MissingDependencyError",
    "ModelError",
    "MonitoringError",
    "PromotionRefused",
    "ServingError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class ConfigurationError(WorkbenchError):
    """A setting is missing, malformed, or contradicts another."""


class MissingDependencyError(WorkbenchError, ImportError):
    """An optional package needed for this feature is not installed."""


class DataError(WorkbenchError):
    """Input data breaks a rule; the message names the file or column, rule and value."""


class ModelError(WorkbenchError):
    """A model cannot be trained, logged, registered or loaded."""


class ServingError(WorkbenchError):
    """The scoring server cannot start or cannot answer."""


class MonitoringError(WorkbenchError):
    """Drift, integrity or performance results cannot be computed or read."""


class PromotionRefused(ModelError):
    """A challenger scored worse than the champion on the holdout (pass ``force`` to override)."""
