"""The scoring server over real HTTP, serving the demo project's champion."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest

from workbench.datasets import ELECTRICITY_FEATURES
from workbench.serving import ScoringServer, join_actuals, read_errors, read_inference_log

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows(demo_project) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    frame = pd.read_parquet(
        demo_project.settings.data_dir / "processed" / "electricity_features.parquet"
    )
    return frame[list(ELECTRICITY_FEATURES)].head(40).reset_index(drop=True)


def demo_server(demo_project, tmp_path: Path, **options: object) -> ScoringServer:  # type: ignore[no-untyped-def]
    """The demo project's champion, logging to ``tmp_path/log``."""
    return ScoringServer(
        demo_project.model.model_uri,
        log_dir=tmp_path / "log",
        project_dir=demo_project.settings.project_dir,
        **options,  # type: ignore[arg-type]
    )


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
            "reloads": 0,
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
        demo_server(
            demo_project,
            tmp_path,
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
    errors = read_errors(tmp_path / "log")  # ...but as errors, for monitoring to count
    assert errors["status"].tolist() == [415, 400, 400, 400]
    assert "region" in errors["message"].iloc[-1] and errors["request_id"].is_unique


def test_token_size_limit_and_metrics(demo_project, rows, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = "s3cret-token-for-the-test"
    one = '{"dataframe_split": ' + rows.head(3).to_json(orient="split", index=False) + "}"
    json_type = {"Content-Type": "application/json"}
    with (
        demo_server(
            demo_project,
            tmp_path,
            token=token,
            max_body_mb=0.01,  # 10 KiB
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        # probes stay open; everything else needs the token
        assert client.get("/ping").status_code == 200
        assert client.get("/health").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            r = client.post("/invocations", content=one, headers={**json_type, **headers})
            assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
            assert token not in r.text
        assert client.get("/metrics").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        ok = client.post("/invocations", content=one, headers={**json_type, **auth})
        assert ok.status_code == 200 and len(ok.json()["predictions"]) == 3
        # ground truth arrives later, by request id and row
        request_id = ok.headers["X-Request-ID"]
        truth = [{"request_id": request_id, "row": i, "actual": 100.0 + i} for i in range(3)]
        recorded = client.post("/actuals", json={"actuals": truth}, headers=auth)
        assert recorded.status_code == 200 and recorded.json() == {"recorded": 3}
        stray = client.post(
            "/actuals", json={"actuals": [{"request_id": "nope", "actual": 1}]}, headers=auth
        )
        assert stray.status_code == 400 and "nope#0" in stray.json()["message"]
        assert (
            client.post("/actuals", json={"actuals": [{"actual": 1}]}, headers=auth).json()[
                "message"
            ]
            == "actuals[0] needs a 'request_id' and an 'actual'."
        )
        # a body over the limit: 413 before it is parsed, with or without Content-Length
        big = '{"dataframe_split": ' + pd.concat([rows] * 20).to_json(orient="split") + "}"
        r = client.post("/invocations", content=big, headers={**json_type, **auth})
        assert r.status_code == 413 and "at most 10,485" in r.json()["message"]
        chunked = client.post(
            "/invocations",
            content=(part.encode() for part in (big[:5000], big[5000:])),
            headers={**json_type, **auth},
        )
        assert chunked.status_code == 413
        text = client.get("/metrics", headers=auth).text
    assert 'path="/invocations",status="200"} 1' in text
    assert 'path="/invocations",status="401"} 3' in text
    assert 'path="/invocations",status="413"} 2' in text
    assert "workbench_predicted_rows_total" in text and "} 3\n" in text
    assert 'workbench_request_latency_seconds_count{model="test-electricity"' in text
    log = read_inference_log(tmp_path / "log")
    assert len(log) == 3  # only the accepted request was logged
    joined = join_actuals(log, tmp_path / "log")
    assert joined["actual"].tolist() == [100.0, 101.0, 102.0]
    server_output = (tmp_path / f"server-{server.port}.log").read_text()
    assert token not in server_output


def _champion_maker(tmp_path: Path, name: str) -> tuple[Path, Callable[[float], None]]:
    """A project, and a function that registers a constant model as ``name@champion``."""
    import numpy as np
    from sklearn.dummy import DummyRegressor

    from workbench._settings import resolve_settings
    from workbench.packaging import package_model, promote

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(project)
    frame = pd.DataFrame({"x": np.arange(30.0), "y": np.arange(30.0)})

    def version(constant: float) -> None:
        model = DummyRegressor(strategy="constant", constant=constant).fit(frame[["x"]], frame["y"])
        package_model(
            model, frame, name, target="y", measure_cost=False, progress=False, settings=settings
        )
        promote(name, frame, target="y", force=True, settings=settings)

    return project, version


def test_the_server_follows_its_alias_without_dropping_requests(tmp_path: Path) -> None:
    import threading

    project, version = _champion_maker(tmp_path, "moving")
    version(1.0)
    body = '{"dataframe_split": {"columns": ["x"], "data": [[0.0]]}}'
    answers: list[tuple[int, float]] = []
    done = threading.Event()
    with (
        ScoringServer(
            "models:/moving@champion",
            log_dir=tmp_path / "log",
            project_dir=project,
            reload_seconds=0.5,
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):

        def traffic() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as own:
                while not done.is_set():
                    r = own.post(
                        "/invocations", content=body, headers={"Content-Type": "application/json"}
                    )
                    value = r.json()["predictions"][0] if r.status_code == 200 else float("nan")
                    answers.append((r.status_code, value))

        sender = threading.Thread(target=traffic)
        sender.start()
        try:
            time.sleep(1.0)
            version(2.0)  # @champion moves to version 2
            deadline = time.monotonic() + 60
            while client.get("/health").json()["model_version"] != "2":
                assert time.monotonic() < deadline, "the server never followed the alias"
                time.sleep(0.2)
            time.sleep(1.0)
        finally:
            done.set()
            sender.join()
        health = client.get("/health").json()
    assert health["reloads"] == 1
    assert answers and all(status == 200 for status, _ in answers)  # none dropped
    values = [v for _, v in answers]
    assert values[0] == 1.0 and values[-1] == 2.0
    switch = values.index(2.0)
    assert set(values[:switch]) == {1.0} and set(values[switch:]) == {2.0}
    log = read_inference_log(tmp_path / "log")
    assert len(log) == len(answers)  # every answered request is in the log...
    assert set(log["model_version"]) == {"1", "2"}  # ...under the version that answered it


def test_sighup_makes_the_server_check_its_alias_at_once(tmp_path: Path) -> None:
    import signal

    project, version = _champion_maker(tmp_path, "hup")
    version(1.0)
    body = {"dataframe_records": [{"x": 1.0}]}
    with (
        ScoringServer(
            "models:/hup@champion", log_dir=tmp_path / "log", project_dir=project, reload_seconds=0
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert client.post("/invocations", json=body).json()["predictions"] == [1.0]
        version(2.0)
        time.sleep(1.5)  # no polling: still version 1
        assert client.get("/health").json()["model_version"] == "1"
        assert server.process is not None
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while client.get("/health").json()["model_version"] != "2":
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.2)
        assert client.post("/invocations", json=body).json()["predictions"] == [2.0]


def test_personal_columns_are_masked_in_the_inference_log(tmp_path: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from workbench._secrets import pseudonym_key
    from workbench._settings import resolve_settings
    from workbench.data import ColumnContract, Contract
    from workbench.data._mask import mask_value
    from workbench.packaging import package_model

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(project)
    people = pd.DataFrame(
        {"customer": ["Mario Rossi", "Anna Bianchi"] * 20, "kwh": [float(i) for i in range(40)]}
    )
    people["bill"] = people["kwh"] * 0.3
    contract = Contract(
        columns=[
            ColumnContract("customer", "str", pii=True),
            ColumnContract("kwh", "float"),
            ColumnContract("bill", "float"),
        ]
    )
    encode = ColumnTransformer(
        [("who", OneHotEncoder(handle_unknown="ignore"), ["customer"])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("model", Ridge())]).fit(
        people[["customer", "kwh"]], people["bill"]
    )
    package_model(
        model, people, "bills", target="bill", contract=contract, progress=False, settings=settings
    )
    body = (
        '{"dataframe_split": '
        + people[["customer", "kwh"]].head(2).to_json(orient="split", index=False)
        + "}"
    )
    with (
        ScoringServer(
            "models:/bills@challenger", log_dir=tmp_path / "log", project_dir=project
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        r = client.post("/invocations", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 200
        refused = {"dataframe_records": [{"customer": "Mario Rossi", "kwh": "Luigi Verdi"}]}
        r = client.post("/invocations", json=refused)
        assert r.status_code == 400 and "Luigi Verdi" in r.json()["message"]  # the sender's
    log = read_inference_log(tmp_path / "log")
    # keyed pseudonyms: the server's process read the project's key, as this one does
    key = pseudonym_key(settings)
    masked = [mask_value("Mario Rossi", key=key), mask_value("Anna Bianchi", key=key)]
    assert log["customer"].tolist() == masked
    raw = b"".join(p.read_bytes() for p in (tmp_path / "log").rglob("*.parquet"))
    assert b"Mario" not in raw and b"Anna" not in raw and b"Luigi" not in raw
    errors = read_errors(tmp_path / "log")
    assert errors["status"].tolist() == [400]
    assert "column 'kwh', row 0" in errors["message"].iloc[0]  # where, not what


def test_every_acknowledged_request_is_logged_under_load_and_across_shutdown(  # type: ignore[no-untyped-def]
    demo_project, rows, tmp_path: Path
) -> None:
    """32 clients keep sending until SIGTERM: each 200 is in the log, with all its rows."""
    import threading

    log_dir = tmp_path / "log"
    server = ScoringServer(
        demo_project.model.model_uri,
        log_dir=log_dir,
        project_dir=demo_project.settings.project_dir,
    ).start()
    acknowledged: dict[str, int] = {}
    refused: list[int] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        size = 1 + k % 3  # 1, 2 or 3 rows a request
        part = rows.iloc[k % 30 : k % 30 + size]
        body = '{"dataframe_split": ' + part.to_json(orient="split", index=False) + "}"
        with httpx.Client(base_url=server.url, timeout=60) as own:
            while True:
                try:
                    r = own.post(
                        "/invocations", content=body, headers={"Content-Type": "application/json"}
                    )
                except httpx.HTTPError:  # the server has stopped taking requests
                    return
                with lock:
                    if r.status_code == 200:
                        acknowledged[r.headers["X-Request-ID"]] = len(r.json()["predictions"])
                    else:
                        refused.append(r.status_code)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(32)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        code = server.stop()  # SIGTERM while 32 clients are sending
        for t in threads:
            t.join(timeout=60)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught (exit -15)
    assert code in (0, -15), server.output()
    assert "Traceback" not in server.output()
    assert refused == [] and len(acknowledged) >= 300
    log = read_inference_log(log_dir)
    per_request = log.groupby("request_id").size().to_dict()
    assert per_request == acknowledged  # exactly once: every 200, every row, nothing else


def test_fuzzing_from_the_openapi_document_finds_no_server_error(  # type: ignore[no-untyped-def]
    demo_project, tmp_path: Path
) -> None:
    import subprocess
    import sys

    token = "fuzz-token"
    auth = {"Authorization": f"Bearer {token}"}
    with (
        demo_server(
            demo_project,
            tmp_path,
            token=token,
        ) as server,
        httpx.Client(base_url=server.url, timeout=30, headers=auth) as client,
    ):
        document = client.get("/openapi.json").json()
        body = document["paths"]["/invocations"]["post"]["requestBody"]["content"]
        record = body["application/json"]["schema"]["anyOf"][1]["properties"]
        columns = record["dataframe_records"]["items"]["properties"]
        assert set(columns) == set(ELECTRICITY_FEATURES)  # the signature, field by field
        schema_file = tmp_path / "openapi.json"
        schema_file.write_text(json.dumps(document))
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                *("run", str(schema_file), "--url", server.url),
                *("--checks", "not_a_server_error", "--max-examples", "30", "--seed", "8"),
                *("--generation-database", "none", "--workers", "1", "--no-color"),
                *("--request-timeout", "30", "-H", f"Authorization: Bearer {token}"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,  # its cache folder goes there, not into the checkout
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        metrics = client.get("/metrics").text
    answered = {
        line.split('status="')[1][:3]: int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("workbench_requests_total") and 'path="/invocations"' in line
    }
    # the fuzzer reached the model (some 200s) and was refused with 4xx, never a 5xx
    assert answered.get("200", 0) > 0 and answered.get("400", 0) > 0
    assert not any(code.startswith("5") for code in answered)
