"""What SECURITY.md promises, checked against the real thing: servers on loopback unless
told otherwise, the bearer token, models only from the registry or a run, Voilà's file
routes, and names that become paths."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
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


# ---------------------------------------------------------------- the page itself


def test_every_test_that_security_md_names_exists() -> None:
    """Each promise names the test that proves it: each named test is there."""
    import re

    root = Path(__file__).resolve().parents[1]
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", (root / "SECURITY.md").read_text())
    assert len(named) >= 30, named
    missing = [
        f"{path}::{test}"
        for path, test in named
        if not re.search(rf"^def {test}\(", (root / path).read_text(), re.MULTILINE)
    ]
    assert missing == []


# ---------------------------------------------------------------- loopback by default


def test_lab_and_dashboard_bind_loopback_unless_a_host_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command lines `workbench lab` and `workbench dashboard` would run, read without
    running them (the dashboard is started for real in the slow test below, lab in
    tests/test_cli_servers.py)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    commands: list[list[str]] = []
    monkeypatch.setattr("workbench._cli._lab._exec", lambda cmd, env: commands.append(cmd) or 0)
    # `dashboard` runs Voilà in its own process: its argv is read here
    monkeypatch.setattr(
        "workbench._jupyter._voila.serve", lambda argv, **_: commands.append(argv) or 0
    )
    for name in ("JUPYTER_PATH", "WORKBENCH_PROJECT_DIR"):  # set by `dashboard`: restored after
        monkeypatch.delenv(name, raising=False)
    project = ["--project-dir", str(tmp_path)]

    def option(command: list[str], prefix: str) -> list[str]:
        return [part for part in command if part.startswith(prefix)]

    assert main(["lab", "--no-browser", *project]) == 0
    assert main(["lab", "--no-browser", "--host", "0.0.0.0", *project]) == 0
    assert main(["dashboard", *project]) == 0
    assert main(["dashboard", "--host", "0.0.0.0", "--insecure", *project]) == 0
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


# ---------------------------------------------------------------- dashboards: who gets in


def test_the_dashboard_refuses_to_listen_beyond_loopback_without_a_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Beyond 127.0.0.1 `workbench dashboard` starts only with a login, or when told
    --insecure in so many words; Voilà is never started when it refuses."""
    from workbench._jupyter._access import DashboardAccess

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "monitoring.ipynb").write_text("{}")
    started: list[DashboardAccess] = []
    monkeypatch.setattr(
        "workbench._jupyter._voila.serve",
        lambda argv, *, access, http: started.append(access) or 0,
    )
    for name in ("JUPYTER_PATH", "WORKBENCH_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    project = ["--project-dir", str(tmp_path)]

    said: list[str] = []

    def dashboard(*extra: str) -> tuple[int, str]:
        code = main(["dashboard", *extra, *project])
        out, err = capsys.readouterr()
        said.append(out)
        return code, err

    for host in ("0.0.0.0", "::", "192.168.1.20", "dashboards.example.org"):
        code, err = dashboard("--host", host)
        assert code == 2 and f"would listen on {host} without a login" in err, err
        for way in ("add-user NAME", "WORKBENCH_DASHBOARD_TOKEN", "dashboard_user_header"):
            assert way in err  # says how to give it a login
        assert "--insecure" in err
    monkeypatch.setenv("WORKBENCH_HOST", "0.0.0.0")  # the setting, not only --host
    assert dashboard()[0] == 2
    assert started == []  # Voilà never started
    # on loopback, and when told in so many words, it starts without a login
    monkeypatch.delenv("WORKBENCH_HOST")
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert dashboard("--host", host)[0] == 0
    assert dashboard("--host", "0.0.0.0", "--insecure")[0] == 0
    assert [a.method for a in started] == ["none"] * 5
    assert "warning: --insecure: no login, anyone who reaches 0.0.0.0" in said[-1]
    assert "warning" not in "".join(said[:-1])

    # any login lets it listen beyond loopback: a shared token (never shown)...
    monkeypatch.setenv("WORKBENCH_DASHBOARD_TOKEN", "t" * 24)
    assert dashboard("--host", "0.0.0.0")[0] == 0 and started[-1].method == "token"
    assert "t" * 24 not in repr(started[-1]) + said[-1]
    monkeypatch.setenv("WORKBENCH_DASHBOARD_TOKEN", "short-token")
    code, err = dashboard("--host", "0.0.0.0")
    assert code == 2 and "at least 16 characters" in err and "short-token" not in err
    monkeypatch.delenv("WORKBENCH_DASHBOARD_TOKEN")
    # ...single sign-on through a proxy (both settings, well formed)...
    monkeypatch.setenv("WORKBENCH_DASHBOARD_USER_HEADER", "X-Forwarded-Email")
    code, err = dashboard("--host", "0.0.0.0")
    assert code == 2 and "'dashboard_trusted_proxy' is not set" in err
    monkeypatch.setenv("WORKBENCH_DASHBOARD_TRUSTED_PROXY", "10.0.0.0/8, nonsense")
    code, err = dashboard("--host", "0.0.0.0")
    assert code == 2 and "'nonsense'" in err
    monkeypatch.setenv("WORKBENCH_DASHBOARD_TRUSTED_PROXY", "127.0.0.1,10.0.0.0/8")
    assert dashboard("--host", "0.0.0.0")[0] == 0 and started[-1].method == "proxy"
    assert [str(n) for n in started[-1].trusted] == ["127.0.0.1/32", "10.0.0.0/8"]
    # ...or per-user passwords; never two ways at once
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["dashboard", "add-user", "anna", "--password-stdin", *project]) == 0
    code, err = dashboard("--host", "0.0.0.0")
    assert code == 2 and "more than one way in" in err
    for name in ("WORKBENCH_DASHBOARD_USER_HEADER", "WORKBENCH_DASHBOARD_TRUSTED_PROXY"):
        monkeypatch.delenv(name)
    assert dashboard("--host", "0.0.0.0")[0] == 0 and started[-1].method == "users"
    assert "login: per-user passwords" in said[-1] and "no TLS" in said[-1]  # in clear
    # a half-given certificate is refused before anything starts
    code, err = dashboard("--ssl-certfile", str(tmp_path / "cert.pem"))
    assert code == 2 and "--ssl-certfile needs --ssl-keyfile" in err


def test_the_scoring_server_refuses_to_listen_beyond_loopback_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Beyond 127.0.0.1 `workbench serve` starts only with a token (shared or named), or
    when told --insecure in so many words; nothing is loaded or started when it refuses."""
    import uvicorn

    from workbench.serving._tokens import TokenStore

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    started: list[str] = []
    looked_up: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never called
        raise AssertionError

    async def startup(server: Any, sockets: Any = None) -> None:  # listens nowhere
        server.started = True

    def run(server: Any, sockets: Any = None) -> None:  # says what a started server says
        started.append(server.config.host)
        asyncio.run(server.startup())

    monkeypatch.setattr(
        "workbench.serving._server.check_model_uri",
        lambda uri, settings: looked_up.append(uri) or ("m", "1"),
    )
    monkeypatch.setattr("workbench.serving._server.create_app", lambda *a, **k: app)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(uvicorn.Server, "startup", startup)
    project = ["--project-dir", str(tmp_path)]

    def serve(*extra: str) -> tuple[int, str, str]:
        code = main(["serve", "models:/m@champion", *extra, *project])
        out, err = capsys.readouterr()
        return code, out, err

    for host in ("0.0.0.0", "::", "192.168.1.20", "scoring.example.org"):
        code, _, err = serve("--host", host)
        assert code == 2 and f"would listen on {host} without a token" in err, err
        for way in ("add-token NAME", "WORKBENCH_SERVE_TOKEN", "--insecure"):
            assert way in err  # says how to give it one
    monkeypatch.setenv("WORKBENCH_HOST", "0.0.0.0")  # the setting, not only --host
    assert serve()[0] == 2
    assert started == [] and looked_up == []  # refused before the registry is opened
    monkeypatch.delenv("WORKBENCH_HOST")
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        code, out, _ = serve("--host", host)
        assert code == 0 and "warning" not in out
    code, out, _ = serve("--host", "0.0.0.0", "--insecure")
    assert code == 0 and "warning: --insecure: no token, anyone who reaches 0.0.0.0" in out
    # a shared token (never shown), or a named one, lets it listen beyond loopback
    monkeypatch.setenv("WORKBENCH_SERVE_TOKEN", "t" * 24)
    code, out, _ = serve("--host", "0.0.0.0")
    assert code == 0 and "t" * 24 not in out and "callers: shared" in out
    assert "warning: no TLS" in out
    monkeypatch.delenv("WORKBENCH_SERVE_TOKEN")
    TokenStore(tmp_path / ".workbench").add("alice")
    code, out, _ = serve("--host", "0.0.0.0")
    assert code == 0 and "callers: alice" in out
    assert started == ["127.0.0.1", "127.0.0.2", "::1", "localhost", *["0.0.0.0"] * 3]


def test_dashboard_users_are_kept_hashed_with_a_salt_each_in_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import getpass
    import hashlib
    import stat

    from workbench._jupyter._access import SCRYPT, UserStore, users_file

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    project = ["--project-dir", str(tmp_path)]
    password = "the same password for both"
    for name in ("anna", "bruno.verdi@example.org"):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        assert main(["dashboard", "add-user", name, "--password-stdin", *project]) == 0
    path = users_file(resolve_settings(tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert password not in text
    records = json.loads(text)["users"]
    anna, bruno = records["anna"], records["bruno.verdi@example.org"]
    assert anna["scheme"] == "scrypt" and {k: anna[k] for k in SCRYPT} == SCRYPT
    assert anna["salt"] != bruno["salt"] and anna["hash"] != bruno["hash"]  # a salt each
    # the record is scrypt's, checked against hashlib directly
    expected = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(anna["salt"]), **SCRYPT, maxmem=2**26, dklen=32
    )
    assert expected.hex() == anna["hash"]
    store = UserStore(path)
    assert store.check("anna", password) and store.check("anna", password + "x") is None
    assert store.check("nobody", password) is None
    # typed at a terminal: twice, not echoed; two different entries change nothing
    monkeypatch.setattr("sys.stdin", io.StringIO())
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    typed = iter(["first password!", "other password!"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    assert main(["dashboard", "add-user", "anna", *project]) == 2
    assert "differ" in capsys.readouterr().err and store.check("anna", password)
    typed = iter(["a new password", "a new password"])
    assert main(["dashboard", "add-user", "anna", *project]) == 0
    assert "new password for 'anna'" in capsys.readouterr().out
    assert store.check("anna", "a new password") and store.check("anna", password) is None
    # rules: a plain name, a password of 10 characters or more
    for bad in ("../x", ".hidden", "a b", "", "x" * 65):
        assert main(["dashboard", "add-user", bad, "--password-stdin", *project]) == 2
    assert "must be 1 to 64 letters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["dashboard", "add-user", "carla", "--password-stdin", *project]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert main(["dashboard", "users", *project]) == 0
    assert capsys.readouterr().out.split() == ["anna", "bruno.verdi@example.org"]
    assert main(["dashboard", "remove-user", "anna", *project]) == 0
    assert main(["dashboard", "remove-user", "anna", *project]) == 1
    assert store.names() == ["bruno.verdi@example.org"]
    capsys.readouterr()


# ---------------------------------------------------------------- keyed pseudonyms


def test_pseudonyms_are_keyed_and_a_dictionary_without_the_key_finds_nobody() -> None:
    """A birth date, and the 10,000 days around it as an attacker's candidates: without the
    key no recipe maps a candidate to the pseudonym (not the unkeyed SHA-256 used before,
    not an empty or guessed key); with the key the same dictionary finds it at once, which
    is why the result is pseudonymised, not anonymised, data (SECURITY.md)."""
    import datetime
    import hashlib
    import hmac
    import secrets

    from workbench.data import mask_value

    key, other = secrets.token_hex(32).encode(), secrets.token_hex(32).encode()
    known = "1987-04-12"
    start = datetime.date(1960, 1, 1)
    candidates = [str(start + datetime.timedelta(days=i)) for i in range(10_000)]
    assert known in candidates
    pseudonym = mask_value(known, key=key)
    assert pseudonym != mask_value(known, key=other)  # a new key, a new pseudonym
    assert pseudonym == mask_value(known, key=key)  # the same key, the same pseudonym
    digits = pseudonym.removeprefix("•••")
    assert len(digits) * 4 >= 64

    def recipes(candidate: str) -> list[str]:
        message = f"\x00{candidate}".encode()
        return [
            hashlib.sha256(message).hexdigest(),  # the unkeyed hash of before
            hashlib.sha256(candidate.encode()).hexdigest(),
            hmac.new(b"", message, hashlib.sha256).hexdigest(),
            hmac.new(other, message, hashlib.sha256).hexdigest(),  # a wrong key
        ]

    found = [c for c in candidates if any(h.startswith(digits[:6]) for h in recipes(c))]
    assert found == []
    with_key = [c for c in candidates if mask_value(c, key=key) == pseudonym]
    assert with_key == [known]
    # 10,000 values, 10,000 pseudonyms: no two people share one
    assert len({mask_value(c, key=key) for c in candidates}) == len(candidates)


def test_no_secret_is_read_from_pyproject(tmp_path: Path) -> None:
    for name, variable in [
        ("pseudonym_key", "WORKBENCH_PSEUDONYM_KEY"),
        ("dashboard_token", "WORKBENCH_DASHBOARD_TOKEN"),
        ("serve_token", "WORKBENCH_SERVE_TOKEN"),
    ]:
        (tmp_path / "pyproject.toml").write_text(
            f'[project]\nname = "p"\n[tool.workbench]\n{name} = "leaked-value-0123456789abcdef"\n'
        )
        with pytest.raises(ConfigurationError, match=f"holds {name!r}, a secret") as refused:
            resolve_settings(tmp_path, environ={})
        assert variable in str(refused.value) and "leaked-value" not in str(refused.value)


def test_the_manifests_put_the_dashboard_behind_its_sign_on_proxy() -> None:
    """deploy/k8s/dashboards.yaml: oauth2-proxy is the pod's only way in; the dashboard
    listens on the pod's loopback, believes the user header the proxy sets, from the
    proxy's address only; every pod that pseudonymises reads one key from one Secret."""
    import yaml

    from workbench._jupyter._access import resolve_access

    root = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
    documents = [
        d for f in sorted(root.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d
    ]
    (deployment,) = [
        d
        for d in documents
        if d["metadata"]["name"] == "workbench-dashboards" and d["kind"] == "Deployment"
    ]
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    dashboard, proxy = containers["monitoring"], containers["oauth2-proxy"]
    args = build_parser().parse_args(dashboard["args"])
    assert args.host == "127.0.0.1" and not args.insecure
    env = {v["name"]: v.get("value") for v in dashboard["env"]}
    flags = dict(a.removeprefix("--").split("=", 1) for a in proxy["args"])
    assert flags["upstream"] == f"http://127.0.0.1:{args.port}/"
    assert flags["pass-user-headers"] == "true"  # sets X-Forwarded-User and -Email
    assert env["WORKBENCH_DASHBOARD_USER_HEADER"] == "X-Forwarded-Email"
    access = resolve_access(
        resolve_settings(Path("/nonexistent"), environ={k: v for k, v in env.items() if v})
    )
    assert access.method == "proxy" and [str(n) for n in access.trusted] == ["127.0.0.1/32"]
    assert flags["cookie-secure"] == "true" and flags["http-address"].endswith(":4180")
    (service,) = [
        d
        for d in documents
        if d["kind"] == "Service" and d["metadata"]["name"] == "workbench-dashboards"
    ]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert [p["name"] for p in proxy["ports"]] == ["http"] and "ports" not in dashboard
    # one pseudonym key, from one Secret, wherever personal values are pseudonymised
    readers = {
        f"{d['metadata']['name']}/{c['name']}"
        for d in documents
        for c in _pod_containers(d)
        for v in c.get("env", [])
        if v["name"] == "WORKBENCH_PSEUDONYM_KEY"
        and v["valueFrom"]["secretKeyRef"] == {"name": "workbench-secrets", "key": "pseudonym-key"}
    }
    assert readers == {
        "workbench-scoring/scoring",
        "workbench-dashboards/monitoring",
        "workbench-dask/worker",
    }


def _pod_containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    if document["kind"] == "Deployment":
        return list(document["spec"]["template"]["spec"]["containers"])
    if document["kind"] == "DaskCluster":
        return [
            c
            for role in ("scheduler", "worker")
            for c in document["spec"][role]["spec"]["containers"]
        ]
    return []


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
        _serve(
            demo_project, folder / "any", "--host", "0.0.0.0", "--no-log", "--insecure"
        ) as anywhere,
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

    def elsewhere_from(address: str) -> httpx.Client:
        """A client from another loopback address: ten wrong tokens in a row from one
        address and the server answers 429 instead (promise 2)."""
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=served.url, timeout=60, transport=transport)

    for number, candidate in enumerate(wrong):
        with elsewhere_from(f"127.0.0.{number + 2}") as other:
            for path in ("/invocations", "/metrics", "/version", "/actuals"):
                r = other.request(
                    "POST" if path in ("/invocations", "/actuals") else "GET",
                    path,
                    json=body,
                    headers={"Authorization": f"Bearer {candidate}"},
                )
                assert r.status_code == 401, (candidate, path, r.status_code)
    with elsewhere_from("127.0.0.20") as other:
        for elsewhere in (
            {"params": {"token": token}},  # in the query string
            {"headers": {"Authorization": f"Basic {token}"}},
            {"headers": {"X-Token": token}},
            {"headers": {"Cookie": f"token={token}"}},
        ):
            r = other.post("/invocations", json=body, **elsewhere)  # type: ignore[arg-type]
            assert r.status_code == 401, elsewhere
    with httpx.Client(base_url=served.url, timeout=60) as client:
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
