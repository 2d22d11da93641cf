"""A shadow challenger (issue 27): ``workbench serve models:/tiny@champion --shadow
challenger`` answers with the champion only; every request also goes to the challenger,
off the request path, and its predictions are logged under its version in
``<log>/shadow/`` with the same request ids."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from workbench.serving import ScoringServer, read_inference_log
from workbench.serving._batch import Predicted
from workbench.serving._payload import Columns
from workbench.serving._shadow import Shadow

from .conftest import own_settings

ONE_ROW = {"dataframe_split": {"columns": ["x", "region"], "data": [[1.0, "a"]]}}


def _challenger(project: Path) -> str:
    """A second version of ``tiny`` (a constant 2.0) as ``@challenger``; its version."""
    from sklearn.dummy import DummyRegressor

    from workbench import mlflow_for, resolve_settings
    from workbench.packaging import package_model

    frame = pd.DataFrame({"x": np.arange(30.0), "region": ["a", "b", "c"] * 10})
    frame["y"] = frame["x"]
    model = DummyRegressor(strategy="constant", constant=2.0)
    model.fit(frame[["x", "region"]], frame["y"])
    with own_settings():
        settings = resolve_settings(project)
        package_model(
            model, frame, "tiny", target="y", measure_cost=False, progress=False, settings=settings
        )
        client = mlflow_for(settings).MlflowClient()
        version = max(int(v.version) for v in client.search_model_versions("name='tiny'"))
        client.set_registered_model_alias("tiny", "challenger", str(version))
    return str(version)


@pytest.mark.slow
def test_the_shadow_is_logged_under_its_version_and_never_returned(
    tiny_project: Path, tmp_path: Path
) -> None:
    challenger = _challenger(tiny_project)
    log_dir = tmp_path / "log"
    server = ScoringServer(
        "models:/tiny@champion",
        log_dir=log_dir,
        project_dir=tiny_project,
        args=["--shadow", "challenger"],
    )
    with own_settings():
        server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answers = [client.post("/invocations", json=ONE_ROW) for _ in range(20)]
            health = client.get("/health").json()
        assert all(a.status_code == 200 for a in answers)
        assert {a.json()["predictions"][0] for a in answers} == {1.0}  # the champion's only
        assert health["shadow_version"] == challenger and health["model_version"] == "1"
        ids = {a.headers["X-Request-ID"] for a in answers}
        deadline = time.monotonic() + 30  # a bound on failure, not a timing
        while not (log_dir / "shadow").is_dir() or len(read_inference_log(log_dir / "shadow")) < 20:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.5)
    finally:
        server.stop()
    shadow = read_inference_log(log_dir / "shadow")
    champion = read_inference_log(log_dir)
    assert set(shadow["request_id"]) == ids == set(champion["request_id"])
    assert set(shadow["model_version"]) == {challenger} and set(shadow["prediction"]) == {2.0}
    assert set(champion["model_version"]) == {"1"} and set(champion["prediction"]) == {1.0}
    assert list(shadow["x"]) == list(
        champion.set_index("request_id").loc[shadow["request_id"], "x"]
    )


class _Challenger:
    """A stand-in for a loaded version (what the shadow's process reads of it): each call
    sleeps or spins ``seconds`` (spinning takes the CPU, as a model does); a picky one
    refuses a negative ``x``."""

    personal: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()

    def __init__(self, seconds: float, *, spin: bool = False, picky: bool = False) -> None:
        self.version, self.seconds, self.spin, self.picky = "9", seconds, spin, picky

    def predict_scored(self, data: Columns) -> Predicted:
        if self.picky and (data.arrays["x"] < 0).any():
            raise ValueError("no negative x")
        until = time.thread_time() + self.seconds
        if self.spin:
            while time.thread_time() < until:
                pass
        else:
            time.sleep(self.seconds)
        return Predicted(data.arrays["x"] * 2)


@dataclasses.dataclass(frozen=True)
class _Load:
    """Loads the stand-in in the shadow's process (sent there, so picklable)."""

    seconds: float
    spin: bool = False
    picky: bool = False
    loading: float = 0.0  # seconds the load takes

    def __call__(self, version: str) -> _Challenger:
        time.sleep(self.loading)
        return _Challenger(self.seconds, spin=self.spin, picky=self.picky)


def _offer(shadow: Shadow, i: int) -> None:
    x = np.array([float(i)])
    shadow.offer(f"r{i}", Columns({"x": x}, 1), {"x": x}, 1)


def _shadow(load: _Load, folder: Path, **kwargs: Any) -> Shadow:
    return Shadow(load, "9", str(folder), model_name="m", flush_seconds=0.2, **kwargs)  # type: ignore[arg-type]


def test_a_shadow_too_far_behind_skips_requests_and_counts_them(tmp_path: Path) -> None:
    shadow = _shadow(_Load(0.5), tmp_path / "shadow", max_rows=3, linger=0.01)
    began = time.perf_counter()
    for i in range(10):
        _offer(shadow, i)
    offered = time.perf_counter() - began
    shadow.close()
    assert offered < 0.25  # a slow challenger is never waited for
    assert shadow.skipped == 7 and shadow.mirrored == 3 and shadow.failures == 0
    log = read_inference_log(tmp_path / "shadow")
    assert sorted(log["request_id"]) == ["r0", "r1", "r2"]
    assert list(log.sort_values("request_id")["prediction"]) == [0.0, 2.0, 4.0]
    assert set(log["model_version"]) == {"9"} and set(log["model_name"]) == {"m"}


def test_the_challenger_runs_in_a_process_of_its_own_below_the_servers_priority(
    tmp_path: Path,
) -> None:
    """A challenger that spins 50 ms of CPU a call takes none of the server's: it runs
    in the shadow's process, ten steps of ``nice`` below, which predicts every request."""
    shadow = _shadow(_Load(0.05, spin=True), tmp_path / "shadow", linger=0.1)
    began, cpu = time.perf_counter(), time.process_time()
    i = 0
    while time.perf_counter() - began < 2.0:
        _offer(shadow, i)
        i += 1
        time.sleep(0.005)
    used = time.process_time() - cpu
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    theirs = os.getpriority(os.PRIO_PROCESS, shadow.process.pid)
    shadow.close(timeout=120)  # a bound on failure: a loaded machine starves a niced process
    assert theirs == min(ours + 10, 19)
    assert shadow.mirrored == i and shadow.skipped == 0 and shadow.failures == 0
    # the process ran a call of 50 ms every 100 ms (linger): ~1 s of CPU, not this
    # process's (which only offered and sent)
    assert used < 0.5, used
    assert len(read_inference_log(tmp_path / "shadow")) == i


def test_a_failing_merged_call_is_retried_request_by_request(tmp_path: Path) -> None:
    shadow = _shadow(_Load(0.0, picky=True, loading=0.5), tmp_path / "shadow", linger=0.2)
    assert shadow.wait_ready(120)  # loaded: the first request is mirrored
    for i in (1, -2, 3):
        _offer(shadow, i)
    shadow.close()
    assert shadow.mirrored == 2 and shadow.failures == 1
    log = read_inference_log(tmp_path / "shadow")
    assert sorted(log["request_id"]) == ["r1", "r3"]
    assert list(log.sort_values("request_id")["prediction"]) == [2.0, 6.0]


def test_a_shadow_process_that_dies_is_started_again(tmp_path: Path) -> None:
    """SIGKILL the shadow's process while it predicts: what it held is counted failed,
    the next requests are mirrored by a new one."""
    shadow = _shadow(_Load(1.0), tmp_path / "shadow", linger=0.05)
    try:
        first = shadow.process.pid
        _offer(shadow, 0)
        deadline = time.monotonic() + 60  # a bound on failure, not a timing
        while shadow.queued_rows and not shadow.mirrored:  # sent, being predicted
            assert time.monotonic() < deadline
            time.sleep(0.05)
            if shadow._sent:
                break
        os.kill(first, signal.SIGKILL)
        while shadow.failures < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while shadow.process.pid == first:  # started again after a pause
            assert time.monotonic() < deadline
            time.sleep(0.1)
        _offer(shadow, 1)
        while shadow.mirrored < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        shadow.close()
    assert shadow.failures == 1 and shadow.mirrored == 1
    assert list(read_inference_log(tmp_path / "shadow")["request_id"]) == ["r1"]


def test_a_stopping_server_waits_for_the_shadow_a_bounded_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A challenger still loading when the server stops: close() returns within its
    budget (the champion's log is flushed before it), what the shadow held is counted
    skipped and said."""
    shadow = _shadow(_Load(0.0, loading=60.0), tmp_path / "shadow", linger=0.05)
    assert not shadow.wait_ready(0.5)  # a server starting would serve on after its wait
    for i in range(5):
        _offer(shadow, i)
    time.sleep(0.3)  # sent to the process, which is loading
    began = time.monotonic()
    with caplog.at_level("WARNING", logger="workbench.serving._shadow"):
        shadow.close(timeout=1.0)
    assert time.monotonic() - began < 10  # a bound on failure: 1 s asked, not 60
    assert shadow.skipped == 5 and shadow.mirrored == 0 and shadow.failures == 0
    assert not shadow.process.is_alive()
    assert "the shadow had not predicted 5 request(s)" in caplog.text
