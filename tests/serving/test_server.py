"""The scoring server over real HTTP, serving the demo project's champion."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from workbench.datasets import ELECTRICITY_FEATURES
from workbench.serving import ScoringServer, read_inference_log

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows(demo_project) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    frame = pd.read_parquet(
        demo_project.settings.data_dir / "processed" / "electricity_features.parquet"
    )
    return frame[list(ELECTRICITY_FEATURES)].head(40).reset_index(drop=True)


def test_n_requests_give_n_log_rows_in_every_format(demo_project, rows, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log_dir = tmp_path / "log"
    ids: list[str] = []
    predictions: list[float] = []
    with (
        ScoringServer(
            demo_project.model.model_uri,
            log_dir=log_dir,
            project_dir=demo_project.settings.project_dir,
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert client.get("/ping").status_code == 200
        health = client.get("/health").json()
        assert health == {
            "status": "ok",
            "model_name": "test-electricity",
            "model_version": str(demo_project.model.version),
        }
        assert client.get("/version").json()["model_uri"].endswith("@champion")
        for i in range(len(rows)):
            one = rows.iloc[[i]]
            kind = i % 4
            if kind == 0:
                body = '{"dataframe_split": ' + one.to_json(orient="split", index=False) + "}"
                r = client.post(
                    "/invocations", content=body, headers={"Content-Type": "application/json"}
                )
            elif kind == 1:
                body = '{"dataframe_records": ' + one.to_json(orient="records") + "}"
                r = client.post(
                    "/invocations", content=body, headers={"Content-Type": "application/json"}
                )
            elif kind == 2:
                records = json.loads(one.to_json(orient="records"))
                r = client.post("/invocations", json={"inputs": records})
            else:
                r = client.post(
                    "/invocations",
                    content=one.to_csv(index=False),
                    headers={"Content-Type": "text/csv"},
                )
            assert r.status_code == 200, r.text
            ids.append(r.headers["X-Request-ID"])
            predictions.extend(r.json()["predictions"])
    log = read_inference_log(log_dir)
    assert len(log) == len(rows) == len(ids)  # N requests → N rows
    assert sorted(log["request_id"]) == sorted(ids)
    by_id = log.set_index("request_id").loc[ids]
    assert by_id["prediction"].tolist() == pytest.approx(predictions)
    assert by_id["production_volume"].tolist() == pytest.approx(
        rows["production_volume"].tolist(), nan_ok=True
    )
    assert (log["latency_ms"] > 0).all() and (log["model_name"] == "test-electricity").all()


def test_bad_requests_get_4xx_that_say_why(demo_project, rows, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with (
        ScoringServer(
            demo_project.model.model_uri,
            log_dir=tmp_path / "log",
            project_dir=demo_project.settings.project_dir,
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        r = client.post("/invocations", content="x", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415 and "text/plain" in r.json()["message"]
        r = client.post(
            "/invocations", content="{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
        r = client.post("/invocations", json={"wrong_key": []})
        assert r.status_code == 400 and "dataframe_split" in r.json()["message"]
        missing = rows.drop(columns="region").head(1)
        body = '{"dataframe_split": ' + missing.to_json(orient="split", index=False) + "}"
        r = client.post("/invocations", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "region" in r.json()["message"]
    assert read_inference_log(tmp_path / "log").empty  # failed requests are not logged as scored
