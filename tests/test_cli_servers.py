"""The servers the command starts, for real: `workbench lab` (JupyterLab on 127.0.0.1,
stopped with its kernels) and what `workbench serve` says while it runs."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from workbench.serving._process import free_port

pytestmark = pytest.mark.slow


def test_lab_serves_jupyterlab_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    port = free_port()
    log = tmp_path / "lab.log"
    children: list[psutil.Process] = []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "lab",
                "--no-browser",
                "--port",
                str(port),
                "--project-dir",
                str(tmp_path),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "JUPYTER_TOKEN": "lab-test-token"},
        )
    try:
        deadline = time.monotonic() + 90
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api", timeout=2)
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, log.read_text()
        assert "version" in answer.json()
        text = log.read_text()
        assert "--ServerApp.ip=127.0.0.1" in text and f"root_dir={tmp_path}" in text

        # A kernel, as a notebook opened in the browser starts one; then the wrapper is
        # stopped as a service manager or `kill` would: nothing it started may outlive it.
        started = httpx.post(
            f"http://127.0.0.1:{port}/api/kernels",
            headers={"Authorization": "token lab-test-token"},
            json={"name": "python3"},
            timeout=60,
        )
        assert started.status_code == 201, started.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            children = psutil.Process(proc.pid).children(recursive=True)
            if any("ipykernel" in _cmdline(c) for c in children):
                break
            time.sleep(0.5)
        names = [_cmdline(c) for c in children]
        assert any("ipykernel" in n for n in names), names
        assert any("jupyter-lab" in n for n in names), names
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
        _, alive = psutil.wait_procs(children, timeout=30)
        alive = [p for p in alive if not _exited(p)]
        assert alive == [], [_cmdline(p) for p in alive]
        assert "Kernel is running over TCP without encryption" not in log.read_text()
    finally:  # whatever is left (a failed run): not on the machine after the test
        for left in [*children, psutil.Process(proc.pid)] if proc.poll() is None else children:
            with contextlib.suppress(psutil.NoSuchProcess):
                left.kill()
        proc.wait(30)


def _exited(process: psutil.Process) -> bool:
    """Whether the process has ended: gone, or a zombie (only its parent or init reaps it;
    a short-lived helper the server started can end between listing it and reading it)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _cmdline(process: psutil.Process) -> str:
    """The process's command line; "" once it has ended."""
    try:
        return "" if _exited(process) else " ".join(process.cmdline())
    except psutil.NoSuchProcess:  # ended since: ZombieProcess included
        return ""


def _registered_constant(project: Path, name: str) -> None:
    """A constant model registered as ``name`` version 1, alias ``champion``."""
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.dummy import DummyRegressor

    from workbench._settings import resolve_settings
    from workbench._tracking import mlflow_for

    frame = pd.DataFrame({"x": np.arange(5.0)})
    model = DummyRegressor(strategy="constant", constant=7.0).fit(frame, np.arange(5.0))
    mlflow_for(resolve_settings(project))
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model, name="model", input_example=frame.head(2), registered_model_name=name
        )
    mlflow.MlflowClient().set_registered_model_alias(name, "champion", "1")


@pytest.fixture(scope="module")
def served_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("served")
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    _registered_constant(project, "tiny")
    yield project


def _serve(project: Path, *options: str) -> tuple[list[str], list[str]]:
    """`workbench [options] serve models:/tiny@champion`: one request, then SIGTERM; the
    lines it printed up to the request, and those after."""
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "workbench", *options, "serve", "models:/tiny@champion"),
            *("--port", str(port), "--project-dir", str(project)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x.rstrip("\n")) for x in proc.stdout or []])
    reader.start()
    before: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("serving ") for line in before):
            assert time.monotonic() < deadline and proc.poll() is None, before
            with contextlib.suppress(queue.Empty):
                before.append(lines.get(timeout=0.5))
        time.sleep(0.5)  # the rest of the start lines
        while not lines.empty():
            before.append(lines.get())
        answer = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"dataframe_split": {"columns": ["x"], "data": [[1.0]]}},
            timeout=30,
        )
        assert answer.json() == {"predictions": [7.0]}
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(30)
    after: list[str] = []
    while not lines.empty():
        after.append(lines.get())
    return before, after


def test_serve_says_where_it_listens_what_it_serves_where_it_logs_and_when_it_stops(
    served_project: Path,
) -> None:
    before, after = _serve(served_project)
    text = "\n".join(before)
    assert before[0].startswith("serving tiny version 1 (@champion) at http://127.0.0.1:")
    log = served_project / ".workbench" / "inference_log"
    assert f"inference log   {log}" in text
    assert "follows @champion: checks it every 10 s and on SIGHUP" in text
    assert "Ctrl-C or SIGTERM stops it; -v logs each request" in text
    assert after[-1] == f"stopped: 1 request answered, the inference log flushed to {log}"
    assert not [line for line in before + after if "/invocations HTTP" in line]
    assert not [line for line in before + after if " INFO " in line or "WARNING" in line]


def test_serve_logs_each_request_at_verbose(served_project: Path) -> None:
    before, after = _serve(served_project, "-v")
    assert [line for line in before if line.startswith("serving tiny version 1 (@champion)")]
    assert "Ctrl-C or SIGTERM stops it" in before[-1] and "-v logs" not in before[-1]
    assert [line for line in after if '"POST /invocations HTTP/1.1" 200' in line]
    assert [line for line in after if line.startswith("stopped: 1 request answered")]
    print("\n".join(before + after))
