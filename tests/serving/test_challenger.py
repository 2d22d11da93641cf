"""A challenger beside the champion (issue 27), on real servers: its alias is followed
as the champion's is (moved: the new version; removed: the champion answers everything
and ``/health`` says so), and a shadow that fails or is slow never changes the
champion's answer, status code or time."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from workbench.serving import ScoringServer, read_inference_log
from workbench.serving._model import canary_point

pytestmark = pytest.mark.slow

ROW = {"dataframe_split": {"columns": ["x", "region"], "data": [[1.0, "a"]]}}

#: A challenger that is slow (``sleep`` seconds a call) or fails (``sleep`` < 0),
#: written as an MLflow model from code so that the server loads it like any other.
CHALLENGER_CODE = """
import time
import mlflow
import pandas as pd

class Challenger(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if {sleep} < 0:
            raise RuntimeError("the challenger is broken")
        time.sleep({sleep})
        return pd.Series([7.0] * len(model_input))

mlflow.models.set_model(Challenger())
"""


def _project(tmp_path: Path, name: str) -> tuple[Path, Any, Callable[[float], str]]:
    """A project, its MLflow client, and a maker of constant versions of ``name`` (the
    first is @champion); each returns its version."""
    from sklearn.dummy import DummyRegressor

    from workbench import mlflow_for, resolve_settings
    from workbench.packaging import package_model, promote

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(project)
    client = mlflow_for(settings).MlflowClient()
    frame = pd.DataFrame({"x": np.arange(30.0), "region": ["a", "b", "c"] * 10})
    frame["y"] = frame["x"]

    def version(constant: float) -> str:
        model = DummyRegressor(strategy="constant", constant=constant)
        model.fit(frame[["x", "region"]], frame["y"])
        package_model(
            model, frame, name, target="y", measure_cost=False, progress=False, settings=settings
        )
        latest = str(max(int(v.version) for v in client.search_model_versions(f"name='{name}'")))
        if latest == "1":
            promote(name, frame, target="y", force=True, settings=settings)
        return latest

    return project, client, version


def _code_version(tmp_path: Path, client: Any, name: str, sleep: float) -> str:
    """A version of ``name`` from :data:`CHALLENGER_CODE`; its version."""
    import mlflow
    from mlflow.models import infer_signature

    code = tmp_path / f"challenger-{sleep}.py"
    code.write_text(CHALLENGER_CODE.format(sleep=sleep))
    frame = pd.DataFrame({"x": [1.0], "region": ["a"]})
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_registry_uri(client.tracking_uri)
    try:
        with mlflow.start_run():
            mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code),
                signature=infer_signature(frame, pd.Series([7.0])),
                registered_model_name=name,
            )
    finally:  # later tests of this process find MLflow's defaults as they were
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    return str(max(int(v.version) for v in client.search_model_versions(f"name='{name}'")))


def _until(check: Callable[[], bool], what: str, server: ScoringServer) -> None:
    deadline = time.monotonic() + 60  # a bound on failure, not a timing
    while not check():
        assert time.monotonic() < deadline, f"{what}\n{server.output()}"
        time.sleep(0.2)


def test_a_failing_or_slow_shadow_never_changes_the_champions_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("MLFLOW_TRACKING_URI", "WORKBENCH_PROJECT_DIR"):
        monkeypatch.delenv(var, raising=False)
    project, client, version = _project(tmp_path, "faulty")
    version(1.0)  # @champion
    broken = _code_version(tmp_path, client, "faulty", -1)
    slow = _code_version(tmp_path, client, "faulty", 3.0)  # 3 s a call
    client.set_registered_model_alias("faulty", "challenger", broken)
    log_dir = tmp_path / "log"
    server = ScoringServer(
        "models:/faulty@champion",
        log_dir=log_dir,
        project_dir=project,
        reload_seconds=0.5,
        startup_timeout=300,  # this machine is shared: a slow start is not the point
        args=["--shadow", "challenger"],
    )
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:

            def burst(n: int) -> list[httpx.Response]:
                return [http.post("/invocations", json=ROW) for _ in range(n)]

            failing = burst(30)
            _until(lambda: http.get("/health").json()["shadow_failures"] == 30, "failures", server)
            client.set_registered_model_alias("faulty", "challenger", slow)
            _until(lambda: http.get("/health").json()["shadow_version"] == slow, "no move", server)
            began = time.perf_counter()
            slowed = burst(30)
            took = time.perf_counter() - began
            _until(lambda: http.get("/health").json()["shadow_mirrored"] > 0, "none", server)
            metrics = http.get("/metrics").text
            client.delete_registered_model_alias("faulty", "challenger")
            _until(lambda: "warnings" in http.get("/health").json(), "no warning", server)
            health = http.get("/health").json()
            unset = burst(5)
    finally:
        server.stop()
    for answer in [*failing, *slowed, *unset]:  # the champion's, whatever the shadow did
        assert answer.status_code == 200
        assert answer.json() == {"predictions": [1.0]}
        assert answer.headers["X-Model-Version"] == "1"
    # a shadow awaited would take 3 s a request: 30 answered in less than one call
    assert took < 3.0, took
    assert 'workbench_shadow_requests_total{model="faulty",outcome="failed"} 30' in metrics
    assert health["shadow_version"] is None and health["model_version"] == "1"
    assert health["warnings"] == [
        "@challenger is not set on faulty: no shadow until it is set again; "
        "@champion answers every request"
    ]
    assert "@challenger is no longer set on faulty" in server.output()
    assert "the shadow (version 2) failed 1 time(s), the champion unaffected" in server.output()
    shadow = read_inference_log(log_dir / "shadow")  # the slow one's, under its version
    assert set(shadow["model_version"]) == {slow} and set(shadow["prediction"]) == {7.0}
    assert set(shadow["request_id"]) <= {a.headers["X-Request-ID"] for a in slowed}
    champion = read_inference_log(log_dir)
    assert len(champion) == 65 and set(champion["prediction"]) == {1.0}


def test_the_canary_follows_its_alias_and_the_champion_answers_all_while_it_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("MLFLOW_TRACKING_URI", "WORKBENCH_PROJECT_DIR"):
        monkeypatch.delenv(var, raising=False)
    project, client, version = _project(tmp_path, "canaried")
    version(1.0)  # @champion
    two, three = version(2.0), version(3.0)  # packaging sets @challenger: set it after
    client.set_registered_model_alias("canaried", "challenger", two)
    keys = [f"k{i}" for i in range(40)]
    canaried = {k for k in keys if canary_point(k) < 0.5}
    server = ScoringServer(
        "models:/canaried@champion",
        log_dir=tmp_path / "log",
        project_dir=project,
        reload_seconds=0.5,
        startup_timeout=300,  # this machine is shared: a slow start is not the point
        args=["--canary", "challenger", "--canary-share", "0.5"],
    )
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:

            def answers() -> dict[str, tuple[str, float]]:
                out = {}
                for k in keys:
                    r = http.post("/invocations", json=ROW, headers={"X-Request-ID": k})
                    assert r.status_code == 200, r.text
                    out[k] = (r.headers["X-Model-Version"], r.json()["predictions"][0])
                return out

            def health() -> dict[str, Any]:
                return dict(http.get("/health").json())

            before = answers()
            client.set_registered_model_alias("canaried", "challenger", three)
            _until(lambda: health()["canary_version"] == three, "@challenger not followed", server)
            moved = answers()
            client.delete_registered_model_alias("canaried", "challenger")
            _until(lambda: health()["canary_version"] is None, "the removal not seen", server)
            removed, said = answers(), health()
            client.set_registered_model_alias("canaried", "challenger", two)
            _until(lambda: health()["canary_version"] == two, "not set again", server)
            back, healed = answers(), health()
            client.delete_registered_model_alias("canaried", "champion")
            _until(lambda: "warnings" in health(), "@champion's removal not said", server)
            orphan, last = answers(), health()
    finally:
        server.stop()
    assert 0 < len(canaried) < len(keys)
    for k in keys:
        assert before[k] == ((two, 2.0) if k in canaried else ("1", 1.0))
        assert moved[k] == ((three, 3.0) if k in canaried else ("1", 1.0))
        assert removed[k] == ("1", 1.0)  # the champion answers all while @challenger is unset
        assert back[k] == before[k]
        assert orphan[k] == before[k]  # @champion removed: the loaded versions serve on
    assert said["canary_alias"] == "challenger" and said["warnings"] == [
        "@challenger is not set on canaried: no canary until it is set again; "
        "@champion answers every request"
    ]
    assert "warnings" not in healed
    assert last["model_version"] == "1" and last["warnings"] == [
        "@champion is not set on canaried: still serving version 1 until it is set again"
    ]
    assert "@challenger is no longer set on canaried" in server.output()
