"""Optuna studies on Dask clusters, every trial a nested MLflow run.

The driver (the process calling :func:`tune`) asks Optuna for each trial, opens its
MLflow run, and submits the evaluation to a Dask worker; it keeps as many trials in
flight as there are worker threads, and never more than the COMPLETE trials still
missing, so the study ends with exactly ``n_trials`` COMPLETE trials.

Workers share the study through Optuna's RDB storage (SQLite under the project by
default). While a trial runs, its worker records a heartbeat; a trial whose heartbeat
stops (its process was killed) is failed by the next stale-trial check and re-queued
with the same parameters (Optuna's ``RetryFailedTrialCallback``). Dask also re-runs a
task whose worker died; whichever comes first, no trial stays RUNNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError, WorkbenchError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._sqlite import fast_sqlite
from workbench._tracking import ensure_experiment, mlflow_for
from workbench._urls import redact_text, redact_url, redacted_repr
from workbench.tuning._objective import (
    Metric,
    TuningSpec,
    build_pipeline,
    check_frame,
    cross_validate,
    default_features,
    metric_for,
)
from workbench.tuning._spaces import Family, resolve_families

if TYPE_CHECKING:
    import optuna
    import pandas as pd

__all__ = ["Tuner", "TuningJob", "TuningResult", "local_cluster", "sync_to_mlflow", "tune"]

HEARTBEAT_S = 2
GRACE_S = 8


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
        trials: One row per trial (number, state, value, family, params, duration, worker).
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

    def __repr__(self) -> str:  # a notebook shows it: not the storage's password
        return redacted_repr(self, ("storage",))

    def study(self) -> optuna.Study:
        import optuna

        return optuna.load_study(study_name=self.study_name, storage=_storage(self.storage))


# ---------------------------------------------------------------- storage and workers


def _storage(url: str, heartbeat: bool = True) -> optuna.storages.BaseStorage:
    """An RDB storage with heartbeats and retry of stale trials (cached per process)."""
    key = (url, heartbeat, os.getpid())
    with _STORAGE_LOCK:  # one storage (one table creation) per URL in this process
        cached: optuna.storages.BaseStorage | None = _STORAGES.get(key)
        if cached is None:
            cached = _new_storage(url, heartbeat)
            _STORAGES[key] = cached
        return cached


def _new_storage(url: str, heartbeat: bool) -> optuna.storages.BaseStorage:
    import optuna

    _quiet_optuna()
    kwargs: dict[str, Any] = {}
    if heartbeat:
        kwargs = {
            "heartbeat_interval": HEARTBEAT_S,
            "grace_period": GRACE_S,
            "heartbeat_stale_trial_callback": _retry(),
        }
    engine: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine = {"connect_args": {"timeout": 60}}
        fast_sqlite(url)
    return optuna.storages.RDBStorage(url, engine_kwargs=engine, **kwargs)


_STORAGES: dict[tuple[str, bool, int], Any] = {}
_STORAGE_LOCK = threading.RLock()  # _study_in_worker holds it while it opens storage


def _retry() -> Any:
    """Re-queue a failed trial's parameters as a new trial (at most 3 times)."""
    import optuna

    return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)


def _quiet_optuna() -> None:
    """Heartbeats and stale-trial retry are 'experimental' in Optuna; we rely on them on
    purpose, so their warnings would only be noise in every notebook."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # the driver asks and tells; workers beat for their trials themselves
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


class _Heartbeat:
    """Records a trial's heartbeat every few seconds while the trial runs."""

    def __init__(self, storage: Any, trial_id: int):
        self._storage, self._trial_id = storage, trial_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception):  # a missed beat is retried next time
                self._storage.record_heartbeat(self._trial_id)

    def __enter__(self) -> _Heartbeat:
        self._storage.record_heartbeat(self._trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
        return str(worker.name)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _study_in_worker(url: str, name: str, study_id: int, pruner: Any) -> Any:
    """The study, loaded once per worker process (a re-created study has a new id)."""
    import optuna

    key = (url, study_id, os.getpid())
    with _STORAGE_LOCK:
        study = _STUDIES.get(key)
        if study is None:
            study = optuna.load_study(study_name=name, storage=_storage(url), pruner=pruner)
            _STUDIES[key] = study
    study.pruner = pruner  # this call's, which may differ from the first one's
    return study


_STUDIES: dict[tuple[str, int, int], Any] = {}


def run_trial(
    frame: pd.DataFrame,
    spec: TuningSpec,
    storage_url: str,
    study_name: str,
    study_id: int,
    trial_id: int,
    number: int,
    pruner: Any,
) -> dict[str, Any]:
    """Evaluate one trial on this worker and say how it ended.

    The trial is told nothing here (the driver tells Optuna and logs the trial's MLflow
    run), but its parameters, intermediate values and user attributes go to the shared
    storage as it runs.
    """
    import optuna

    started, began = time.perf_counter(), time.time()
    storage = _storage(storage_url)
    study = _study_in_worker(storage_url, study_name, study_id, pruner)
    study.sampler = optuna.samplers.TPESampler(seed=spec.seed + number, constant_liar=True)
    # Optuna caches trials per process: read the running ones (this trial among them),
    # which the driver created elsewhere, before writing to this one.
    study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    trial = optuna.trial.Trial(study, trial_id)
    worker = _worker_name()
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0] if spec.device == "cuda" else ""
    outcome: dict[str, Any] = {"worker": worker, "gpu": gpu}
    scores: list[float] = []
    extra: dict[str, Any] = {}

    def report(value: float, fold: int) -> None:
        trial.report(value, fold)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {fold}: {value:.6g}")

    with _Heartbeat(storage, trial_id):
        try:
            if spec.objective is not None:
                value = float(spec.objective(trial, frame))
            else:
                value = cross_validate(trial, spec, frame, report, scores, extra)
            outcome.update(state="COMPLETE", value=value)
        except optuna.TrialPruned as exc:
            outcome.update(state="PRUNED", reason=str(exc))
        except Exception as exc:  # the trial fails, the study goes on
            error = f"{type(exc).__name__}: {exc}"
            outcome.update(state="FAIL", error=error, traceback=traceback.format_exc(limit=5))
    seconds = time.perf_counter() - started
    outcome.update(seconds=seconds, **extra)
    if "family" not in outcome and "family" in trial.params:
        outcome["family"] = trial.params["family"]
    attrs: dict[str, str | None] = {"worker": worker, **({"gpu": gpu} if gpu else {})}
    if "error" in outcome:
        attrs["error"] = outcome["error"][:2000]
    elif "error" in trial.user_attrs:  # a retry inherits its failed original's attributes
        attrs["error"] = None
    for attr, text in attrs.items():
        storage.set_trial_user_attr(trial_id, attr, text)

    outcome.update(
        params=dict(trial.params), scores=scores, began=began, ended=time.time(), number=number
    )
    return outcome


def _log_trial(
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
        **{k: str(outcome[k]) for k in ("worker", "family", "gpu") if outcome.get(k)},
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


# ---------------------------------------------------------------- clusters


def _gpu_count() -> int:
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))


def local_cluster(n_workers: int | None = None) -> Any:
    """A LocalCluster as :func:`tune` starts one: worker processes (default: one per CPU,
    at most 8) of one thread each, BLAS/OpenMP threads 1, everything bound to 127.0.0.1.

    Pass it (through a ``distributed.Client``) to several studies to start it once.
    """
    distributed = require("distributed", feature="tuning on a Dask cluster")
    return distributed.LocalCluster(
        n_workers=n_workers or max(1, min(os.cpu_count() or 1, 8)),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=50,
        env={v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    )


@contextlib.contextmanager
def _client(cluster: Any, n_workers: int | None, settings: Settings) -> Iterator[Any]:
    """A dask.distributed Client for ``cluster``: ``local``, ``cuda``, an address, or a Client."""
    distributed = require("distributed", feature="tuning on a Dask cluster")
    if isinstance(cluster, distributed.Client):
        yield cluster
        return
    if cluster is None:
        cluster = settings.dask_scheduler or "local"
    if cluster == "local":
        with local_cluster(n_workers) as local, distributed.Client(local) as client:
            yield client
        return
    if cluster == "cuda":
        gpus = _gpu_count()
        if gpus == 0:
            raise ConfigurationError(
                "cluster='cuda' needs NVIDIA GPUs, and this machine shows none (nvidia-smi -L "
                "lists no GPU). Use cluster='local', or a scheduler address of a GPU cluster."
            )
        dask_cuda = require("dask_cuda", feature="cluster='cuda' (pip install 'workbench[gpu]')")
        with (
            dask_cuda.LocalCUDACluster(
                n_workers=n_workers or gpus, threads_per_worker=1, dashboard_address="127.0.0.1:0"
            ) as local,
            distributed.Client(local) as client,
        ):
            yield client
        return
    if isinstance(cluster, str) and "://" in cluster:
        try:
            client = distributed.Client(cluster, timeout="20s")
        except OSError as exc:
            raise ConfigurationError(
                f"No Dask scheduler answers at {cluster}: {exc}. Start one (dask scheduler) "
                f"or use cluster='local'."
            ) from None
        with client:
            yield client
        return
    raise ConfigurationError(
        f"cluster must be 'local', 'cuda', a scheduler address (tcp://host:port) or a "
        f"distributed.Client. Got {cluster!r}."
    )


# ---------------------------------------------------------------- the driver


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
    progress: bool = True,
    settings: Settings | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> TuningResult:
    """Tune model families and their hyperparameters on a Dask cluster, tracked in MLflow.

    Each trial draws a ``family`` and its parameters, cross-validates the pipeline
    (preprocessing included) fold by fold, reporting each fold to the pruner, and logs a
    nested MLflow run (parameters, the metric per fold, duration, worker). The best
    pipeline is refitted on all rows and logged under the study's parent run.

    Args:
        frame: The training set (features and target).
        target: Column to predict.
        task: ``regression`` or ``classification``.
        metric: ``rmse`` (default), ``mae``, ``mape``, ``r2``; ``accuracy`` (default),
            ``f1``, ``roc_auc``, ``log_loss``; or a :class:`Metric`.
        families: Ready-made family names (see ``available_families``) or
            :class:`Family` objects. Default: every scikit-learn family of the task.
        features: Input columns (default: all but the target and ``time_column``).
        categorical: Columns to one-hot encode (default: the non-numeric features).
        cv: Folds (int), ``"time"`` (time-series split, 5 folds), or a scikit-learn
            splitter; with a ``time_column`` an int means a time-series split.
        time_column: Rows are sorted by it first; not a feature.
        n_trials: COMPLETE trials wanted (a resumed study counts the ones it has).
        timeout: Seconds after which no new trial starts.
        cluster: ``"local"`` (a LocalCluster, the default, or the ``dask_scheduler``
            setting when set), ``"cuda"`` (one worker per GPU), ``"tcp://host:port"``,
            or a ``distributed.Client``.
        n_workers: Worker processes of a local cluster (default: CPU count).
        study_name: The Optuna study; the same name resumes it.
        storage: An Optuna RDB URL (default: SQLite under the project's settings folder).
        pruner: ``"median"`` (default), ``"hyperband"``, None, or an Optuna pruner; CV folds
            are its steps.
        objective: ``objective(trial, frame) -> float`` instead of the families' CV.
        refit: Refit and log the best pipeline.
        experiment: MLflow experiment (default: the ``experiment_name`` setting).
        seed: Seed of samplers, folds and estimators.
        max_failures: Stop after this many FAIL trials (default: ``n_trials``).
        max_pruned: Stop after this many PRUNED trials in this run (default: 10 ×
            ``n_trials``): pruned trials do not count toward ``n_trials``, so a pruner
            that prunes everything would otherwise run until ``timeout``.
        progress: Show a progress bar.
        settings: Settings (default: the process-wide ones).
        on_trial: Called with each finished trial's outcome (for dashboards).

    Returns:
        A :class:`TuningResult`.

    Raises:
        DataError: Columns are missing or the target has gaps.
        ConfigurationError: Unknown family, metric, pruner or cluster; no GPU for ``cuda``.
        WorkbenchError: No trial completed.
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
        device="cuda" if cluster == "cuda" else "cpu",
        objective=objective,
    )
    if objective is None:
        check_frame(frame, spec)
    if time_column:
        if time_column not in frame.columns:
            raise DataError(
                f"The time column {time_column!r} is absent. Columns: {list(frame.columns)}."
            )
        frame = frame.sort_values(time_column, kind="stable")
    columns = [*spec.features, target] if objective is None else list(frame.columns)
    frame = frame[columns].reset_index(drop=True)
    url = storage or s.optuna_storage
    name = study_name or f"study-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
    shared: Any = _storage(url)  # an RDBStorage: it records heartbeats
    # Workers draw the parameters (with TPE, from the shared history); the driver only
    # creates trials, so a cheap sampler is enough here.
    with _client(cluster, n_workers, s) as client:  # a bad cluster fails before any state
        study = optuna.create_study(
            study_name=name,
            storage=shared,
            direction="maximize" if chosen.direction == "maximize" else "minimize",
            load_if_exists=True,
            pruner=_pruner(pruner),
            sampler=optuna.samplers.RandomSampler(seed=seed),
        )
        if study.direction.name.lower() != chosen.direction:
            raise ConfigurationError(
                f"The study {name!r} exists and {study.direction.name.lower()}s its objective; "
                f"{chosen.name!r} must be {chosen.direction}d. Resume it with its own metric, or "
                f"give a new study_name."
            )
        optuna.storages.fail_stale_trials(study)  # a crashed earlier run left trials RUNNING
        mlflow = mlflow_for(s)
        experiment_id = ensure_experiment(experiment or s.experiment_name, s)
        tracker = mlflow.MlflowClient()
        parent = _parent_run(tracker, experiment_id, study, spec, n_trials, url)
        # Trial runs are logged by one thread of this process, while workers compute.
        logger = ThreadPoolExecutor(1, thread_name_prefix="mlflow-trials")
        logged: list[Future[str]] = []
        limit = max_failures if max_failures is not None else n_trials
        prune_limit = max_pruned if max_pruned is not None else 10 * n_trials
        pruned = 0
        started = time.perf_counter()
        slots = max(1, sum(client.nthreads().values()))
        data = client.scatter(frame, broadcast=True, hash=False)
        in_flight: dict[Any, Any] = {}
        failures = 0
        checked = time.monotonic()
        complete = _count(study, optuna.trial.TrialState.COMPLETE)
        bar = tqdm(
            total=n_trials,
            initial=min(complete, n_trials),
            desc=f"tuning {name}",
            unit="trial",
            disable=not progress,
        )
        try:
            while True:
                out_of_time = timeout is not None and time.perf_counter() - started > timeout
                stopped = out_of_time or failures >= limit or pruned >= prune_limit
                if data.status != "finished":  # its only copy died with a worker
                    data = client.scatter(frame, broadcast=True, hash=False)
                # one trial queued beyond the workers keeps them busy while we bookkeep
                while (
                    not stopped
                    and complete + len(in_flight) < n_trials
                    and len(in_flight) < slots + 1
                ):
                    trial = study.ask()
                    shared.record_heartbeat(trial._trial_id)  # stale if we die before it runs
                    future = client.submit(
                        run_trial,
                        data,
                        spec,
                        url,
                        name,
                        study._study_id,
                        trial._trial_id,
                        trial.number,
                        study.pruner,
                        key=f"trial-{name}-{trial.number}-{os.urandom(4).hex()}",
                        pure=False,
                    )
                    in_flight[future] = trial
                if not in_flight:
                    break
                try:
                    done, _ = distributed.wait(
                        list(in_flight), timeout=HEARTBEAT_S, return_when="FIRST_COMPLETED"
                    )
                except TimeoutError:  # nothing finished: time for a stale-trial check
                    done = set()
                except (CancelledError, asyncio.CancelledError):  # lost with a dead worker
                    done = {f for f in in_flight if f.done()}
                if time.monotonic() - checked >= HEARTBEAT_S:
                    for trial in in_flight.values():  # queued ones have no worker beating yet
                        shared.record_heartbeat(trial._trial_id)
                    optuna.storages.fail_stale_trials(study)
                    checked = time.monotonic()
                for future in done:
                    trial = in_flight.pop(future)
                    outcome = _finish(study, shared, trial, future)
                    logged.append(
                        logger.submit(
                            _log_trial, tracker, experiment_id, parent, name, chosen.name, outcome
                        )
                    )
                    if outcome["state"] == "FAIL":
                        failures += 1
                    elif outcome["state"] == "PRUNED":
                        pruned += 1
                    if on_trial is not None:
                        on_trial(outcome)
                # counted from the storage: another driver may be running the same study
                now_complete = _count(study, optuna.trial.TrialState.COMPLETE)
                bar.update(max(0, min(now_complete, n_trials) - min(complete, n_trials)))
                complete = now_complete
        except BaseException as exc:  # interrupted, or broken: nothing may stay RUNNING
            from optuna.exceptions import UpdateFinishedTrialError

            for trial in in_flight.values():
                with contextlib.suppress(UpdateFinishedTrialError):
                    shared.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            interrupted = isinstance(exc, KeyboardInterrupt)
            tracker.set_terminated(parent, status="KILLED" if interrupted else "FAILED")
            raise
        finally:
            bar.close()
            logger.shutdown(wait=True)
    failed = [f.exception() for f in logged if f.exception() is not None]
    if failed:
        raise WorkbenchError(
            f"{len(failed)} of {len(logged)} trials of study {name!r} could not be logged to "
            f"MLflow at {redact_url(s.tracking_uri)} (first error: "
            f"{redact_text(str(failed[0]), s.tracking_uri)}). The trials "
            f"themselves are kept in the Optuna storage {redact_url(url)}; when MLflow is "
            f"back, sync_to_mlflow({name!r}) logs the missing ones."
        )
    return _conclude(study, spec, frame, tracker, parent, url, refit, s)


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
    from optuna.trial import TrialState

    s = settings or get_settings()
    url = storage or s.optuna_storage
    try:
        study = optuna.load_study(study_name=study_name, storage=_storage(url))
    except KeyError:
        raise ConfigurationError(
            f"No study {study_name!r} in the Optuna storage {redact_url(url)}."
        ) from None
    mlflow = mlflow_for(s)
    experiment_id = ensure_experiment(experiment or s.experiment_name, s)
    tracker = mlflow.MlflowClient()
    found = tracker.search_runs(
        [experiment_id],
        filter_string=f"tags.`optuna.study` = '{study_name}' and tags.`workbench.role` = 'study'",
        max_results=1,
    )
    if found:
        parent = str(found[0].info.run_id)
        name = metric or found[0].data.params.get("metric", "value")
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
    logged = {
        r.data.tags.get("optuna.trial"): r
        for r in tracker.search_runs(
            [experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent}'",
            max_results=50_000,
        )
    }
    count = 0
    for trial in study.get_trials(deepcopy=False):
        run = logged.get(str(trial.number))
        if not trial.state.is_finished() or (run is not None and run.info.status != "RUNNING"):
            continue  # running, or logged whole (a trial's run is terminated last)
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
            "worker": trial.user_attrs.get("worker"),
            "family": trial.params.get("family"),
        }
        if trial.state == TrialState.COMPLETE:
            outcome["value"] = trial.value
        if trial.user_attrs.get("error"):
            outcome["error"] = str(trial.user_attrs["error"])
        run_id = run.info.run_id if run is not None else None  # cut off: completed
        _log_trial(tracker, experiment_id, parent, study_name, name, outcome, run_id)
        count += 1
    return count


def _count(study: Any, state: Any) -> int:
    return len(study.get_trials(deepcopy=False, states=(state,)))


def _parent_run(
    tracker: Any, experiment_id: str, study: Any, spec: TuningSpec, n_trials: int, url: str
) -> str:
    """The study's MLflow parent run: reused when the study resumes."""
    found = tracker.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.`optuna.study` = '{study.study_name}' and tags.`workbench.role` = 'study'"
        ),
        max_results=1,
    )
    if found:
        tracker.update_run(found[0].info.run_id, status="RUNNING")
        return str(found[0].info.run_id)
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


def _finish(study: Any, storage: Any, trial: Any, future: Any) -> dict[str, Any]:
    """Record how the trial ended (unless a stale check already failed it)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        outcome = dict(future.result())
    except (Exception, asyncio.CancelledError) as exc:  # its worker died (with its data)
        outcome = {"state": "FAIL", "error": f"{type(exc).__name__}: {exc}", "lost": True}
    state = TrialState[outcome["state"]]
    values = [outcome["value"]] if state == TrialState.COMPLETE else None
    if state == TrialState.PRUNED:  # its last intermediate value, as Optuna's tell does
        frozen = storage.get_trial(trial._trial_id)
        if frozen.last_step is not None:
            values = [frozen.intermediate_values[frozen.last_step]]
    try:
        if outcome.get("lost"):
            storage.set_trial_user_attr(trial._trial_id, "error", outcome["error"][:2000])
        storage.set_trial_state_values(trial._trial_id, state, values)
    except UpdateFinishedTrialError:  # failed as stale meanwhile, and re-queued
        state_now = storage.get_trial(trial._trial_id).state.name
        return {**outcome, "state": state_now, "note": "failed as stale", "number": trial.number}
    if outcome.get("lost"):  # not the objective's fault: run its parameters again
        _retry()(study, storage.get_trial(trial._trial_id))
    outcome["number"] = trial.number
    return outcome


def _conclude(
    study: Any,
    spec: TuningSpec,
    frame: pd.DataFrame,
    tracker: Any,
    parent: str,
    url: str,
    refit: bool,
    s: Settings,
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
    )


def refit_best(params: dict[str, Any], spec: TuningSpec, frame: pd.DataFrame) -> Any:
    """The pipeline of a trial's parameters, fitted on every row."""
    family = spec.families[params["family"]]
    prefix = f"{family.name}."
    own = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
    model = build_pipeline(family, own, spec, "cpu")
    model.fit(frame[list(spec.features)], frame[spec.target])
    return model


def _log_model(model: Any, sample: pd.DataFrame, run_id: str, s: Settings) -> None:
    """Log the refitted pipeline under the study's run (cloudpickle: any estimator)."""
    mlflow = mlflow_for(s)
    from workbench.packaging import pinned_requirements

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
                "gpu": t.user_attrs.get("gpu"),
                "error": t.user_attrs.get("error"),
                "retried_from": t.system_attrs.get("failed_trial"),
                **{f"param.{k}": v for k, v in t.params.items() if k != "family"},
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- background and estimator


class TuningJob:
    """A study running in a background thread: the kernel stays free (see ``TuningDashboard``)."""

    def __init__(self, frame: pd.DataFrame, target: str, **kwargs: Any):
        self.study_name = kwargs.setdefault(
            "study_name", f"study-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
        )
        settings = kwargs.get("settings") or get_settings()
        self.storage = kwargs.setdefault("storage", settings.optuna_storage)
        self.n_trials = int(kwargs.get("n_trials", 20))
        kwargs.setdefault("progress", False)
        self.outcomes: list[dict[str, Any]] = []
        user = kwargs.pop("on_trial", None)

        def on_trial(outcome: dict[str, Any]) -> None:
            self.outcomes.append(outcome)
            if user is not None:
                user(outcome)

        self._future: Future[TuningResult] = Future()
        _storage(self.storage)  # tables exist before any reader (a dashboard) looks

        def run() -> None:
            try:
                self._future.set_result(tune(frame, target, on_trial=on_trial, **kwargs))
            except BaseException as exc:
                self._future.set_exception(exc)

        self._thread = threading.Thread(target=run, name=f"tuning-{self.study_name}", daemon=True)
        self._thread.start()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> TuningResult:
        """Wait for the study and return its result (or raise its error)."""
        return self._future.result(timeout)

    def study(self) -> optuna.Study:
        import optuna

        return optuna.load_study(study_name=self.study_name, storage=_storage(self.storage))


class Tuner:
    """Estimator-style tuning: ``Tuner(...).fit(X, y)`` then ``predict``.

    Takes the keyword arguments of :func:`tune` (except ``frame`` and ``target``).

    Attributes (after ``fit``):
        result_: The :class:`TuningResult`.
        best_estimator_: The refitted best pipeline.
        best_params_: The best trial's parameters.
    """

    def __init__(self, **kwargs: Any):
        self.kwargs = kwargs

    def fit(self, x: pd.DataFrame, y: Any) -> Tuner:
        import pandas as pd

        target = getattr(y, "name", None) or "target"
        frame = pd.DataFrame(x).copy()
        frame.columns = [str(c) for c in frame.columns]  # a numpy X has integer labels
        frame[target] = list(y) if not isinstance(y, pd.Series) else y.to_numpy()
        self.result_ = tune(frame, target, **self.kwargs)
        self.best_estimator_ = self.result_.best_model
        self.best_params_ = self.result_.best_params
        return self

    def predict(self, x: pd.DataFrame) -> Any:
        return self.best_estimator_.predict(x)

    def predict_proba(self, x: pd.DataFrame) -> Any:
        return self.best_estimator_.predict_proba(x)
