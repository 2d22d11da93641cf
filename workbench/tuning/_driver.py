"""The driver of one study: it keeps the workers busy with trials and ends each one.

The driver (the process calling :func:`~workbench.tuning.tune`) creates each trial in
the study's RDB storage and submits its evaluation to a Dask worker (:mod:`._worker`),
which draws the parameters with TPE over every trial finished so far; it keeps as many
trials in flight as there are worker threads (one more, queued), and never more than
the COMPLETE trials still missing, so the study ends with exactly ``n_trials`` COMPLETE
trials, unless a limit (``timeout``, ``max_failures``, ``max_pruned``) stops it first.

While a trial runs, its worker records a heartbeat; a trial whose heartbeat stops (its
process was killed) is failed by the next stale-trial check and re-queued with the same
parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``), and a queued retry runs
before any new trial. Dask also re-runs a task whose worker died; whichever comes
first, no trial stays RUNNING. Each trial the driver holds is ended by it: told by its
worker's outcome, or failed when the driver is interrupted (Ctrl-C is held for the few
statements where a trial changes hands, so no interrupt can lose one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any

from workbench.tuning import _optuna, _storages
from workbench.tuning._logger import TrialLogger
from workbench.tuning._runs import outcome_of
from workbench.tuning._storages import HEARTBEAT_S, study_uid
from workbench.tuning._worker import run_trial

if TYPE_CHECKING:
    import pandas as pd

    from workbench.tuning._objective import TuningSpec

__all__ = ["Driver", "count_trials"]


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


class Driver:
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
        tracking_uri: str,
        experiment_id: str,
        parent: str,
        on_trial: Callable[[dict[str, Any]], None] | None,
    ):
        import optuna

        self.client, self.distributed, self.rdb, self.study = client, distributed, rdb, study
        self.spec, self.url, self.frame = spec, url, frame
        self.tracker, self.experiment_id, self.parent = tracker, experiment_id, parent
        self.on_trial = on_trial
        self.study_id = _optuna.study_id(study)
        self.uid = study_uid(rdb, self.study_id)
        self.owned: set[int] = set()
        self.in_flight: dict[Any, int] = {}  # future -> trial id
        self.stale: list[int] = []  # trials this process failed as stale, to log
        self.waiting = True  # the queue may hold trials (retries, enqueued): claim them first
        self.failures = self.pruned = 0
        self.complete = count_trials(study, optuna.trial.TrialState.COMPLETE)
        # Trial runs are logged by a process of their own, while workers compute.
        self.logger = TrialLogger(tracker, tracking_uri)
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
                self.complete = count_trials(self.study, optuna.trial.TrialState.COMPLETE)
                checked = time.monotonic()
            for future in done:
                self._end(future)
            bar.update(max(0, min(self.complete, n_trials) - min(before, n_trials)))

    def _start(self, n_trials: int) -> bool:
        """Claim a queued trial, or create one if COMPLETE ones are still missing, and
        submit it; False when there is nothing to start."""
        with _held_interrupts():
            claimed = self._claim() if self.waiting else None
            if claimed is None:
                self.waiting = False
                if self.complete + len(self.in_flight) >= n_trials:
                    return False
                claimed = _optuna.create_trial(self.rdb, self.study_id)
            trial_id, number = claimed
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
                number,
                self.shared_pruner,
                str(self.data.key),
                key=f"trial-{self.study.study_name}-{trial_id}-{os.urandom(4).hex()}",
                pure=False,
            )
            self.in_flight[future] = trial_id
        return True

    def _queued(self) -> list[tuple[int, int]]:
        """The queued (WAITING) trials: their ids and numbers."""
        from optuna.trial import TrialState

        waiting = self.rdb.get_all_trials(
            self.study_id, deepcopy=False, states=(TrialState.WAITING,)
        )
        return [(_optuna.trial_id(t), t.number) for t in waiting]

    def _claim(self) -> tuple[int, int] | None:
        """A queued (WAITING) trial, set RUNNING by this driver, as Optuna's ``ask`` does."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        for trial_id, number in self._queued():
            with contextlib.suppress(UpdateFinishedTrialError):
                if self.rdb.set_trial_state_values(trial_id, TrialState.RUNNING):
                    return trial_id, number
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
        self.logger.submit(
            self.experiment_id, self.parent, self.study.study_name, self.spec.metric.name, outcome
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


def count_trials(study: Any, state: Any) -> int:
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
