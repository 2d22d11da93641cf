"""A study in MLflow: a parent run, and one nested run per trial in the Optuna storage.

Every trial that ends gets its run, whoever ended it: the driver logs the trials its
workers finished, the trials it failed when it was interrupted, and the trials it failed
as stale (their process died); a study that resumes first logs the trials an earlier
run left without one, and :func:`sync_to_mlflow` does the same after an outage.

:func:`compare_runs` reads them back: the runs of an experiment as one frame, which
the figures (:mod:`._figures`) and the experiments view (:mod:`._widgets`) show.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError
from workbench._settings import Settings, get_settings
from workbench._tracking import ensure_experiment, mlflow_for
from workbench._urls import redact_url
from workbench.tuning import _storages

if TYPE_CHECKING:
    import pandas as pd

    from workbench.tuning._objective import TuningSpec

__all__ = [
    "best_runs",
    "compare_runs",
    "log_missing",
    "log_trial",
    "outcome_of",
    "parent_run",
    "run_metrics",
    "sync_to_mlflow",
]

_HIGHER_IS_BETTER = ("accuracy", "r2", "f1", "auc", "precision", "recall")


def log_trial(
    client: Any,
    experiment_id: str,
    parent: str,
    study_name: str,
    metric: str,
    outcome: Any,
    run_id: str | None = None,
) -> str:
    """One trial as a nested MLflow run: parameters, the metric per fold, how it ended
    (into ``run_id``, a run whose logging was cut off, when given)."""
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.entities import Param

    stamp = int(outcome.get("ended", time.time()) * 1000)
    scores = outcome.get("scores", [])
    metrics = [MlflowMetric(f"cv_{metric}", s, stamp, i) for i, s in enumerate(scores)]
    if outcome["state"] == "COMPLETE":
        metrics.append(MlflowMetric(metric, outcome["value"], stamp, 0))
    if len(scores) > 1:
        import numpy as np

        metrics.append(MlflowMetric(f"{metric}_std", float(np.std(scores)), stamp, 0))
    if "seconds" in outcome:
        metrics.append(MlflowMetric("duration_s", outcome["seconds"], stamp, 0))
    tags = {
        "mlflow.parentRunId": parent,
        "optuna.study": study_name,
        "optuna.trial": str(outcome["number"]),
        "optuna.state": outcome["state"],
        **{k: str(outcome[k]) for k in ("worker", "family", "device", "gpu") if outcome.get(k)},
        **({"error": outcome["error"][:5000]} if "error" in outcome else {}),
    }
    if run_id is None:
        run_id = client.create_run(
            experiment_id,
            run_name=f"trial-{outcome['number']}",
            tags=tags,
            start_time=int(outcome.get("began", time.time()) * 1000),
        ).info.run_id
    params = [Param(k, str(v)[:6000]) for k, v in outcome.get("params", {}).items()]
    client.log_batch(run_id, metrics=metrics, params=params)
    status = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}.get(outcome["state"], "FAILED")
    client.set_terminated(run_id, status=status, end_time=stamp)  # last: the run is whole
    return str(run_id)


def outcome_of(trial: Any) -> dict[str, Any]:
    """A finished trial's outcome as its storage has it (for a trial no worker reported:
    failed as stale, or when the study was interrupted)."""
    from optuna.trial import TrialState

    began = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
    ended = trial.datetime_complete.timestamp() if trial.datetime_complete else began
    outcome: dict[str, Any] = {
        "number": trial.number,
        "state": trial.state.name,
        "params": dict(trial.params),
        "scores": [trial.intermediate_values[k] for k in sorted(trial.intermediate_values)],
        "began": began,
        "ended": ended,
        "seconds": ended - began,
        "family": trial.params.get("family"),
        **{k: trial.user_attrs.get(k) for k in ("worker", "device", "gpu")},
    }
    if trial.state == TrialState.COMPLETE:
        outcome["value"] = trial.value
    if trial.user_attrs.get("error"):
        outcome["error"] = str(trial.user_attrs["error"])
    return outcome


def log_missing(
    tracker: Any,
    experiment_id: str,
    parent: str,
    study: Any,
    metric: str,
    settled: float | None = None,
) -> int:
    """Log the finished trials of ``study`` that have no whole run under ``parent``.

    Args:
        settled: Only trials that ended this many seconds ago or earlier (a driver that
            is still running logs its own trials within seconds: not twice).

    Returns:
        How many trials were logged.
    """
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    if not trials:
        return 0
    logged = {
        r.data.tags.get("optuna.trial"): r
        for r in tracker.search_runs(
            [experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent}'",
            max_results=50_000,
        )
    }
    now = time.time()
    count = 0
    for trial in trials:
        run = logged.get(str(trial.number))
        if run is not None and run.info.status != "RUNNING":
            continue  # logged whole (a trial's run is terminated last)
        ended = trial.datetime_complete.timestamp() if trial.datetime_complete else 0.0
        if settled is not None and now - ended < settled:
            continue
        run_id = run.info.run_id if run is not None else None  # cut off: completed
        log_trial(
            tracker, experiment_id, parent, study.study_name, metric, outcome_of(trial), run_id
        )
        count += 1
    return count


def parent_run(
    tracker: Any, experiment_id: str, study: Any, spec: TuningSpec, n_trials: int, url: str
) -> str:
    """The study's MLflow parent run: reused when the study resumes."""
    found = _find_parent(tracker, experiment_id, study.study_name)
    if found is not None:
        tracker.update_run(found.info.run_id, status="RUNNING")
        return str(found.info.run_id)
    run = tracker.create_run(
        experiment_id,
        run_name=study.study_name,
        tags={
            "optuna.study": study.study_name,
            "workbench.role": "study",
            "optuna.storage": redact_url(url),
        },
    )
    from mlflow.entities import Param

    params = [
        Param("task", spec.task),
        Param("metric", spec.metric.name),
        Param("direction", spec.metric.direction),
        Param("families", ",".join(spec.families) or "custom objective"),
        Param("cv", repr(spec.cv)[:500]),
        Param("n_trials", str(n_trials)),
        Param("features", ",".join(spec.features)[:6000]),
        Param("seed", str(spec.seed)),
    ]
    tracker.log_batch(run.info.run_id, params=params)
    return str(run.info.run_id)


def _find_parent(tracker: Any, experiment_id: str, study_name: str) -> Any:
    found = tracker.search_runs(
        [experiment_id],
        filter_string=f"tags.`optuna.study` = '{study_name}' and tags.`workbench.role` = 'study'",
        max_results=1,
    )
    return found[0] if found else None


def sync_to_mlflow(
    study_name: str,
    *,
    storage: str | None = None,
    experiment: str | None = None,
    metric: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Log the finished trials of a study that MLflow does not have yet (after it was
    unreachable during :func:`tune`), each as a nested run under the study's run, as
    ``tune`` logs them; a trial already logged is left alone, so running it twice logs
    nothing twice.

    Args:
        study_name: The Optuna study.
        storage: Its RDB URL (default: the ``optuna_storage`` setting).
        experiment: MLflow experiment (default: the ``experiment_name`` setting).
        metric: The metric's name in the runs (default: the study run's ``metric`` param).
        settings: Settings (default: the process-wide ones).

    Returns:
        How many trials were logged.

    Raises:
        ConfigurationError: No such study in the storage.
    """
    import optuna

    s = settings or get_settings()
    url = storage or s.optuna_storage
    try:
        study = optuna.load_study(study_name=study_name, storage=_storages.storage(url))
    except KeyError:
        raise ConfigurationError(
            f"No study {study_name!r} in the Optuna storage {redact_url(url)}."
        ) from None
    mlflow = mlflow_for(s)
    experiment_id = ensure_experiment(experiment or s.experiment_name, s)
    tracker = mlflow.MlflowClient()
    found = _find_parent(tracker, experiment_id, study_name)
    if found is not None:
        parent = str(found.info.run_id)
        name = metric or found.data.params.get("metric", "value")
    else:
        parent = str(
            tracker.create_run(
                experiment_id,
                run_name=study_name,
                tags={
                    "optuna.study": study_name,
                    "workbench.role": "study",
                    "optuna.storage": redact_url(url),
                },
            ).info.run_id
        )
        name = metric or "value"
    return log_missing(tracker, experiment_id, parent, study, name)


def compare_runs(
    experiment: str | None = None,
    *,
    study: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The runs of an experiment as a DataFrame: one row per run, columns ``metrics.*``,
    ``params.*`` and ``tags.*`` as MLflow names them, plus ``family`` and ``study``.

    Args:
        experiment: Experiment name (default: the ``experiment_name`` setting).
        study: Keep only the trials of this Optuna study.
        settings: Settings (default: the process-wide ones).

    Raises:
        ConfigurationError: The experiment does not exist.
    """
    import pandas as pd

    s = settings or get_settings()
    mlflow = mlflow_for(s)
    name = experiment or s.experiment_name
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        raise ConfigurationError(f"No MLflow experiment named {name!r} at {s.tracking_uri}.")
    filters = f"tags.`optuna.study` = '{study}'" if study else ""
    runs = mlflow.search_runs([found.experiment_id], filter_string=filters, output_format="pandas")
    assert isinstance(runs, pd.DataFrame)
    runs = runs.copy()
    runs["family"] = runs.get("tags.family", pd.Series(index=runs.index, dtype=object))
    runs["study"] = runs.get("tags.optuna.study", pd.Series(index=runs.index, dtype=object))
    return runs


def run_metrics(runs: pd.DataFrame) -> list[str]:
    """The metrics the runs have (``metrics.<name>`` columns), by name."""
    return sorted(str(c)[8:] for c in runs if str(c).startswith("metrics."))


def best_runs(runs: pd.DataFrame, metric: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` best runs by ``metric`` (highest first for a score such as accuracy or
    r2, else lowest first): run id, name, family, study and the metric."""
    column = f"metrics.{metric}"
    higher = any(k in metric for k in _HIGHER_IS_BETTER)
    top = runs.dropna(subset=[column]).sort_values(column, ascending=not higher).head(n)
    shown = [c for c in ("run_id", "tags.mlflow.runName", "family", "study", column) if c in top]
    return top[shown]
