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
- ``Study._storage`` and ``Study._thread_local``: the storage a study's trials, sampler
  and pruner read and write through, and the per-thread list of trials a sampler reads
  (which only ``ask``/``tell`` refresh). :func:`trial_for` gives each trial a copy of the
  study whose storage is :class:`TrialStorage` and whose per-thread list starts empty;
- ``Trial.__init__`` reading its trial with ``study._storage.get_trial`` (served from the
  trial's view while :func:`trial_for` builds it);
- ``RDBStorage._create_new_trial``: creates a trial and returns it whole, its number
  included (the public ``create_new_trial`` returns the id only, and the number would
  cost another query per trial).
"""

from __future__ import annotations

import copy
import time
from typing import Any

__all__ = ["VIEW_S", "TrialStorage", "create_trial", "study_id", "trial_for", "trial_id"]


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


#: How long a trial's view of its study serves the reads of its sampler and pruner (and of
#: a custom objective): a read later than this after the last one reads the storage again.
VIEW_S = 1.0


class TrialStorage:
    """The study's storage as one trial on a worker sees it: every call goes to the
    storage, except the reads of the study's trials, served from the list read at the
    trial's start for :data:`VIEW_S` seconds.

    Why: a trial draws its parameters right after it starts, and Optuna's TPE with
    ``constant_liar`` (its default) reads every trial of the study from the storage again
    for each parameter it draws outside its relative search space (one query per relation
    of a trial, six in all), on top of the list its cached view read a moment before; a
    pruner reads them again after each fold. Within a second of the start the answer is
    the same list, give or take a trial finishing elsewhere in between, which the next
    trial sees (as Optuna's own cached view does). A trial suggesting later than that
    reads the storage afresh.
    """

    def __init__(self, storage: Any, study_id: int, trial_id: int) -> None:
        self._storage, self._study_id, self._trial_id = storage, study_id, trial_id
        self._trials: list[Any] | None = None
        self._read = 0.0
        self._built = False

    def __getattr__(self, name: str) -> Any:
        storage = self.__dict__.get("_storage")  # absent while a copy is being unpickled
        if storage is None:
            raise AttributeError(name)
        return getattr(storage, name)

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states: Any = None) -> list[Any]:
        if study_id != self._study_id:
            other: list[Any] = self._storage.get_all_trials(study_id, deepcopy, states)
            return other
        now = time.monotonic()
        if self._trials is None or now - self._read > VIEW_S:
            self._trials = self._storage.get_all_trials(study_id, deepcopy=False)
            self._read = now
        trials = self._trials if states is None else [t for t in self._trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def get_trial(self, trial_id: int) -> Any:
        """The trial, read from the storage; the first time this trial is asked for (by
        ``Trial.__init__``) and the view holds it RUNNING, a copy of the view's."""
        import optuna

        if trial_id == self._trial_id and not self._built and self._trials is not None:
            self._built = True
            known = next((t for t in self._trials if t._trial_id == trial_id), None)
            if known is not None and known.state == optuna.trial.TrialState.RUNNING:
                return copy.deepcopy(known)  # the trial writes its parameters into its copy
        return self._storage.get_trial(trial_id)


def trial_for(study: Any, trial_id: int, sampler: Any, pruner: Any) -> Any:
    """The ``optuna.Trial`` of a trial another process created (the driver, not ``ask``),
    drawn by ``sampler`` and pruned by ``pruner`` over every trial the storage holds now.

    The trial gets a study of its own (a copy of ``study``, which a worker loads once and
    its threads share): its own sampler and pruner, a per-thread list of trials that starts
    empty (Optuna's, refreshed only by ``ask``/``tell``, would otherwise show this worker's
    sampler the study as it was at its first trial: for TPE, random search), and a
    :class:`TrialStorage` that reads the study's trials now, once, and builds the trial
    from that read (the trial, created in another process, is then known to the storage's
    cache before its parameters are written).
    """
    import optuna

    view = copy.copy(study)
    view._thread_local = type(study._thread_local)()  # this trial's list, empty
    view.sampler, view.pruner = sampler, pruner
    sid = study_id(study)
    view._storage = TrialStorage(study._storage, sid, trial_id)
    view._storage.get_all_trials(sid, deepcopy=False)  # the one read, now
    return optuna.trial.Trial(view, trial_id)
