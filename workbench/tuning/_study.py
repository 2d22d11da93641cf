"""One study, from the arguments of :func:`tune` to its :class:`TuningResult`.

:func:`tune` checks its arguments and the training set, creates or resumes the Optuna
study in its RDB storage (SQLite under the project by default) and its MLflow run, lets
the driver (:mod:`._driver`) run the trials on the cluster (:mod:`._clusters`), and
concludes: the counts and the best trial on the study's run, the best pipeline refitted
on all rows and logged under it, and the study's warnings (it stopped short of
``n_trials`` COMPLETE trials, and why).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError, WorkbenchError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._tracking import ensure_experiment, mlflow_for
from workbench._urls import redact_text, redact_url, redacted_repr
from workbench.tuning import _storages
from workbench.tuning._clusters import cluster_client, device_for, resolve_cluster
from workbench.tuning._driver import Driver, count_trials
from workbench.tuning._objective import (
    Metric,
    TuningSpec,
    build_pipeline,
    check_frame,
    default_features,
    metric_for,
)
from workbench.tuning._runs import log_missing, parent_run
from workbench.tuning._search_space import check_search_space, default_study_name
from workbench.tuning._spaces import Family, cpu_only_note, resolve_families
from workbench.tuning._storages import GRACE_S

if TYPE_CHECKING:
    import optuna
    import pandas as pd

__all__ = ["TuningResult", "refit_best", "trials_frame", "tune"]


@dataclasses.dataclass(frozen=True)
class TuningResult:
    """A finished study.

    Attributes:
        study_name: The Optuna study (resume it by tuning again under this name).
        storage: Its RDB storage URL.
        metric: The metric optimized, and its direction.
        best_value: The best mean CV score.
        best_params: The best trial's parameters (``family`` and ``<family>.<param>``).
        best_family: The best trial's model family.
        best_model: The best pipeline, refitted on all rows (``None`` with ``refit=False``).
        parent_run_id: The study's MLflow run; each trial is a nested run under it.
        n_complete, n_failed, n_pruned: Trials by final state.
        trials: One row per trial (number, state, value, family, params, duration, worker,
            and for families that train on a device, the device and GPU they used).
        warnings: What the caller should know: the study stopped short of ``n_trials``
            COMPLETE trials, and why (also warned, and tagged on the study's run).
    """

    study_name: str
    storage: str
    metric: str
    direction: str
    best_value: float
    best_params: dict[str, Any]
    best_family: str
    best_model: Any
    parent_run_id: str
    n_complete: int
    n_failed: int
    n_pruned: int
    trials: pd.DataFrame
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:  # a notebook shows it: not the storage's password
        return redacted_repr(self, ("storage",))

    def study(self) -> optuna.Study:
        import optuna

        return optuna.load_study(
            study_name=self.study_name, storage=_storages.storage(self.storage)
        )


def _pruner(pruner: Any) -> Any:
    import optuna

    if pruner is None or pruner is False:
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    raise ConfigurationError(
        f"pruner must be 'median', 'hyperband', None or an optuna pruner. Got {pruner!r}."
    )


def tune(
    frame: pd.DataFrame,
    target: str,
    *,
    task: str = "regression",
    metric: str | Metric | None = None,
    families: Iterable[str | Family] | None = None,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    cv: Any = 5,
    time_column: str | None = None,
    n_trials: int = 20,
    timeout: float | None = None,
    cluster: Any = None,
    n_workers: int | None = None,
    study_name: str | None = None,
    storage: str | None = None,
    pruner: Any = "median",
    objective: Callable[..., float] | None = None,
    refit: bool = True,
    experiment: str | None = None,
    seed: int = 0,
    max_failures: int | None = None,
    max_pruned: int | None = None,
    strict: bool = False,
    progress: bool = True,
    settings: Settings | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> TuningResult:
    """Tune model families and their hyperparameters on a Dask cluster, tracked in MLflow.

    Each trial draws a ``family`` and its parameters (TPE over every trial finished so
    far, whichever worker ran it), cross-validates the pipeline (preprocessing included)
    fold by fold, reporting each fold but the last to the pruner, and logs a nested MLflow
    run (parameters, the metric per fold, duration, worker). The best pipeline is
    refitted on all rows and logged under the study's parent run.

    Args:
        frame: The training set (features and target).
        target: Column to predict.
        task: ``regression`` or ``classification``.
        metric: ``rmse`` (default), ``mae``, ``mape``, ``r2``; ``accuracy`` (default),
            ``f1``, ``roc_auc``, ``log_loss``; or a :class:`Metric`.
        families: Ready-made family names (see ``available_families``; cuML's GPU twins
            of scikit-learn's as ``cuml_random_forest``, ``cuml_ridge``, ...) or
            :class:`Family` objects. Default: every scikit-learn family of the task.
        features: Input columns (default: all but the target and ``time_column``).
        categorical: Columns to one-hot encode (default: the non-numeric features).
        cv: Folds (int), ``"time"`` (time-series split, 5 folds), or a scikit-learn
            splitter; with a ``time_column`` an int means a time-series split.
        time_column: Rows are sorted by it first; not a feature.
        n_trials: COMPLETE trials wanted (a resumed study counts the ones it has).
        timeout: Seconds after which no new trial starts.
        cluster: Where trials run. ``None`` (default): the ``dask_scheduler`` setting
            when it is set, else a LocalCluster on this machine. ``"local"``: always a
            LocalCluster on this machine (CPU training), whatever the setting says.
            ``"cuda"``: dask-cuda, one worker per GPU it sees. ``"tcp://host:port"`` or
            a ``distributed.Client``: that cluster, where each worker trains
            GPU-capable families (XGBoost, CatBoost) on its GPU if it has one.
        n_workers: Worker processes of a cluster started here (default: CPU count; GPU
            count for ``cuda``).
        study_name: The Optuna study; the same name resumes it, with the same search
            space. Default: ``study-<UTC time>-<random>``, a new study each call.
        storage: An Optuna RDB URL (default: SQLite under the project's settings folder).
        pruner: ``"median"`` (default), ``"hyperband"``, None, or an Optuna pruner; CV folds
            are its steps, and a trial that reached its last fold is never pruned.
        objective: ``objective(trial, frame) -> float`` instead of the families' CV.
        refit: Refit and log the best pipeline.
        experiment: MLflow experiment (default: the ``experiment_name`` setting).
        seed: Seed of samplers, folds and estimators.
        max_failures: Stop after this many FAIL trials (default: ``n_trials``).
        max_pruned: Stop after this many PRUNED trials in this run (default: 10 ×
            ``n_trials``): pruned trials do not count toward ``n_trials``, so a pruner
            that prunes everything would otherwise run until ``timeout``.
        strict: Raise instead of warning when a limit stops the study short of
            ``n_trials`` COMPLETE trials.
        progress: Show a progress bar.
        settings: Settings (default: the process-wide ones).
        on_trial: Called with each finished trial's outcome (for dashboards).

    Returns:
        A :class:`TuningResult`; its ``warnings`` say whether and why the study stopped
        short of ``n_trials`` COMPLETE trials.

    Raises:
        DataError: Columns are missing or the target has gaps.
        ConfigurationError: Unknown family, metric, pruner or cluster; no GPU for
            ``cuda``; a resumed study with another direction or search space.
        WorkbenchError: No trial completed; with ``strict``, fewer than ``n_trials``.

    Example:
        >>> result = tune(frame, "y", families=["ridge", "lasso"], n_trials=20)  # doctest: +SKIP
        >>> result.best_family, result.best_value, result.warnings  # doctest: +SKIP
    """
    import optuna

    distributed = require("distributed", feature="tuning on a Dask cluster")
    tqdm = require("tqdm.auto").tqdm
    s = settings or get_settings()
    if task not in ("regression", "classification"):
        raise ConfigurationError(f"task must be 'regression' or 'classification'. Got {task!r}.")
    if n_trials < 1:
        raise ConfigurationError(f"n_trials must be at least 1. Got {n_trials}.")
    chosen = metric_for(task, metric or ("rmse" if task == "regression" else "accuracy"))
    exclude = [time_column] if time_column else []
    guessed, guessed_categorical = default_features(frame, target, exclude)
    where = resolve_cluster(cluster, s)
    spec = TuningSpec(
        task=task,
        target=target,
        features=tuple(features or guessed),
        categorical=tuple(
            categorical
            if categorical is not None
            else [c for c in guessed_categorical if c in (features or guessed)]
        ),
        families={} if objective else resolve_families(task, families),
        metric=chosen,
        cv=cv,
        seed=seed,
        time_column=time_column,
        device=device_for(where),
        objective=objective,
    )
    if objective is None:
        check_frame(frame, spec)
    note = cpu_only_note(spec.families, spec.device)
    if note:
        warnings.warn(note, UserWarning, stacklevel=2)
    if time_column:
        if time_column not in frame.columns:
            raise DataError(
                f"The time column {time_column!r} is absent. Columns: {list(frame.columns)}."
            )
        frame = frame.sort_values(time_column, kind="stable")
    columns = [*spec.features, target] if objective is None else list(frame.columns)
    frame = frame[columns].reset_index(drop=True)
    url = storage or s.optuna_storage
    name = study_name or default_study_name()
    with cluster_client(where, n_workers) as client:  # a bad cluster fails before any state
        rdb: Any = _storages.storage(url)  # an RDBStorage: it records heartbeats
        study = optuna.create_study(
            study_name=name,
            storage=rdb,
            direction="maximize" if chosen.direction == "maximize" else "minimize",
            load_if_exists=True,
            pruner=_pruner(pruner),
        )
        if study.direction.name.lower() != chosen.direction:
            raise ConfigurationError(
                f"The study {name!r} exists and {study.direction.name.lower()}s its objective; "
                f"{chosen.name!r} must be {chosen.direction}d. Resume it with its own metric, or "
                f"give a new study_name."
            )
        spec = check_search_space(study, rdb, spec)
        mlflow = mlflow_for(s)
        experiment_id = ensure_experiment(experiment or s.experiment_name, s)
        tracker = mlflow.MlflowClient()
        parent = parent_run(tracker, experiment_id, study, spec, n_trials, url)
        driver = Driver(
            client=client,
            distributed=distributed,
            rdb=rdb,
            study=study,
            spec=spec,
            url=url,
            frame=frame,
            tracker=tracker,
            tracking_uri=s.tracking_uri,
            experiment_id=experiment_id,
            parent=parent,
            on_trial=on_trial,
        )
        limit = max_failures if max_failures is not None else n_trials
        prune_limit = max_pruned if max_pruned is not None else 10 * n_trials
        with rdb.get_heartbeat_stale_trial_callback().watch(name) as stale:
            driver.stale = stale
            optuna.storages.fail_stale_trials(study)  # a crashed earlier run left trials RUNNING
            # what an earlier run ended without a run in MLflow (interrupted, cut off)
            log_missing(tracker, experiment_id, parent, study, chosen.name, settled=GRACE_S)
            bar = tqdm(
                total=n_trials,
                initial=min(driver.complete, n_trials),
                desc=f"tuning {name}",
                unit="trial",
                disable=not progress,
            )
            try:
                reason = driver.run(n_trials, timeout, limit, prune_limit, bar)
            except BaseException as exc:  # interrupted, or broken: nothing may stay RUNNING
                driver.abandon(exc)
                raise
            finally:
                bar.close()
                sent, failed = driver.logger.close()
    if failed:
        raise WorkbenchError(
            f"{len(failed)} of {sent} trials of study {name!r} could not be "
            f"logged to MLflow at {redact_url(s.tracking_uri)} (first error: "
            f"{redact_text(str(failed[0]), s.tracking_uri)}). The trials "
            f"themselves are kept in the Optuna storage {redact_url(url)}; when MLflow is "
            f"back, sync_to_mlflow({name!r}) logs the missing ones."
        )
    short = _short_of(study, n_trials, reason, timeout, limit, prune_limit)
    if short and strict:
        tracker.set_terminated(parent, status="FAILED")
        raise WorkbenchError(f"{short} (strict=True asks for exactly n_trials={n_trials}.)")
    if short:
        warnings.warn(short, UserWarning, stacklevel=2)
    return _conclude(study, spec, frame, tracker, parent, url, refit, s, short)


def _short_of(
    study: Any, n_trials: int, reason: str | None, timeout: Any, limit: int, prune_limit: int
) -> str | None:
    """Why the study has fewer than ``n_trials`` COMPLETE trials, if it has."""
    from optuna.trial import TrialState

    complete = count_trials(study, TrialState.COMPLETE)
    if complete >= n_trials or reason is None:
        return None
    limits = {
        "timeout": f"timeout={timeout} s passed",
        "max_failures": f"{limit} trials failed (max_failures={limit})",
        "max_pruned": (
            f"{prune_limit} trials were pruned in this run (max_pruned={prune_limit}); a "
            f"pruner that prunes most trials wants pruner=None or a looser one"
        ),
    }
    return (
        f"The study {study.study_name!r} stopped with {complete} of the {n_trials} COMPLETE "
        f"trials asked for: {limits[reason]}. Tune again under the same study_name to "
        f"resume it."
    )


def _conclude(
    study: Any,
    spec: TuningSpec,
    frame: pd.DataFrame,
    tracker: Any,
    parent: str,
    url: str,
    refit: bool,
    s: Settings,
    short: str | None = None,
) -> TuningResult:
    from mlflow.entities import Metric as MlflowMetric
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    counts = {state: sum(1 for t in trials if t.state == state) for state in TrialState}
    table = trials_frame(study)
    if not complete:
        tracker.set_terminated(parent, status="FAILED")
        errors = table["error"].dropna().unique().tolist() if "error" in table else []
        raise WorkbenchError(
            f"No trial of study {study.study_name!r} completed ({counts[TrialState.FAIL]} failed, "
            f"{counts[TrialState.PRUNED]} pruned). Errors: {errors[:3]}"
        )
    best = study.best_trial
    family = str(best.params.get("family", "custom"))
    stamp = int(time.time() * 1000)
    tracker.log_batch(
        parent,
        metrics=[
            MlflowMetric(f"best_{spec.metric.name}", float(best.value), stamp, 0),
            MlflowMetric("n_complete", counts[TrialState.COMPLETE], stamp, 0),
            MlflowMetric("n_failed", counts[TrialState.FAIL], stamp, 0),
            MlflowMetric("n_pruned", counts[TrialState.PRUNED], stamp, 0),
        ],
        tags=[],
        params=[],
    )
    tracker.set_tag(parent, "best_trial", str(best.number))
    tracker.set_tag(parent, "best_family", family)
    if short:
        tracker.set_tag(parent, "warning", short[:5000])
    model = None
    if refit and spec.objective is None:
        model = refit_best(best.params, spec, frame)
        _log_model(model, frame[list(spec.features)], parent, s)
    tracker.set_terminated(parent, status="FINISHED")
    return TuningResult(
        study_name=study.study_name,
        storage=url,
        metric=spec.metric.name,
        direction=spec.metric.direction,
        best_value=float(best.value),
        best_params=dict(best.params),
        best_family=family,
        best_model=model,
        parent_run_id=parent,
        n_complete=counts[TrialState.COMPLETE],
        n_failed=counts[TrialState.FAIL],
        n_pruned=counts[TrialState.PRUNED],
        trials=table,
        warnings=(short,) if short else (),
    )


def refit_best(params: dict[str, Any], spec: TuningSpec, frame: pd.DataFrame) -> Any:
    """The pipeline of a trial's parameters, fitted on every row."""
    if params.get("family") not in spec.families:
        raise ConfigurationError(
            f"The trial's family {params.get('family')!r} is not among the families given: "
            f"{list(spec.families)}. Refit it with the families its study searched."
        )
    family = spec.families[params["family"]]
    prefix = f"{family.name}."
    own = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
    model = build_pipeline(family, own, spec, "cpu")
    model.fit(frame[list(spec.features)], frame[spec.target])
    return model


def _log_model(model: Any, sample: pd.DataFrame, run_id: str, s: Settings) -> None:
    """Log the refitted pipeline under the study's run (cloudpickle: any estimator)."""
    mlflow = mlflow_for(s)
    from workbench._requirements import pinned_requirements

    with mlflow.start_run(run_id=run_id):
        mlflow.sklearn.log_model(
            model,
            name="best_model",
            serialization_format="cloudpickle",
            input_example=sample.head(5),
            pip_requirements=pinned_requirements(model=model),  # XGBoost's too, never ours
        )


def trials_frame(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, value, family, parameters, duration, worker, error."""
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "family": t.params.get("family"),
                "duration_s": seconds,
                "worker": t.user_attrs.get("worker"),
                "device": t.user_attrs.get("device"),
                "gpu": t.user_attrs.get("gpu"),
                "error": t.user_attrs.get("error"),
                "retried_from": t.system_attrs.get("failed_trial"),
                **{f"param.{k}": v for k, v in t.params.items() if k != "family"},
            }
        )
    return pd.DataFrame(rows)
