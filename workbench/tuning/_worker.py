"""One trial, evaluated on a Dask worker.

The driver creates each trial in the shared RDB storage and submits :func:`run_trial`;
the worker draws the parameters (TPE, over every trial finished so far), evaluates them,
and returns how the trial ended. It records parameters, intermediate values and user
attributes in the storage as it goes, but never the trial's final state: the driver
tells it, so that one process decides how each trial ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from workbench.tuning import _optuna
from workbench.tuning._data import worker_data
from workbench.tuning._devices import physical_gpu, visible_cuda_devices, worker_device
from workbench.tuning._objective import TuningSpec, cross_validate
from workbench.tuning._storages import HEARTBEAT_S, worker_study

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["run_trial"]


class _Heartbeats:
    """Records the heartbeat of each trial running in this process every few seconds,
    from one thread (started at the first trial, kept for the next: a thread per trial
    cost about as much as a storage read each). The driver recorded one when it
    submitted the trial, so the first is due within an interval of the trial's start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, Any] = {}  # trial id -> its storage
        self._thread: threading.Thread | None = None

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_S)
            with self._lock:
                running = list(self._running.items())
            for trial_id, storage in running:
                with self._lock:
                    if trial_id not in self._running:  # it ended meanwhile
                        continue
                with contextlib.suppress(Exception):  # a missed beat is retried next time
                    storage.record_heartbeat(trial_id)

    @contextlib.contextmanager
    def running(self, storage: Any, trial_id: int) -> Iterator[None]:
        with self._lock:
            self._running[trial_id] = storage
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._beat, daemon=True, name="workbench-heartbeats"
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(trial_id, None)


_HEARTBEATS = _Heartbeats()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def run_trial(
    frame: pd.DataFrame,
    spec: TuningSpec,
    storage_url: str,
    study_name: str,
    study_id: int,
    study_uid: str,
    trial_id: int,
    number: int,
    pruner: Any,
    data_token: str,
) -> dict[str, Any]:
    """Evaluate one trial on this worker and say how it ended (the driver tells Optuna).

    Returns:
        The outcome: ``state`` (COMPLETE, PRUNED or FAIL), ``value`` or ``error``, the
        fold ``scores``, ``params``, ``worker``, ``family``, and for families that train
        on a device, the ``device`` the library reports it trained on (and ``gpu``).
    """
    import optuna

    started, began = time.perf_counter(), time.time()
    storage, study = worker_study(storage_url, study_name, study_id, study_uid)
    sampler = optuna.samplers.TPESampler(seed=spec.seed + number, constant_liar=True)
    trial = _optuna.trial_for(study, trial_id, sampler, pruner)
    worker = _worker_name()
    here = dataclasses.replace(spec, device=worker_device(spec.device, _gpus(spec.device)))
    data = worker_data(study_uid, frame, here, data_token)  # taken in at this worker's first trial
    outcome: dict[str, Any] = {"worker": worker}
    scores: list[float] = []
    extra: dict[str, Any] = {}

    def report(value: float, fold: int, last: bool = False) -> None:
        trial.report(value, fold)
        outcome["last_value"] = value
        # the last fold's work is done: a pruner stops trials early, it does not discard them
        if not last and trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {fold}: {value:.6g}")

    with _HEARTBEATS.running(storage, trial_id):
        try:
            if spec.objective is not None:
                value = float(spec.objective(trial, frame))
            else:
                value = cross_validate(trial, here, frame, report, scores, extra, data.device)
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
        if outcome.get("device"):
            outcome["gpu"] = physical_gpu(outcome["device"])
        attrs: dict[str, str | None] = {"worker": worker}
        for key in ("device", "gpu"):
            if outcome.get(key):
                attrs[key] = str(outcome[key])
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


def _gpus(requested: str) -> int:
    """CUDA devices this worker sees, counted only when the choice depends on them."""
    return visible_cuda_devices() if requested == "auto" else 0
