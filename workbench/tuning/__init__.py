"""Model development: baselines, and Optuna studies on Dask clusters tracked in MLflow.

:func:`tune` (or the scikit-learn estimator :class:`Tuner`) compares model families and
their hyperparameters with cross-validation on a Dask cluster (local processes, one
worker per GPU, or a scheduler address), every trial a nested MLflow run;
:class:`TuningDashboard` follows a study live in a notebook; :func:`compare_runs` and its
figures compare the runs of an experiment.

The parts of a trial are public too, for benchmarks and your own studies:
:class:`TuningSpec` (what a trial computes), :func:`cross_validate` (one trial's
cross-validation), :func:`refit_best` (a trial's pipeline fitted on every row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.tuning._baseline import FitResult, fit_baseline, regression_metrics, time_split
from workbench.tuning._clusters import local_cluster
from workbench.tuning._devices import cuda_worker_count
from workbench.tuning._figures import family_figure, param_figure, study_figures
from workbench.tuning._job import TuningJob
from workbench.tuning._objective import METRICS, Metric, TuningSpec, cross_validate, metric_for
from workbench.tuning._runs import compare_runs, sync_to_mlflow
from workbench.tuning._spaces import (
    FAMILIES,
    SPACES,
    Family,
    available_families,
    resolve_families,
)
from workbench.tuning._study import TuningResult, refit_best, trials_frame, tune
from workbench.tuning._widgets import ExperimentsView, TuningDashboard

if TYPE_CHECKING:
    from workbench.tuning._tuner import Tuner

__all__ = [
    "FAMILIES",
    "METRICS",
    "SPACES",
    "ExperimentsView",
    "Family",
    "FitResult",
    "Metric",
    "Tuner",
    "TuningDashboard",
    "TuningJob",
    "TuningResult",
    "TuningSpec",
    "available_families",
    "compare_runs",
    "cross_validate",
    "cuda_worker_count",
    "family_figure",
    "fit_baseline",
    "local_cluster",
    "metric_for",
    "param_figure",
    "refit_best",
    "regression_metrics",
    "resolve_families",
    "study_figures",
    "sync_to_mlflow",
    "time_split",
    "trials_frame",
    "tune",
]


def __getattr__(name: str) -> Any:
    # Tuner is a scikit-learn estimator (its base class is scikit-learn's), so its module
    # imports scikit-learn: loaded on first use, to keep ``import workbench.tuning`` light.
    if name == "Tuner":
        from workbench.tuning._tuner import Tuner

        return Tuner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
