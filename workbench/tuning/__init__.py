"""Model development: fit pipelines on time-based splits, every fit tracked in MLflow."""

from __future__ import annotations

from workbench.tuning._baseline import FitResult, fit_baseline, regression_metrics, time_split

__all__ = ["FitResult", "fit_baseline", "regression_metrics", "time_split"]
