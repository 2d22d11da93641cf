"""What SECURITY.md promises, checked against the real thing: servers on loopback unless
told otherwise, the bearer token, models only from the registry or a run, Voilà's file
routes, and names that become paths."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pickle
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest

from workbench import ConfigurationError, ServingError
from workbench._cli import build_parser, main
from workbench._settings import resolve_settings
from workbench.serving._process import free_port

LOOPBACK = {"127.0.0.1", "::1"}


# ---------------------------------------------------------------- helpers


class _Armed:
    """Unpickling this creates ``marker``: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def _armed_model_folder(folder: Path, marker: Path) -> Path:
    """An MLflow model folder (sklearn flavor, pickle format) whose pickle creates
    ``marker`` when anything loads it."""
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(_Armed(marker)))
    (folder / "MLmodel").write_text(
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        "    model_path: model.pkl\n"
        "    python_version: 3.11.7\n"
        "  sklearn:\n"
        "    pickled_model: model.pkl\n"
        "    serialization_format: pickle\n"
        "    sklearn_version: 1.5.0\n"
    )
    return folder


def _listening(pid: int, *, children: bool = True) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket listening in the process (and its children)."""
    root = psutil.Process(pid)
    return _sockets([root, *root.children(recursive=True)] if children else [root])


def _sockets(processes: list[psutil.Process]) -> set[tuple[str, int]]:
    found = set()
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            for conn in process.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add((conn.laddr.ip, conn.laddr.port))
    return found


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer; the server said:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _raw_get(port: int, path: str, hops: int = 3) -> tuple[int, bytes, str]:
    """GET ``path`` exactly as written (no client normalises ``..`` or ``%2e``), following
    redirects the same way; the final status, body and path."""
    for _ in range(hops + 1):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        location = response.getheader("Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response.status, body, path
        path = location if location.startswith("/") else "/" + location.split("/", 3)[-1]
    return response.status, body, path


# ---------------------------------------------------------------- loopback by default


def test_lab_and_dashboard_bind_loopback_unless_a_host_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command lines `workbench lab` and `workbench dashboard` would run, read without
    running them (the dashboard is started for real in the slow test below, lab in
    tests/test_cli_servers.py)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    commands: list[list[str]] = []
    monkeypatch.setattr("workbench._cli._exec", lambda cmd, env: commands.append(cmd) or 0)
    # `dashboard` runs Voilà in its own process: its argv is read here
    monkeypatch.setattr("workbench._jupyter._voila.serve", lambda argv: commands.append(argv) or 0)
    for name in ("JUPYTER_PATH", "WORKBENCH_PROJECT_DIR"):  # set by `dashboard`: restored after
        monkeypatch.delenv(name, raising=False)
    project = ["--project-dir", str(tmp_path)]

    def option(command: list[str], prefix: str) -> list[str]:
        return [part for part in command if part.startswith(prefix)]

    assert main(["lab", "--no-browser", *project]) == 0
    assert main(["lab", "--no-browser", "--host", "0.0.0.0", *project]) == 0
    assert main(["dashboard", *project]) == 0
    assert main(["dashboard", "--host", "0.0.0.0", *project]) == 0
    monkeypatch.setenv("WORKBENCH_HOST", "10.1.2.3")  # told by the setting
    assert main(["lab", "--no-browser", *project]) == 0
    lab, lab_any, dash, dash_any, lab_setting = commands
    assert option(lab, "--ServerApp.ip=") == ["--ServerApp.ip=127.0.0.1"]
    assert option(lab_any, "--ServerApp.ip=") == ["--ServerApp.ip=0.0.0.0"]
    assert option(lab_setting, "--ServerApp.ip=") == ["--ServerApp.ip=10.1.2.3"]
    # JupyterLab keeps its own token: nothing on the command line turns it off
    assert not [p for p in lab + lab_any if "token" in p.lower() or "password" in p.lower()]
    assert option(dash, "--Voila.ip=") == ["--Voila.ip=127.0.0.1"]
    assert option(dash_any, "--Voila.ip=") == ["--Voila.ip=0.0.0.0"]
    for command in (dash, dash_any):  # no source cells, no tracebacks
        assert "--VoilaConfiguration.strip_sources=True" in command
        assert "--VoilaConfiguration.show_tracebacks=False" in command
    # `serve` has no host of its own: the setting's, 127.0.0.1 unless told
    assert build_parser().parse_args(["serve", "models:/m@champion"]).host is None
    assert resolve_settings(tmp_path, environ={}).host == "127.0.0.1"
    capsys.readouterr()


def test_settings_and_errors_show_service_urls_without_their_password(tmp_path: Path) -> None:
    from workbench._urls import redact_text

    settings = resolve_settings(
        tmp_path,
        environ={
            "WORKBENCH_TRACKING_URI": "https://ci:pw-one@mlflow.example:5000",
            "WORKBENCH_OPTUNA_STORAGE": "postgresql+psycopg2://optuna:pw-two@db:5432/optuna",
            "WORKBENCH_INFERENCE_LOG_DIR": "s3://key:pw-three@bucket/log",
        },
    )
    shown = repr(settings) + str(settings) + f"{settings}"
    assert "pw-" not in shown, shown
    assert "https://ci:***@mlflow.example:5000" in shown and "optuna:***@db" in shown
    assert settings.tracking_uri.endswith("pw-one@mlflow.example:5000")  # the value itself
    message = "API request to https://ci:pw-one@mlflow.example:5000/api/2.0/x failed"
    assert redact_text(message, settings.tracking_uri) == message.replace("pw-one", "***")
    encoded = "postgresql://u:p%40ss@db/x"  # the password "p@ss", percent-encoded
    assert redact_text("p@ss and p%40ss", encoded) == "*** and ***"


# ---------------------------------------------------------------- models only from the registry


def test_a_pickle_on_disk_is_never_loaded_by_the_scoring_server(tmp_path: Path) -> None:
    from workbench.serving import ScoringServer, create_app
    from workbench.serving._app import check_model_uri

    armed = tmp_path / "control.pkl"
    armed.write_bytes(pickle.dumps(_Armed(tmp_path / "control-marker")))
    pickle.loads(armed.read_bytes())  # the payload works: loading it leaves its marker
    assert (tmp_path / "control-marker").exists()

    marker = tmp_path / "pwned"
    folder = _armed_model_folder(tmp_path / "model", marker)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(tmp_path, environ={})
    uris = [
        str(folder / "model.pkl"),
        (folder / "model.pkl").as_uri(),
        str(folder),
        folder.as_uri(),
        "model/model.pkl",
        "s3://bucket/model",
        "http://127.0.0.1:1/model.pkl",
        "mlflow-artifacts:/model",
        f"runs:/0123456789abcdef/../../../../../../../..{folder}",
        "models:/../../model",
    ]
    for uri in uris:
        with pytest.raises(ServingError, match="registry or run URI") as refused:
            create_app(uri, settings=settings)
        assert repr(uri) in str(refused.value)
        with pytest.raises(ServingError, match="registry or run URI"):
            check_model_uri(uri, settings)
    # the whole `workbench serve` command, in its own process
    with pytest.raises(ServingError, match="registry or run URI"):
        ScoringServer(str(folder), log_dir=tmp_path / "log", project_dir=tmp_path).start()
    assert not marker.exists()
    assert not (tmp_path / ".workbench").exists()  # refused before MLflow was even opened


# ---------------------------------------------------------------- names that become paths


def test_names_that_become_paths_cannot_leave_their_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench._demo import find_app
    from workbench._init import init_project, project_names
    from workbench._notebooks import find_notebooks
    from workbench.data import ColumnContract, Contract, validate
    from workbench.features import Entity, FeatureStore, FeatureView, Source

    root = tmp_path / "project"
    (root / "apps").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n')
    for notebook in (
        root / "notebooks" / "01.ipynb",
        root / "apps" / "app.ipynb",
        tmp_path / "outside.ipynb",
    ):
        notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    bad = [
        "../outside",
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        ".",
        "",
        "a/../../b",
        "a\\..\\b",
        "x\0y",
    ]

    # `workbench dashboard APP`: an app is a notebook of apps/, never a path
    for name in bad:
        with pytest.raises(ConfigurationError, match="The app name must be one plain name") as e:
            find_app(name, root)
        assert repr(name) in str(e.value)
    assert find_app("app", root) == root / "apps" / "app.ipynb"
    monkeypatch.setattr("workbench._jupyter._voila.serve", lambda *a: pytest.fail("voila started"))
    assert main(["dashboard", "../outside", "--project-dir", str(root)]) == 2
    assert "The app name must be one plain name" in capsys.readouterr().err

    # `workbench run-notebooks --only GLOB`: globs pick among notebooks/ and apps/ only
    assert find_notebooks(root, ["../*", "/*", "../*.ipynb", "**/../*.ipynb", str(tmp_path)]) == []
    assert find_notebooks(root, ["*"]) == [
        root / "notebooks" / "01.ipynb",
        root / "apps" / "app.ipynb",
    ]
    assert main(["run-notebooks", "--only", "../outside.ipynb", "--project-dir", str(root)]) == 2
    capsys.readouterr()

    # `workbench init NAME`: the name is one folder name (a path is split off before)
    for name in ["../evil", "/tmp/evil", "a/b", ".."]:
        with pytest.raises(ConfigurationError, match="The project name must"):
            init_project(name, tmp_path / "parent")
    with pytest.raises(ConfigurationError, match="lower-case Python identifier"):
        project_names("ok", "../evil")
    assert not (tmp_path / "parent").exists() and not (tmp_path / "evil").exists()

    # feature views: names are letters, digits and '_', and only registered ones are read
    rows = pd.DataFrame({"k": [1], "t": pd.to_datetime(["2024-01-01"]), "v": [1.0]})
    with pytest.raises(ConfigurationError, match="letters, digits and '_'"):
        FeatureView("../escape", Entity("e", "k"), Source.frame(rows, "rows"), "t", features=["v"])
    settings = resolve_settings(root, environ={})
    store = FeatureStore(
        [FeatureView("ok", Entity("e", "k"), Source.frame(rows, "rows"), "t", features=["v"])],
        settings=settings,
    )
    for name in ["../escape", "/tmp/escape", "ok/../../escape"]:
        with pytest.raises(ConfigurationError):
            store.materialize(name, progress=False)
        with pytest.raises(ConfigurationError):
            store.materialize_online(name)
        with pytest.raises(ConfigurationError):
            store.get_historical_features(rows[["k", "t"]], [f"{name}:v"], progress=False)
    assert not (tmp_path / "escape").exists() and not Path("/tmp/escape").exists()

    # a model name becomes packages/<name>/ among the run's artifacts
    from sklearn.dummy import DummyRegressor

    from workbench.packaging import package_model

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]})
    model = DummyRegressor().fit(frame[["x"]], frame["y"])
    for name in ["../../escape", "a/b", "a:b", "..", "/abs"]:
        with pytest.raises(ConfigurationError, match="registered model name") as e:
            package_model(model, frame, name, target="y", progress=False, settings=settings)
        assert repr(name) in str(e.value)
    assert not settings.home.exists()  # refused before anything was logged

    # a contract's name becomes <name>_quarantine.csv
    contract = Contract((ColumnContract("x", "float", max=2.0),), name="../../escape")
    result = validate(frame[["x"]], contract, quarantine_dir=tmp_path / "q" / "r")
    assert result.quarantine_path is not None
    assert result.quarantine_path.parent == tmp_path / "q" / "r"
    assert not list(tmp_path.glob("escape*"))


# ---------------------------------------------------------------- slow: real servers


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    output: Path
    log_dir: Path
    token: str


@contextlib.contextmanager
def _serve(
    demo_project: Any, folder: Path, *extra: str, token: str | None = None
) -> Iterator[Served]:
    """`workbench serve` as a user types it: no --host unless ``extra`` gives one."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_SERVE_TOKEN"}
    if token:
        env["WORKBENCH_SERVE_TOKEN"] = token
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / "server.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "serve",
                demo_project.model.model_uri,
                "--port",
                str(port),
                "--log-dir",
                str(folder / "log"),
                "--project-dir",
                str(demo_project.settings.project_dir),
                *extra,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Served(f"http://127.0.0.1:{port}", port, process, output, folder / "log", token or "")
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def servers(
    demo_project: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, Served]]:
    """The demo champion served twice, started together: as typed (a token in the
    environment), and with ``--host 0.0.0.0``."""
    folder = tmp_path_factory.mktemp("security-serve")
    token = f"tok-{uuid.uuid4().hex}"
    with (
        _serve(demo_project, folder / "default", token=token) as default,
        _serve(demo_project, folder / "any", "--host", "0.0.0.0", "--no-log") as anywhere,
    ):
        _wait_for(default.url + "/ping", default.process, default.output)
        _wait_for(anywhere.url + "/ping", anywhere.process, anywhere.output)
        yield default, anywhere


@pytest.fixture(scope="module")
def rows(demo_project: Any) -> pd.DataFrame:
    from workbench.datasets import ELECTRICITY_FEATURES

    frame = pd.read_parquet(
        demo_project.settings.data_dir / "processed" / "electricity_features.parquet"
    )
    return frame[list(ELECTRICITY_FEATURES)].head(3).reset_index(drop=True)


@dataclass
class Dashboard:
    port: int
    process: subprocess.Popen[bytes]
    project: Path
    sentinel: bytes


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """`workbench dashboard probe` (defaults: loopback, a preheated kernel) on a project
    whose apps/ holds a tiny notebook, an allowed image, a helper module and data; and
    beside apps/ files it must never serve."""
    project = tmp_path_factory.mktemp("security-voila")
    sentinel = f"SENTINEL-{uuid.uuid4().hex}".encode()
    (project / "pyproject.toml").write_bytes(b'[project]\nname = "p"\n# ' + sentinel + b"\n")
    (project / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n" + sentinel)
    (project / "secret.svg").write_bytes(b"<svg>" + sentinel + b"</svg>")
    apps = project / "apps"
    apps.mkdir()
    (apps / "allowed.png").write_bytes(b"\x89PNG\r\n\x1a\nthe app's own image")
    (apps / "helper.py").write_bytes(b"# " + sentinel)
    (apps / "data.csv").write_bytes(b"a\n" + sentinel)
    (apps / "probe.ipynb").write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "metadata": {}, "source": ["# probe"]},
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": [f"hidden = {sentinel.decode()!r}[::-1]"],
                    },
                ],
                "metadata": {
                    "kernelspec": {
                        "name": "python3",
                        "display_name": "Python 3",
                        "language": "python",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    port = free_port()
    output = project / "voila.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "dashboard",
                "probe",
                "--port",
                str(port),
                "--project-dir",
                str(project),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/voila/files/allowed.png", process, output)
        yield Dashboard(port, process, project, sentinel)
    finally:
        _stop(process)


@pytest.mark.slow
def test_servers_listen_on_loopback_only_unless_told(
    servers: tuple[Served, Served], dashboard: Dashboard
) -> None:
    from workbench.tuning import local_cluster

    default, anywhere = servers
    listening = _listening(default.process.pid)
    assert ("127.0.0.1", default.port) in listening
    assert {address for address, _ in listening} <= LOOPBACK, listening
    assert _listening(anywhere.process.pid) == {("0.0.0.0", anywhere.port)}  # told: honoured
    # Voilà, with the kernel it preheats (ZMQ ports) and anything else it started
    deadline = time.monotonic() + 60
    while len(found := _listening(dashboard.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)  # the preheated kernel binds its channels
    assert ("127.0.0.1", dashboard.port) in found
    assert {address for address, _ in found} <= LOOPBACK and len(found) > 1, found
    # the Dask cluster tune starts: scheduler and dashboard (here), nanny and worker
    me = psutil.Process()
    others = {p.pid for p in me.children(recursive=True)}  # the servers above
    with local_cluster(n_workers=1) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
        workers = [p for p in me.children(recursive=True) if p.pid not in others]
        found = _sockets([me, *workers])
    assert workers and len(found) >= 4, found  # scheduler, dashboard, nanny, worker
    assert {address for address, _ in found} <= LOOPBACK, found


@pytest.mark.slow
def test_the_token_is_compared_whole_and_never_shown_or_logged(
    servers: tuple[Served, Served], rows: pd.DataFrame
) -> None:
    """Beyond tests/serving/test_server.py::test_token_size_limit_and_metrics (missing,
    short and scheme-less tokens refused, none echoed, the server's output clean)."""
    from workbench.serving import read_errors, read_inference_log

    served, _ = servers
    token = served.token
    body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    wrong = [
        "x" * len(token),  # same length
        token[:-1] + ("0" if token[-1] != "0" else "1"),  # one character off
        token[:-1],  # a prefix
        token + "x",  # longer
        token.upper(),
    ]
    before_errors = len(read_errors(served.log_dir)) if served.log_dir.exists() else 0
    with httpx.Client(base_url=served.url, timeout=60) as client:
        for candidate in wrong:
            for path in ("/invocations", "/metrics", "/version", "/actuals"):
                r = client.request(
                    "POST" if path in ("/invocations", "/actuals") else "GET",
                    path,
                    json=body,
                    headers={"Authorization": f"Bearer {candidate}"},
                )
                assert r.status_code == 401, (candidate, path, r.status_code)
        for elsewhere in (
            {"params": {"token": token}},  # in the query string
            {"headers": {"Authorization": f"Basic {token}"}},
            {"headers": {"X-Token": token}},
            {"headers": {"Cookie": f"token={token}"}},
        ):
            r = client.post("/invocations", json=body, **elsewhere)  # type: ignore[arg-type]
            assert r.status_code == 401, elsewhere
        auth = {"Authorization": f"Bearer {token}"}
        ok = client.post("/invocations", json=body, headers=auth)
        assert ok.status_code == 200
        bad = client.post("/invocations", json={"nope": 1}, headers=auth)
        assert bad.status_code == 400
        shown = [
            (r.url.path, r.text, str(r.headers))
            for r in (
                ok,
                bad,
                client.get("/metrics", headers=auth),
                client.get("/version", headers=auth),
                client.get("/health"),
                client.get("/openapi.json", headers=auth),
            )
        ]
    for path, text, headers in shown:
        assert token not in text and token not in headers, path
    # the inference log, its error log and journal, and the server's output: the token
    # and every wrong one tried are nowhere
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        ok.headers["X-Request-ID"] in set(read_inference_log(served.log_dir)["request_id"])
        and len(read_errors(served.log_dir)) > before_errors
    ):
        time.sleep(0.3)
    files = [p for p in served.log_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("segment-") for p in files), files
    for file in [*files, served.output]:
        content = file.read_bytes()
        for secret in (token, *wrong):
            assert secret.encode() not in content, (file, secret == token)


@pytest.mark.slow
def test_a_request_cannot_choose_or_load_a_model(
    servers: tuple[Served, Served], rows: pd.DataFrame, tmp_path: Path
) -> None:
    served, _ = servers
    marker = tmp_path / "pwned"
    folder = _armed_model_folder(tmp_path / "model", marker)
    pkl = folder / "model.pkl"
    auth = {"Authorization": f"Bearer {served.token}"}
    split = json.loads(rows.to_json(orient="split", index=False))
    with httpx.Client(base_url=served.url, timeout=60, headers=auth) as client:
        version = client.get("/version").json()
        baseline = client.post("/invocations", json={"dataframe_split": split}).json()
        refused = [
            {"dataframe_split": split, "model_uri": str(folder)},
            {"dataframe_split": split, "model": pkl.as_uri()},
            {"model_uri": folder.as_uri()},
            {"dataframe_split": split, "path": str(pkl)},
        ]
        for payload in refused:
            r = client.post("/invocations", json=payload)
            assert r.status_code == 400 and "exactly one of" in r.json()["message"], payload
        ignored = [  # answered by the served model, as if the extra were not there
            client.post(
                "/invocations",
                json={
                    "dataframe_split": split,
                    "params": {"model_uri": str(folder), "path": str(pkl)},
                },
            ),
            client.post(
                "/invocations",
                json={"dataframe_split": split},
                params={"model_uri": folder.as_uri(), "path": str(pkl)},
            ),
            client.post(
                "/invocations",
                json={"dataframe_split": split},
                headers={"X-Model-URI": str(folder), "MLflow-Model-URI": str(folder)},
            ),
        ]
        for r in ignored:
            assert r.status_code in (200, 400), r.text
            if r.status_code == 200:
                assert r.json() == baseline
        r = client.post(
            "/invocations",
            content=pkl.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 415  # a pickle is not an input format
        for method, path in [
            ("POST", "/load"),
            ("POST", "/reload"),
            ("POST", "/models"),
            ("PUT", "/invocations"),
            ("POST", "/version"),
            ("POST", "/invocations/../load"),
        ]:
            r = client.request(method, path, json={"model_uri": str(folder)})
            assert r.status_code in (404, 405), (method, path, r.status_code)
        assert client.get("/version").json() == version
    assert not marker.exists()


@pytest.mark.slow
def test_voila_serves_no_file_outside_its_allowed_static_files(dashboard: Dashboard) -> None:
    """Traversal against every file route of the Voilà server `workbench dashboard`
    runs (tests/apps/test_dashboard_browser.py checks the kernel, contents and terminal
    APIs and that no source reaches the page)."""
    port, sentinel = dashboard.port, dashboard.sentinel
    status, body, _ = _raw_get(port, "/voila/files/allowed.png")
    assert status == 200 and body.endswith(b"the app's own image")  # the route works
    probes = [
        # the app's own folder: source, modules and data are not static files
        "/voila/files/probe.ipynb",
        "/voila/files/helper.py",
        "/voila/files/data.csv",
        "/probe.ipynb",
        "/helper.py",
        # out of apps/, to an allowed type and to any file
        "/voila/files/../secret.png",
        "/voila/files/../secret.svg",
        "/voila/files/%2e%2e/secret.png",
        "/voila/files/..%2fsecret.png",
        "/voila/files/%2e%2e%2fsecret.png",
        "/voila/files/..%5csecret.png",
        "/voila/files/....//secret.png",
        "/voila/files/.%2e/secret.png",
        "/voila/files/../pyproject.toml",
        "/voila/files/%2e%2e/pyproject.toml",
        "/voila/files/" + str(dashboard.project / "secret.png"),
        "/voila/files/%2F" + str(dashboard.project / "secret.png").lstrip("/"),
        "/voila/files//etc/passwd",
        "/voila/files/../../../../../../etc/passwd",
        "/files/../pyproject.toml",
        "/files/../secret.png",
        "/../pyproject.toml",
        "/..%2fsecret.png",
        "/%2e%2e/secret.png",
        "/voila/render/../../etc/passwd",
        "/voila/render/%2e%2e/secret.png",
        "/voila/tree/..",
        "/voila/api/contents/..",
        # the template, static and extension file routes
        "/voila/static/../../pyproject.toml",
        "/voila/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/voila/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/voila/templates/../../../../../../../etc/passwd",
        "/voila/templates/workbench/static/../../../../../../../../../etc/passwd",
        "/voila/templates/workbench/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/voila/templates/..%2f..%2f..%2f..%2f..%2f..%2fetc/static/passwd",
        "/voila/labextensions/../../../../../../etc/passwd",
        "/voila/labextensions/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/voila/api/themes/../../../../../../etc/passwd",
        "/voila/api/themes/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/../../../../../../etc/passwd",
    ]
    passwd = Path("/etc/passwd").read_bytes()[:64]
    refused = {}
    for path in probes:
        status, body, final = _raw_get(port, path)
        assert sentinel not in body and passwd not in body, (path, status, final)
        refused[path] = status
    # nothing answered with a file: refused (403: outside the folder or not an allowed
    # type), absent (404), or Voilà's template route failing on the odd path (500)
    assert all(status in (403, 404, 500) for status in refused.values()), refused
    assert list(refused.values()).count(403) >= 20, refused  # its checks did the refusing
    assert sentinel not in Path(dashboard.project / "voila.out").read_bytes()


def _kernel_message(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "visitor",
            "session": uuid.uuid4().hex,
            "date": "2024-01-01T00:00:00Z",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


@pytest.mark.slow
def test_voila_kernels_take_no_code_from_the_page(dashboard: Dashboard, tmp_path: Path) -> None:
    """A visitor gets the id of the page's kernel and its websocket (widgets need it);
    what the websocket passes on is widget traffic, never code to run."""
    import asyncio
    import re

    from tornado.websocket import websocket_connect

    page = httpx.get(f"http://127.0.0.1:{dashboard.port}/", timeout=120)
    assert page.status_code == 200 and dashboard.sentinel not in page.content  # no source
    found = re.search(r'"kernelId": "([0-9a-f-]{36})"', page.text)
    assert found, "no kernel id on the page"
    marker = tmp_path / "executed"
    execute = _kernel_message(
        "execute_request",
        {
            "code": f"open({str(marker)!r}, 'w').close()",
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    )
    inspect = _kernel_message("inspect_request", {"code": "open", "cursor_pos": 4})
    info = _kernel_message("kernel_info_request", {})

    async def talk() -> list[dict[str, Any]]:
        url = f"ws://127.0.0.1:{dashboard.port}/api/kernels/{found.group(1)}/channels"
        connection = await websocket_connect(url)
        seen: list[dict[str, Any]] = []
        try:
            for message in (execute, inspect, info):  # the kernel answers in this order
                await connection.write_message(json.dumps(message))
            while True:
                raw = await asyncio.wait_for(connection.read_message(), 60)
                assert raw is not None, "the websocket closed"
                seen.append(json.loads(raw))
                if seen[-1]["parent_header"].get("msg_id") == info["header"]["msg_id"] and (
                    seen[-1]["msg_type"] == "kernel_info_reply"
                ):
                    return seen
        finally:
            connection.close()

    seen = asyncio.run(talk())
    answered = {m["parent_header"].get("msg_id") for m in seen}
    assert info["header"]["msg_id"] in answered  # the channel works...
    assert execute["header"]["msg_id"] not in answered  # ...and code never reached it
    assert inspect["header"]["msg_id"] not in answered
    assert not marker.exists()


@pytest.mark.parametrize("first", ["workbench", "mlflow"])
def test_mlflow_sends_no_telemetry_unless_the_user_asks(first: str, tmp_path: Path) -> None:
    """MLflow 3 starts a telemetry client at import that reports usage to its maintainers;
    under the workbench it is off whichever is imported first, and a user's own
    ``MLFLOW_DISABLE_TELEMETRY=false`` is respected."""
    code = (
        f"import {first}\n"
        "import mlflow, workbench\n"
        "from workbench._tracking import mlflow_for\n"
        "from mlflow.telemetry import get_telemetry_client\n"
        "mlflow_for()\n"
        "print(get_telemetry_client() is None)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "CI")}
    env = {k: v for k, v in env.items() if k != "DO_NOT_TRACK" and "PYTEST" not in k}
    env["WORKBENCH_PROJECT_DIR"] = str(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"
