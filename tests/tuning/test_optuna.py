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
