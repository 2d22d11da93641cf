"""The Optuna internals the workbench uses (``_optuna``), checked against Optuna's public API."""

from __future__ import annotations

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


def _driver_and_worker(url: str) -> tuple[optuna.storages.RDBStorage, optuna.Study, int]:
    """A new study at ``url``: the driver's storage, the study as a worker loads it (once
    per worker), and its storage id."""
    optuna.create_study(storage=url, study_name="s")
    driver = optuna.storages.RDBStorage(url)
    worker = optuna.load_study(study_name="s", storage=url)
    return driver, worker, _optuna.study_id(worker)


def _objective(trial: optuna.Trial) -> float:
    """Two parameters in TPE's relative search space, one conditional (drawn apart)."""
    x = trial.suggest_float("x", -1, 1)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    y = trial.suggest_float(f"{kind}.y", 0, 1)
    return x * x + y + (0.5 if kind == "b" else 0.0)


def _tpe(number: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=7 + number, constant_liar=True, n_startup_trials=4)


def test_a_trial_from_the_driver_draws_what_optunas_ask_draws_reading_the_study_once(
    tmp_path: Path,
) -> None:
    """``trial_for`` (the driver created the trial, a worker draws it) against Optuna's own
    ``ask``/``tell`` with the same sampler per trial, one trial after another: the same
    parameters, trial by trial, past TPE's start-up; and each trial reads the study's
    trials from the storage once (Optuna's TPE with ``constant_liar`` read them again for
    every parameter drawn outside its relative search space) and never reads itself."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    driver, worker, sid = _driver_and_worker(url)
    backend = worker._storage._backend
    reads: list[str] = []
    for name in ("_get_trials", "get_trial"):
        original = getattr(type(backend), name)

        def counted(*args, _name=name, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            reads.append(_name)
            return _original(backend, *args, **kwargs)

        setattr(backend, name, counted)
    reference = optuna.create_study()
    ours, theirs, per_trial = [], [], []
    for number in range(12):
        reads.clear()
        trial_id, _ = _optuna.create_trial(driver, sid)
        trial = _optuna.trial_for(worker, trial_id, _tpe(number), optuna.pruners.NopPruner())
        value = _objective(trial)
        per_trial.append(list(reads))
        driver.set_trial_state_values(trial_id, optuna.trial.TrialState.COMPLETE, [value])
        ours.append(driver.get_trial(trial_id).params)

        reference.sampler = _tpe(number)
        asked = reference.ask()
        reference.tell(asked, _objective(asked))
        theirs.append(asked.params)
    assert ours == theirs
    assert per_trial == [["_get_trials"]] * 12, per_trial
    assert len(worker.get_trials()) == 12
    driver.engine.dispose()


def test_a_trials_view_is_read_again_once_it_is_older_than_view_s(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A parameter drawn long after the trial started (a custom objective that trains
    first) reads the study afresh: the trials finished meanwhile are in the view."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    driver, worker, sid = _driver_and_worker(url)
    first, _ = _optuna.create_trial(driver, sid)
    trial = _optuna.trial_for(worker, first, _tpe(0), optuna.pruners.NopPruner())
    other, _ = _optuna.create_trial(driver, sid)
    driver.set_trial_state_values(other, optuna.trial.TrialState.COMPLETE, [1.0])
    finished = (optuna.trial.TrialState.COMPLETE,)
    assert trial.study.get_trials(states=finished) == []  # the view read at its start
    monkeypatch.setattr(_optuna, "VIEW_S", 0.0)
    assert [t.number for t in trial.study.get_trials(states=finished)] == [1]
    driver.engine.dispose()


def test_each_trial_has_its_own_sampler_pruner_and_view_of_the_shared_study(
    tmp_path: Path,
) -> None:
    """A worker's threads share the study it loaded; each trial gets a copy of it with the
    sampler and pruner it was given and a per-thread list of its own (a worker with two
    threads swapped one shared study's sampler under a running trial)."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    driver, worker, sid = _driver_and_worker(url)
    sampler, pruner = worker.sampler, worker.pruner
    made = []
    for number in range(2):
        trial_id, _ = _optuna.create_trial(driver, sid)
        made.append(
            _optuna.trial_for(worker, trial_id, _tpe(number), optuna.pruners.MedianPruner())
        )
    a, b = made
    assert a.study.sampler is not b.study.sampler and a.study.pruner is not b.study.pruner
    assert worker.sampler is sampler and worker.pruner is pruner  # the shared one untouched
    assert a.study._thread_local is not b.study._thread_local is not worker._thread_local
    assert a.suggest_float("x", 0, 1) != b.suggest_float("x", 0, 1)  # seeds 7 and 8
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


def test_a_trial_from_the_driver_prunes_as_optunas_ask_prunes(tmp_path: Path) -> None:
    """The pruners ``tune`` offers (median, Hyperband, whose brackets are studies of their
    own) decide on a trial built by ``trial_for`` as on one from ``ask``: the same
    decisions, fold by fold, trial by trial; and a copy of such a trial's study pickles
    (a custom objective may send it elsewhere)."""
    import pickle

    for make in (
        lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=6),
    ):
        url = f"sqlite:///{tmp_path / f'{type(make()).__name__}.db'}"
        driver, worker, sid = _driver_and_worker(url)
        reference = optuna.create_study(study_name="s", pruner=make())  # brackets hash it
        pruner = make()  # one per worker, as tune scatters it
        ours, theirs = [], []
        for number in range(10):
            trial_id, _ = _optuna.create_trial(driver, sid)
            trial = _optuna.trial_for(worker, trial_id, _tpe(number), pruner)
            reference.sampler = _tpe(number)
            asked = reference.ask()
            for mine, decisions, tell in ((trial, ours, None), (asked, theirs, reference)):
                x = mine.suggest_float("x", -1, 1)
                steps = []
                for step in range(6):
                    mine.report(x * x + 1 / (step + 1), step)
                    steps.append(mine.should_prune())
                decisions.append(steps)
                if tell is not None:
                    tell.tell(mine, x * x)
            driver.set_trial_state_values(
                trial_id, optuna.trial.TrialState.COMPLETE, [trial.params["x"] ** 2]
            )
        assert ours == theirs and any(any(d) for d in ours), type(make()).__name__
        copied = pickle.loads(pickle.dumps(trial.study))
        assert copied.study_name == "s" and len(copied.trials) == 10
        driver.engine.dispose()
