"""Every use of Optuna's private internals in the workbench, in one place.

Why we touch them at all: Optuna's public way to run a trial is ``study.ask()`` and
``study.tell()`` in one process. Here one process (the driver) creates each trial in the
RDB storage and decides how it ends, while another (a Dask worker) samples and evaluates
it, so the worker must wrap a trial it did not ask for, and both must name the study and
trials by the storage ids that Optuna's public objects keep in private attributes.

What an Optuna upgrade must keep working, all of it tested in ``tests/tuning``:

- ``Study._study_id`` and ``FrozenTrial._trial_id``: the storage ids (the public
  ``BaseStorage`` API takes them; the public ``Study`` and ``FrozenTrial`` hide them);
- ``Trial(study, trial_id)``: a trial object for a trial created elsewhere (the
  constructor is public, its direct use "not recommended");
- ``Study._thread_local.cached_all_trials`` and ``Study._get_trials(use_cache=True)``:
  the per-thread list of trials a sampler reads, which only ``ask``/``tell`` refresh;
- ``Trial.__init__`` reading its trial with ``study._storage.get_trial`` (shadowed on
  the storage instance while :func:`trial_for` builds it from the fresh view);
- ``RDBStorage._create_new_trial``: creates a trial and returns it whole, its number
  included (the public ``create_new_trial`` returns the id only, and the number would
  cost another query per trial).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from typing import Any

__all__ = ["create_trial", "fresh_view", "study_id", "trial_for", "trial_id"]


def study_id(study: Any) -> int:
    """The storage id of ``study`` (an ``optuna.Study``)."""
    return int(study._study_id)


def trial_id(trial: Any) -> int:
    """The storage id of ``trial`` (a ``FrozenTrial`` or a ``Trial``)."""
    return int(trial._trial_id)


def create_trial(rdb: Any, study_id: int) -> tuple[int, int]:
    """A new RUNNING trial of the study in the RDB storage ``rdb``: its id and number."""
    create = getattr(rdb, "_create_new_trial", None)
    if create is not None:
        frozen = create(study_id)
        return int(frozen._trial_id), int(frozen.number)
    trial_id = rdb.create_new_trial(study_id)  # another Optuna: the number costs a query
    return trial_id, rdb.get_trial_number_from_id(trial_id)


_KNOWN_LOCK = threading.Lock()


def trial_for(study: Any, trial_id: int) -> Any:
    """The ``optuna.Trial`` of a trial another process created (the driver, not ``ask``).

    ``Trial(study, trial_id)`` reads the trial from the storage (a running trial is never
    served from Optuna's cache: one query per relation of the trial). Right after
    :func:`fresh_view` the study's view holds it, read a moment ago: the trial is built
    from (a copy of) that, so each trial on a worker costs one read of the storage less.
    """
    import optuna

    local = getattr(study, "_thread_local", None)
    seen = getattr(local, "cached_all_trials", None) or ()
    known = next((t for t in seen if getattr(t, "_trial_id", None) == trial_id), None)
    if known is None or known.state != optuna.trial.TrialState.RUNNING:
        return optuna.trial.Trial(study, trial_id)
    frozen = copy.deepcopy(known)  # the trial writes its parameters into its copy
    storage = study._storage
    read = type(storage).get_trial

    def get_trial(wanted: int) -> Any:
        return frozen if wanted == trial_id else read(storage, wanted)

    with _KNOWN_LOCK:  # the instance's method, shadowed for the constructor only
        storage.get_trial = get_trial
        try:
            return optuna.trial.Trial(study, trial_id)
        finally:
            del storage.get_trial


def fresh_view(study: Any) -> None:
    """Make the study's sampler see every trial the storage holds now.

    Optuna keeps, per thread, the list of a study's trials that its samplers read, and
    only ``ask`` and ``tell`` refresh it; a trial built here by hand (the driver created
    it) would otherwise be sampled from the list as it was at this worker's first trial,
    which for TPE means fewer than its startup trials: random search. Reading the list
    once also makes this trial, created in another process, known to the storage's cache
    before its parameters are written.
    """
    local = getattr(study, "_thread_local", None)
    if local is not None and hasattr(local, "cached_all_trials"):
        local.cached_all_trials = None
        with contextlib.suppress(AttributeError, TypeError):
            study._get_trials(deepcopy=False, use_cache=True)
            return
    study.get_trials(deepcopy=False)  # another Optuna: at least the storage's cache
