"""Model development: baselines, and Optuna studies on Dask clusters tracked in MLflow.

:func:`tune` (or the estimator-style :class:`Tuner`) compares model families and their
hyperparameters with cross-validation on a Dask cluster (local processes, one worker per
GPU, or a scheduler address), every trial a nested MLflow run;
:class:`TuningDashboard` follows a study live in a notebook; :func:`compare_runs` and its
figures compare the runs of an experiment.
"""

from __future__ import annotations

from workbench.tuning._baseline import FitResult, fit_baseline, regression_metrics, time_split
from workbench.tuning._compare import compare_runs, family_figure, param_figure
from workbench.tuning._dashboard import TuningDashboard, study_figures
from workbench.tuning._experiments import ExperimentsView
from workbench.tuning._objective import METRICS, Metric
from workbench.tuning._spaces import FAMILIES, Family, available_families
from workbench.tuning._study import (
    Tuner,
    TuningJob,
    TuningResult,
    local_cluster,
    sync_to_mlflow,
    trials_frame,
    tune,
)

__all__ = [
    "FAMILIES",
    "METRICS",
    "ExperimentsView",
    "Family",
    "FitResult",
    "Metric",
    "Tuner",
    "TuningDashboard",
    "TuningJob",
    "TuningResult",
    "available_families",
    "compare_runs",
    "family_figure",
    "fit_baseline",
    "local_cluster",
    "param_figure",
    "regression_metrics",
    "study_figures",
    "sync_to_mlflow",
    "time_split",
    "trials_frame",
    "tune",
]
