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

from .conftest import own_settings

pytestmark = pytest.mark.slow

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
