"""`workbench lab` starts a real JupyterLab bound to 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from workbench.serving._process import free_port

pytestmark = pytest.mark.slow


def test_lab_serves_jupyterlab_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    port = free_port()
    log = tmp_path / "lab.log"
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
    finally:
        proc.terminate()
        proc.wait(30)
