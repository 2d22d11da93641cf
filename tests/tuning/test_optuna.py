"""The Optuna internals the workbench uses (``_optuna``), checked against Optuna's public API."""

from __future__ import annotations

import functools
from pathlib import Path

import optuna

from workbench.tuning import _optuna


def test_a_trial_created_by_the_driver_comes_with_its_number(tmp_path: Path) -> None:
    rdb = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'o.db'}")
    study = optuna.create_study(storage=rdb)
    study.enqueue_trial({"x": 1.0})  # a queued trial takes number 0
    created = [_optuna.create_trial(rdb, _optuna.study_id(study)) for _ in range(2)]
    for trial_id, number in created:
        assert rdb.get_trial_number_from_id(trial_id) == number
        assert rdb.get_trial(trial_id).state == optuna.trial.TrialState.RUNNING
    assert [number for _, number in created] == [1, 2]
    rdb.engine.dispose()


def _counted(reads: list[int], read, backend, wanted: int):  # type: ignore[no-untyped-def]
    reads.append(wanted)
    return read(backend, wanted)


def test_a_trial_built_from_the_fresh_view_reads_nothing_more_and_writes_as_optunas(
    tmp_path: Path,
) -> None:
    """``trial_for`` after ``fresh_view`` builds the trial from the view (no read of the
    storage for it), and the trial it gives samples, writes and ends as one built by
    ``Trial(study, trial_id)``: the same parameters in the storage, a retry's fixed
    parameters kept, the view's own copy left as it was read."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    optuna.create_study(storage=url, study_name="s")
    driver = optuna.storages.RDBStorage(url)
    worker = optuna.load_study(study_name="s", storage=url)  # the worker's (cached) storage
    sid = _optuna.study_id(worker)
    for n in range(3):
        trial_id, _ = _optuna.create_trial(driver, sid)
        _optuna.fresh_view(worker)
        reads = []
        backend = worker._storage._backend
        original = type(backend).get_trial
        backend.get_trial = functools.partial(_counted, reads, original, backend)
        try:
            trial = _optuna.trial_for(worker, trial_id)
        finally:
            del backend.get_trial
        assert reads == []  # nothing read for it: the view had it
        x = trial.suggest_float("x", -1, 1)
        driver.set_trial_state_values(trial_id, optuna.trial.TrialState.COMPLETE, [x * x])
        stored = driver.get_trial(trial_id)
        assert stored.params == {"x": x} and stored.number == n
        seen = [t for t in worker._thread_local.cached_all_trials if t._trial_id == trial_id]
        assert seen and seen[0].params == {}  # the view's copy is not the trial's
        assert "get_trial" not in vars(worker._storage)  # the shadow is gone
    # a trial the view does not hold (not read yet) is read from the storage as Optuna does
    trial_id, _ = _optuna.create_trial(driver, sid)
    assert _optuna.trial_for(worker, trial_id).number == 3
    driver.engine.dispose()


def test_one_thread_beats_every_running_trial_of_a_process_and_stops_with_them(
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    import threading
    import time

    from workbench.tuning import _worker

    monkeypatch.setattr(_worker, "HEARTBEAT_S", 0.05)
    beats: list[int] = []

    class Storage:
        def record_heartbeat(self, trial_id: int) -> None:
            beats.append(trial_id)

    hearts = _worker._Heartbeats()
    before = threading.active_count()
    with hearts.running(Storage(), 1):
        with hearts.running(Storage(), 2):
            time.sleep(0.3)
        assert threading.active_count() == before + 1  # one thread for both
        assert beats.count(1) >= 3 and beats.count(2) >= 3
        time.sleep(0.1)  # a beat under way as it ended is written
        ended, going = beats.count(2), beats.count(1)
        time.sleep(0.2)
        assert beats.count(2) == ended  # an ended trial is not beaten again
        assert beats.count(1) >= going + 2
    time.sleep(0.1)
    done = len(beats)
    time.sleep(0.2)
    assert len(beats) == done
    with hearts.running(Storage(), 3):  # the next trial: the same thread
        time.sleep(0.15)
    assert threading.active_count() == before + 1 and beats.count(3) >= 1
