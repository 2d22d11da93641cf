"""Optuna studies on Dask clusters, every trial a nested MLflow run.

The driver (the process calling :func:`tune`) creates each trial in the study's RDB
storage and submits its evaluation to a Dask worker (:mod:`._worker`), which draws the
parameters with TPE over every trial finished so far; it keeps as many trials in flight
as there are worker threads (one more, queued), and never more than the COMPLETE trials
still missing, so the study ends with exactly ``n_trials`` COMPLETE trials, unless a
limit (``timeout``, ``max_failures``, ``max_pruned``) stops it first, which the result
says in its ``warnings``.

Workers share the study through Optuna's RDB storage (SQLite under the project by
default). While a trial runs, its worker records a heartbeat; a trial whose heartbeat
stops (its process was killed) is failed by the next stale-trial check and re-queued
with the same parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``), and a queued
retry runs before any new trial. Dask also re-runs a task whose worker died; whichever
comes first, no trial stays RUNNING. Each trial the driver holds is ended by it: told
by its worker's outcome, or failed when the driver is interrupted (Ctrl-C is held for
the few statements where a trial changes hands, so no interrupt can lose one).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError, WorkbenchError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._tracking import ensure_experiment, mlflow_for
from workbench._urls import redact_text, redact_url, redacted_repr
from workbench.tuning import _storages
from workbench.tuning._devices import cuda_worker_count
from workbench.tuning._objective import (
    Metric,
    TuningSpec,
    build_pipeline,
    check_frame,
    default_features,
    metric_for,
)
from workbench.tuning._runs import log_missing, log_trial, outcome_of, parent_run, sync_to_mlflow
from workbench.tuning._search_space import check_search_space, default_study_name
from workbench.tuning._spaces import Family, resolve_families
from workbench.tuning._storages import GRACE_S, HEARTBEAT_S, study_uid
from workbench.tuning._worker import run_trial

if TYPE_CHECKING:
    import optuna
    import pandas as pd

__all__ = ["Tuner", "TuningJob", "TuningResult", "local_cluster", "sync_to_mlflow", "tune"]

_storage = _storages.storage


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

        return optuna.load_study(study_name=self.study_name, storage=_storage(self.storage))


# ---------------------------------------------------------------- clusters


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


def _where(cluster: Any, settings: Settings) -> Any:
    """``cluster`` as given, or (``None``) the ``dask_scheduler`` setting, else local."""
    if cluster is None:
        return settings.dask_scheduler or "local"
    return cluster


def _device(cluster: Any) -> str:
    """What trials ask of a GPU-capable family: ``cpu`` on a LocalCluster (CPU workers),
    ``cuda`` on one worker per GPU, and on a cluster we did not start, ``auto``: each
    worker decides from the GPUs it has."""
    if cluster == "local":
        return "cpu"
    if cluster == "cuda":
        return "cuda"
    return "auto"


@contextlib.contextmanager
def _client(cluster: Any, n_workers: int | None) -> Iterator[Any]:
    """A dask.distributed Client for ``cluster``: ``local``, ``cuda``, an address, or a Client."""
    distributed = require("distributed", feature="tuning on a Dask cluster")
    if isinstance(cluster, distributed.Client):
        yield cluster
        return
    if cluster == "local":
        with local_cluster(n_workers) as local, distributed.Client(local) as client:
            yield client
        return
    if cluster == "cuda":
        if cuda_worker_count() == 0:
            raise ConfigurationError(
                "cluster='cuda' needs NVIDIA GPUs, and this machine shows none (dask-cuda, "
                "or nvidia-smi -L and CUDA_VISIBLE_DEVICES, list no GPU). Use "
                "cluster='local', or a scheduler address of a GPU cluster."
            )
        dask_cuda = require("dask_cuda", feature="cluster='cuda' (pip install 'workbench[gpu]')")
        # one worker per GPU (or MIG instance) dask-cuda sees, unless told how many
        options: dict[str, Any] = {"n_workers": n_workers} if n_workers else {}
        with (
            dask_cuda.LocalCUDACluster(
                threads_per_worker=1, dashboard_address="127.0.0.1:0", **options
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


# ---------------------------------------------------------------- interrupts


@contextlib.contextmanager
def _held_interrupts() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it.

    The block moves a trial between the storage and the driver's bookkeeping (created
    and not yet registered, or ended by its worker and not yet recorded); cut in half,
    it would leave the trial RUNNING with nobody to end it. A second Ctrl-C inside the
    block interrupts at once, for a block stuck on a locked database.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler not installed from Python: leave it alone
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        signal.raise_signal(signal.SIGINT)


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
        families: Ready-made family names (see ``available_families``) or
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
    where = _where(cluster, s)
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
        device=_device(where),
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
    name = study_name or default_study_name()
    with _client(where, n_workers) as client:  # a bad cluster fails before any state
        rdb: Any = _storage(url)  # an RDBStorage: it records heartbeats
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
        driver = _Driver(
            client=client,
            distributed=distributed,
            rdb=rdb,
            study=study,
            spec=spec,
            url=url,
            frame=frame,
            tracker=tracker,
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
                driver.logger.shutdown(wait=True)
    failed = [f.exception() for f in driver.logged if f.exception() is not None]
    if failed:
        raise WorkbenchError(
            f"{len(failed)} of {len(driver.logged)} trials of study {name!r} could not be "
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


class _Driver:
    """The bookkeeping of one :func:`tune` call: the trials it holds, what it counted.

    ``owned`` are the trials this driver created (or claimed from the queue) and has not
    ended yet: on an interrupt, exactly those are failed. A trial enters it in the same
    held-interrupt block that creates it, and leaves it in the block that records how it
    ended.
    """

    def __init__(
        self,
        *,
        client: Any,
        distributed: Any,
        rdb: Any,
        study: Any,
        spec: TuningSpec,
        url: str,
        frame: pd.DataFrame,
        tracker: Any,
        experiment_id: str,
        parent: str,
        on_trial: Callable[[dict[str, Any]], None] | None,
    ):
        import optuna

        self.client, self.distributed, self.rdb, self.study = client, distributed, rdb, study
        self.spec, self.url, self.frame = spec, url, frame
        self.tracker, self.experiment_id, self.parent = tracker, experiment_id, parent
        self.on_trial = on_trial
        self.study_id: int = study._study_id
        self.uid = study_uid(rdb, self.study_id)
        self.owned: set[int] = set()
        self.in_flight: dict[Any, int] = {}  # future -> trial id
        self.stale: list[int] = []  # trials this process failed as stale, to log
        self.waiting = True  # the queue may hold trials (retries, enqueued): claim them first
        self.failures = self.pruned = 0
        self.complete = _count(study, optuna.trial.TrialState.COMPLETE)
        # Trial runs are logged by one thread of this process, while workers compute.
        self.logger = ThreadPoolExecutor(1, thread_name_prefix="mlflow-trials")
        self.logged: list[Future[str]] = []
        self.slots = max(1, sum(client.nthreads().values()))
        self._scatter()

    def _scatter(self) -> None:
        """The training set, the spec and the pruner, sent to every worker once (a spec
        pickled with each trial cost the driver, the one process every trial goes through,
        more than a millisecond a trial)."""
        scatter = functools.partial(self.client.scatter, broadcast=True, hash=False)
        self.data = scatter(self.frame)
        self.shared_spec = scatter(self.spec)
        self.shared_pruner = scatter(self.study.pruner)

    def run(
        self, n_trials: int, timeout: float | None, limit: int, prune_limit: int, bar: Any
    ) -> str | None:
        """Run trials until ``n_trials`` are COMPLETE and the queue is empty, or a limit
        stops new ones; return which limit (``timeout``, ``max_failures``,
        ``max_pruned``) stopped it, if one did."""
        import optuna

        started = time.perf_counter()
        checked = time.monotonic()
        reason: str | None = None
        self._log_stale()  # what the check at the start failed
        while True:
            if timeout is not None and time.perf_counter() - started > timeout:
                reason = reason or "timeout"
            elif self.failures >= limit:
                reason = reason or "max_failures"
            elif self.pruned >= prune_limit:
                reason = reason or "max_pruned"
            shared = (self.data, self.shared_spec, self.shared_pruner)
            if any(f.status != "finished" for f in shared):  # the last copy died with a worker
                self._scatter()
            # one trial queued beyond the workers keeps them busy while we bookkeep
            while reason is None and len(self.in_flight) < self.slots + 1:
                if not self._start(n_trials):
                    break
            if not self.in_flight:
                if reason is None and self._queued():
                    self.waiting = True
                    continue
                self._log_stale()
                return reason
            try:
                done, _ = self.distributed.wait(
                    list(self.in_flight), timeout=HEARTBEAT_S, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:  # nothing finished: time for a stale-trial check
                done = set()
            except (CancelledError, asyncio.CancelledError):  # lost with a dead worker
                done = {f for f in self.in_flight if f.done()}
            before = self.complete
            if time.monotonic() - checked >= HEARTBEAT_S:
                for trial_id in list(self.owned):  # queued ones have no worker beating yet
                    self.rdb.record_heartbeat(trial_id)
                optuna.storages.fail_stale_trials(self.study)
                self._log_stale()
                # counted from the storage now and then: another driver may run this study
                self.complete = _count(self.study, optuna.trial.TrialState.COMPLETE)
                checked = time.monotonic()
            for future in done:
                self._end(future)
            bar.update(max(0, min(self.complete, n_trials) - min(before, n_trials)))

    def _start(self, n_trials: int) -> bool:
        """Claim a queued trial, or create one if COMPLETE ones are still missing, and
        submit it; False when there is nothing to start."""
        with _held_interrupts():
            trial_id = self._claim() if self.waiting else None
            if trial_id is None:
                self.waiting = False
                if self.complete + len(self.in_flight) >= n_trials:
                    return False
                trial_id = self.rdb.create_new_trial(self.study_id)
            self.owned.add(trial_id)
            self.rdb.record_heartbeat(trial_id)  # stale if this process dies before it runs
            future = self.client.submit(
                run_trial,
                self.data,
                self.shared_spec,
                self.url,
                self.study.study_name,
                self.study_id,
                self.uid,
                trial_id,
                self.shared_pruner,
                key=f"trial-{self.study.study_name}-{trial_id}-{os.urandom(4).hex()}",
                pure=False,
            )
            self.in_flight[future] = trial_id
        return True

    def _queued(self) -> list[int]:
        from optuna.trial import TrialState

        waiting = self.rdb.get_all_trials(
            self.study_id, deepcopy=False, states=(TrialState.WAITING,)
        )
        return [t._trial_id for t in waiting]

    def _claim(self) -> int | None:
        """A queued (WAITING) trial, set RUNNING by this driver, as Optuna's ``ask`` does."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        for trial_id in self._queued():
            with contextlib.suppress(UpdateFinishedTrialError):
                if self.rdb.set_trial_state_values(trial_id, TrialState.RUNNING):
                    return trial_id
        return None

    def _end(self, future: Any) -> None:
        """Record how the trial of ``future`` ended, and log it."""
        with _held_interrupts():
            trial_id = self.in_flight.pop(future)
            outcome = _finish(self.study, self.rdb, trial_id, future)
            self.owned.discard(trial_id)
            if outcome.get("retried"):
                self.waiting = True
            if not outcome.get("ended_elsewhere"):  # else whoever failed it logs it
                self._log(outcome)
        if outcome["state"] == "COMPLETE" and not outcome.get("ended_elsewhere"):
            self.complete += 1
        elif outcome["state"] == "FAIL":
            self.failures += 1
        elif outcome["state"] == "PRUNED":
            self.pruned += 1
        if self.on_trial is not None:
            self.on_trial(outcome)

    def _log(self, outcome: dict[str, Any]) -> None:
        self.logged.append(
            self.logger.submit(
                log_trial,
                self.tracker,
                self.experiment_id,
                self.parent,
                self.study.study_name,
                self.spec.metric.name,
                outcome,
            )
        )

    def _log_stale(self) -> None:
        """Log the trials this process failed as stale (their retries wait in the queue)."""
        while self.stale:
            trial_id = self.stale.pop(0)
            self.owned.discard(trial_id)
            self.waiting = True
            outcome = outcome_of(self.rdb.get_trial(trial_id))
            outcome.setdefault("error", "no heartbeat: the process running it died")
            self._log(outcome)

    def abandon(self, exc: BaseException) -> None:
        """Fail every trial this driver holds (the study was interrupted or broke), and
        log them; the study's run ends KILLED (interrupted) or FAILED."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        interrupted = isinstance(exc, KeyboardInterrupt)
        reason = (
            "KeyboardInterrupt: the study was interrupted while this trial ran"
            if interrupted
            else f"{type(exc).__name__}: the study stopped while this trial ran: {exc}"
        )
        with _held_interrupts():
            ended = []
            for trial_id in list(self.owned):
                with contextlib.suppress(UpdateFinishedTrialError):
                    self.rdb.set_trial_user_attr(trial_id, "error", reason[:2000])
                    if self.rdb.set_trial_state_values(trial_id, TrialState.FAIL):
                        ended.append(trial_id)
                self.owned.discard(trial_id)
            with contextlib.suppress(Exception):  # the cluster may be what broke
                self.client.cancel(list(self.in_flight))
            with contextlib.suppress(Exception):  # MLflow may be what broke
                self.stale.extend(ended)
                self._log_stale()
                self.tracker.set_terminated(
                    self.parent, status="KILLED" if interrupted else "FAILED"
                )


def _count(study: Any, state: Any) -> int:
    return len(study.get_trials(deepcopy=False, states=(state,)))


def _finish(study: Any, rdb: Any, trial_id: int, future: Any) -> dict[str, Any]:
    """Record how the trial ended (unless a stale check ended it already: then the
    outcome says ``ended_elsewhere``); a trial whose worker died is re-queued."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        outcome = dict(future.result())
    except (Exception, asyncio.CancelledError) as exc:  # its worker died (with its data)
        outcome = {"state": "FAIL", "error": f"{type(exc).__name__}: {exc}", "lost": True}
        outcome["number"] = rdb.get_trial_number_from_id(trial_id)
    state = TrialState[outcome["state"]]
    values = [outcome["value"]] if state == TrialState.COMPLETE else None
    if state == TrialState.PRUNED:  # its last intermediate value, as Optuna's tell does
        if "last_value" in outcome:
            values = [outcome["last_value"]]
        else:  # a custom objective reported on its own
            frozen = rdb.get_trial(trial_id)
            if frozen.last_step is not None:
                values = [frozen.intermediate_values[frozen.last_step]]
    try:
        if outcome.get("lost"):
            rdb.set_trial_user_attr(trial_id, "error", outcome["error"][:2000])
        rdb.set_trial_state_values(trial_id, state, values)
    except UpdateFinishedTrialError:  # failed as stale meanwhile, and re-queued
        state_now = rdb.get_trial(trial_id).state.name
        return {**outcome, "state": state_now, "ended_elsewhere": True}
    if outcome.get("lost"):  # not the objective's fault: run its parameters again
        _storages.StaleTrials.retry(study, rdb.get_trial(trial_id))
        outcome["retried"] = True
    return outcome


def _short_of(
    study: Any, n_trials: int, reason: str | None, timeout: Any, limit: int, prune_limit: int
) -> str | None:
    """Why the study has fewer than ``n_trials`` COMPLETE trials, if it has."""
    from optuna.trial import TrialState

    complete = _count(study, TrialState.COMPLETE)
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


# ---------------------------------------------------------------- background and estimator


class TuningJob:
    """A study running in a background thread: the kernel stays free (see ``TuningDashboard``)."""

    def __init__(self, frame: pd.DataFrame, target: str, **kwargs: Any):
        self.study_name = kwargs.setdefault("study_name", default_study_name())
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
