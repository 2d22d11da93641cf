"""Issue 22.7: trial runs are logged by a child process, off the driver's interpreter
lock; none is lost when that child dies, and it logs with the driver's MLflow settings."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import mlflow
import pytest

from workbench.tuning import _logger
from workbench.tuning._logger import TrialLogger


def _outcome(number: int) -> dict[str, object]:
    return {
        "number": number,
        "state": "COMPLETE",
        "value": 0.5 + number,
        "scores": [0.5 + number, 0.5 + number],
        "params": {"family": "ridge", "ridge.alpha": 1.0},
        "family": "ridge",
        "worker": "w",
        "began": 1.0e9,
        "ended": 1.0e9 + 1,
        "seconds": 1.0,
    }


def _trials(tracker: mlflow.MlflowClient, experiment: str, parent: str) -> dict[int, str]:
    runs = tracker.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'")
    return {int(r.data.tags["optuna.trial"]): r.info.status for r in runs}


def test_runs_are_logged_by_a_child_and_none_is_lost_when_it_dies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = mlflow.MlflowClient(uri)
    experiment = tracker.create_experiment("logger", artifact_location=str(tmp_path / "a"))
    parent = tracker.create_run(experiment).info.run_id
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)

    logger = TrialLogger(tracker, uri)
    first = logger.submit(experiment, parent, "study", "rmse", _outcome(0))
    first.result(timeout=120)  # the child is up (it imported MLflow)
    child = _logger._POOL
    assert child is not None
    pids = list(child._processes)  # type: ignore[attr-defined]
    assert pids and os.getpid() not in pids
    assert child.submit(os.getenv, "MLFLOW_HTTP_REQUEST_TIMEOUT").result(60) is None

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the next study's environment
    logger.close()
    logger = TrialLogger(tracker, uri)
    assert logger.submit(experiment, parent, "study", "rmse", _outcome(1)).result(60)
    assert child.submit(os.getenv, "MLFLOW_HTTP_REQUEST_TIMEOUT").result(60) == "7"

    os.kill(pids[0], signal.SIGKILL)  # the child dies: what it had not logged, the driver logs
    for number in (2, 3):
        logger.submit(experiment, parent, "study", "rmse", _outcome(number))
    sent, errors = logger.close()
    assert (sent, errors) == (3, [])
    assert _trials(tracker, experiment, parent) == dict.fromkeys(range(4), "FINISHED")
    assert _logger._POOL is not child  # the next study starts a new one

    in_thread = TrialLogger(tracker, uri, in_process=True)
    in_thread.submit(experiment, parent, "study", "rmse", _outcome(4))
    assert in_thread.close() == (1, [])
    assert len(_trials(tracker, experiment, parent)) == 5
