"""A shadow challenger (issue 27): ``workbench serve models:/tiny@champion --shadow
challenger`` answers with the champion only; every request also goes to the challenger,
off the request path, and its predictions are logged under its version in
``<log>/shadow/`` with the same request ids."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from workbench.serving import ScoringServer, read_inference_log
from workbench.serving._batch import Predicted
from workbench.serving._log import InferenceLogWriter
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
    """A stand-in for a loaded version (what :class:`Shadow` reads of it): each call
    sleeps or spins ``seconds`` (spinning holds the interpreter, as a model does)."""

    personal: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()

    def __init__(self, seconds: float, *, spin: bool = False) -> None:
        self.version, self.seconds, self.spin, self.calls = "9", seconds, spin, 0

    def predict_scored(self, data: Columns) -> Predicted:
        self.calls += 1
        until = time.thread_time() + self.seconds
        if self.spin:
            while time.thread_time() < until:
                pass
        else:
            time.sleep(self.seconds)
        return Predicted(data.arrays["x"] * 2)


def _offer(shadow: Shadow, i: int) -> None:
    x = np.array([float(i)])
    shadow.offer(f"r{i}", Columns({"x": x}, 1), {"x": x}, 1)


def test_a_shadow_too_far_behind_skips_requests_and_counts_them(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path / "shadow")
    challenger = _Challenger(0.5)
    shadow = Shadow(challenger, writer, model_name="m", max_rows=3, linger=0.01)  # type: ignore[arg-type]
    began = time.perf_counter()
    for i in range(10):
        _offer(shadow, i)
    offered = time.perf_counter() - began
    shadow.close()
    writer.close()
    assert offered < 0.25  # a slow challenger is never waited for
    assert shadow.skipped == 7 and shadow.mirrored == 3 and shadow.failures == 0
    log = read_inference_log(tmp_path / "shadow")
    assert sorted(log["request_id"]) == ["r0", "r1", "r2"]
    assert list(log.sort_values("request_id")["prediction"]) == [0.0, 2.0, 4.0]
    assert set(log["model_version"]) == {"9"} and set(log["model_name"]) == {"m"}


def test_a_shadow_takes_at_most_its_share_of_the_interpreter(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path / "shadow")
    challenger = _Challenger(0.05, spin=True)  # 50 ms of CPU a call
    shadow = Shadow(challenger, writer, model_name="m", linger=0.01, cpu_share=0.1)  # type: ignore[arg-type]
    deadline = time.perf_counter() + 2.0
    i = 0
    while time.perf_counter() < deadline:
        _offer(shadow, i)
        i += 1
        time.sleep(0.005)
    calls = challenger.calls
    shadow.close()
    writer.close()
    # unpaced it would call every 10 ms (~30 calls); paced, 50 ms of work then 450 ms of rest
    assert 2 <= calls <= 6, calls
    assert shadow.mirrored == i and shadow.skipped == 0  # all of it, in fewer calls


def test_a_failing_merged_call_is_retried_request_by_request(tmp_path: Path) -> None:
    class Picky(_Challenger):
        def predict_scored(self, data: Columns) -> Predicted:
            if (data.arrays["x"] < 0).any():
                raise ValueError("no negative x")
            return super().predict_scored(data)

    writer = InferenceLogWriter(tmp_path / "shadow")
    shadow = Shadow(Picky(0.0), writer, model_name="m", linger=0.2)  # type: ignore[arg-type]
    for i in (1, -2, 3):
        _offer(shadow, i)
    shadow.close()
    writer.close()
    assert shadow.mirrored == 2 and shadow.failures == 1
    assert sorted(read_inference_log(tmp_path / "shadow")["request_id"]) == ["r1", "r3"]
