"""Hostile requests over real HTTP against a real ``workbench serve`` (issue 21): each
refused with the status a client can act on, none able to bend ``/metrics``, and none
able to hold the event loop."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pandas as pd
import pytest

from workbench.serving import ScoringServer, read_actuals
from workbench.serving._log import write_segment

from .conftest import own_settings

pytestmark = pytest.mark.slow

TOKEN = "hostile-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_TYPE = {"Content-Type": "application/json"}
ONE_ROW = {"dataframe_split": {"columns": ["x", "region"], "data": [[1.0, "a"]]}}


class Served(NamedTuple):
    server: ScoringServer
    project: Path
    log_dir: Path


@pytest.fixture(scope="module")
def project(tiny_project: Path) -> Path:
    return tiny_project


@pytest.fixture(scope="module")
def served(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module: a token, and 10 KiB bodies at most."""
    log_dir = tmp_path_factory.mktemp("hostile") / "log"
    server = ScoringServer(
        "models:/tiny@champion",
        log_dir=log_dir,
        project_dir=project,
        token=TOKEN,
        max_body_mb=0.01,
    )
    with own_settings():
        server.start()
    try:
        yield Served(server, project, log_dir)
    finally:
        server.stop()


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.server.url, timeout=60) as own:
        yield own


def _predict(client: httpx.Client) -> str:
    r = client.post("/invocations", json=ONE_ROW, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.headers["X-Request-ID"]


def _chunks(text: str, size: int = 4096) -> Iterator[bytes]:
    """A body sent in chunks, without a Content-Length."""
    data = text.encode()
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_duplicate_split_columns_are_refused_like_mlflow(
    served: Served, client: httpx.Client
) -> None:
    import mlflow
    from mlflow.pyfunc.scoring_server import infer_and_parse_data

    from workbench._settings import resolve_settings

    twice = {"dataframe_split": {"columns": ["x", "region", "x"], "data": [[1.0, "a", 2.0]]}}
    r = client.post("/invocations", json=twice, headers=AUTH)
    assert r.status_code == 400, r.text
    assert "['x'] more than once" in r.json()["message"]
    # MLflow's scoring path refuses the same body (at schema enforcement)
    # the registry named too: MLflow takes it from its process-wide default otherwise,
    # which whatever ran before in this process may have pointed elsewhere
    uri = resolve_settings(served.project).tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("tiny", "champion").version
    model = mlflow.pyfunc.load_model(client.get_model_version_download_uri("tiny", version))
    frame = infer_and_parse_data(twice, model.metadata.get_input_schema())
    with pytest.raises(mlflow.exceptions.MlflowException):
        model.predict(frame)


def test_metrics_labels_cannot_be_injected_or_multiplied(client: httpx.Client) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    hostile = "/x%22%7D%201%0Afake_metric%7Ba%3D%22b"  # decodes to: /x"} 1\nfake_metric{a="b
    assert client.get(hostile).status_code == 401  # no token: still counted
    assert client.get(hostile, headers=AUTH).status_code == 404
    for i in range(300):
        assert client.get(f"/nope-{i}", headers=AUTH).status_code == 404
    text = client.get("/metrics", headers=AUTH).text
    assert not [line for line in text.splitlines() if "fake_metric" in line]
    families = list(text_string_to_metric_families(text))  # Prometheus' own parser reads it
    assert {f.name for f in families} == {
        "workbench_requests",
        "workbench_request_errors",
        "workbench_predicted_rows",
        "workbench_request_latency_seconds",
    }
    requests = next(f for f in families if f.name == "workbench_requests")
    paths = {s.labels["path"] for s in requests.samples}
    assert "(other)" in paths and all(p == "(other)" or p.startswith("/") for p in paths)
    assert len(requests.samples) < 20  # 301 unknown paths: one series for 404, one for 401
    other = {s.labels["status"]: s.value for s in requests.samples if s.labels["path"] == "(other)"}
    assert other["404"] >= 301 and other["401"] >= 1


def test_metrics_escape_every_label_value() -> None:
    """A model name or version with quotes, backslashes and newlines stays one label."""
    from prometheus_client.parser import text_string_to_metric_families

    from workbench.serving._metrics import Metrics

    metrics = Metrics(frozenset({"/invocations"}))
    metrics.observe("/invocations", 200, 0.002, rows=3)
    metrics.observe('/x"}\n', 404, 0.001)
    name = 'odd "name" \\ with\nnewline'
    text = metrics.render(name, 'v"1')
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = families["workbench_requests"].samples
    assert {(s.labels["model"], s.labels["version"], s.labels["path"]) for s in samples} == {
        (name, 'v"1', "/invocations"),
        (name, 'v"1', "(other)"),
    }
    assert families["workbench_predicted_rows"].samples[0].value == 3


def test_streamed_bodies_over_the_limit_get_413_on_every_body_path(
    client: httpx.Client,
) -> None:
    many = json.dumps({"actuals": [{"request_id": f"r{i}", "actual": 1.0} for i in range(2000)]})
    csv = "x,region\n" + "1.0,a\n" * 3000
    split = json.dumps(
        {"dataframe_split": {"columns": ["x", "region"], "data": [[1.0, "a"]] * 2000}}
    )
    for path, text, kind in (
        ("/actuals", many, "application/json"),
        ("/invocations", csv, "text/csv"),
        ("/invocations", split, "application/json"),
    ):
        assert len(text) > 10 * 1024
        r = client.post(path, content=_chunks(text), headers={"Content-Type": kind, **AUTH})
        assert r.status_code == 413, (path, kind, r.status_code, r.text[:200])
        assert "more than 10,485 bytes" in r.json()["message"]
        declared = client.post(path, content=text, headers={"Content-Type": kind, **AUTH})
        assert declared.status_code == 413  # and with a Content-Length, before any is read
    assert client.get("/ping").status_code == 200  # still serving


def test_the_bearer_scheme_is_matched_in_any_case(client: httpx.Client) -> None:
    request_id = _predict(client)
    for header in (f"bearer {TOKEN}", f"BEARER {TOKEN}", f"Bearer  {TOKEN}", f"bEaReR {TOKEN}"):
        auth = {"Authorization": header}
        r = client.post("/invocations", json=ONE_ROW, headers=auth)
        assert r.status_code == 200, (header, r.text)
        assert client.get("/metrics", headers=auth).status_code == 200
        truth = {"actuals": [{"request_id": request_id, "actual": 2.0}]}
        assert client.post("/actuals", json=truth, headers=auth).status_code == 200
    for header in (f"bearer {TOKEN.upper()}", f"Basic {TOKEN}", f"bearer{TOKEN}", TOKEN):
        auth = {"Authorization": header}  # the token itself stays case-sensitive
        assert client.post("/invocations", json=ONE_ROW, headers=auth).status_code == 401
        assert client.get("/metrics", headers=auth).status_code == 401


def test_an_encoded_body_gets_415_naming_the_encoding(client: httpx.Client) -> None:
    request_id = _predict(client)
    bodies = {
        "/invocations": ONE_ROW,
        "/actuals": {"actuals": [{"request_id": request_id, "actual": 1.0}]},
    }
    for path, payload in bodies.items():
        packed = gzip.compress(json.dumps(payload).encode())
        for coding in ("gzip", "GZIP", "br", "deflate, gzip"):
            r = client.post(
                path,
                content=packed,
                headers={**JSON_TYPE, **AUTH, "Content-Encoding": coding},
            )
            assert r.status_code == 415, (path, coding, r.text)
            assert f"Content-Encoding {coding!r} is not supported" in r.json()["message"]
        plain = client.post(path, json=payload, headers={**AUTH, "Content-Encoding": "identity"})
        assert plain.status_code == 200, plain.text
    r = client.post("/actuals", content=b"{}", headers={"Content-Type": "text/plain", **AUTH})
    assert r.status_code == 415 and "text/plain" in r.json()["message"]


def test_actuals_must_be_finite_and_once_per_row(served: Served, client: httpx.Client) -> None:
    request_id = _predict(client)
    before = len(read_actuals(served.log_dir))
    for literal in ("Infinity", "-Infinity", "1e999"):
        body = f'{{"actuals": [{{"request_id": "{request_id}", "actual": {literal}}}]}}'
        r = client.post("/actuals", content=body, headers={**JSON_TYPE, **AUTH})
        assert r.status_code == 400, (literal, r.text)
        assert "must be a finite number" in r.json()["message"], r.text
    twice = [{"request_id": request_id, "actual": 1.0}, {"request_id": request_id, "actual": 2.0}]
    r = client.post("/actuals", json={"actuals": twice}, headers=AUTH)
    assert r.status_code == 400 and "both for request id" in r.json()["message"]
    duplicate_key = f'{{"actuals": [{{"request_id": "{request_id}", "actual": 1, "actual": 2}}]}}'
    r = client.post("/actuals", content=duplicate_key, headers={**JSON_TYPE, **AUTH})
    assert r.status_code == 400 and "['actual'] twice" in r.json()["message"]
    assert len(read_actuals(served.log_dir)) == before  # nothing was recorded


def test_actuals_know_every_logged_request_and_never_hold_the_event_loop(
    project: Path, tmp_path: Path
) -> None:
    """The server indexes the log once: requests logged before it started, by itself and
    by another writer on the folder afterwards are all found. Reading a large segment
    (written by that other writer) happens off the event loop: predictions are answered
    meanwhile."""
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    earlier = pd.DataFrame(
        {"x": [1.0, 2.0], "request_id": ["before-start", "before-start"], "row_in_request": [0, 1]}
    )
    write_segment(earlier, log_dir, "segment")
    with (
        ScoringServer("models:/tiny@champion", log_dir=log_dir, project_dir=project) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        ours = client.post("/invocations", json=ONE_ROW).headers["X-Request-ID"]
        n = 400_000  # another writer's segment: a moment to index
        big = pd.DataFrame(
            {"request_id": [f"other-{i:08d}" for i in range(n)], "row_in_request": 0}
        )
        write_segment(big, log_dir, "segment")
        answered: list[int] = []
        status: dict[str, int] = {}

        def post_actuals() -> None:
            truth = [
                {"request_id": "before-start", "row": 1, "actual": 1.0},
                {"request_id": ours, "actual": 2.0},
                {"request_id": f"other-{n - 1:08d}", "actual": 3.0},  # only in the new one
            ]
            r = client.post("/actuals", json={"actuals": truth})
            status["actuals"] = r.status_code
            status["predictions meanwhile"] = len(answered)

        sender = threading.Thread(target=post_actuals)
        with httpx.Client(base_url=server.url, timeout=60) as other:
            other.get("/ping")  # connected before /actuals is sent
            sender.start()
            while sender.is_alive():
                answered.append(other.post("/invocations", json=ONE_ROW).status_code)
        sender.join()
        assert status["actuals"] == 200, status
        # answered while /actuals read the new segment (held on the event loop: 0 or 1)
        assert status["predictions meanwhile"] >= 3, status
        assert set(answered) == {200}
        unknown = client.post(
            "/actuals", json={"actuals": [{"request_id": "before-start", "row": 2, "actual": 1}]}
        )
        assert unknown.status_code == 400 and "before-start#2" in unknown.json()["message"]
    assert sorted(read_actuals(log_dir)["request_id"]) == sorted(
        ["before-start", ours, f"other-{n - 1:08d}"]
    )
