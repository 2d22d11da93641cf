"""`workbench dashboard`: the ready line comes once a page can be served at once, the URL
it names is where the server is, and SIGTERM stops the server and its kernels.

Real processes throughout: the command, Voilà in it, kernels running a small app that
records when (and in which process) it ran.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import nbformat
import pytest

from workbench.serving._process import free_port

pytestmark = pytest.mark.slow

APP_SECONDS = 3.0  # what the app takes to compute its page

APP_CODE = """\
import os, pathlib, time
time.sleep(float(os.environ["APP_SECONDS"]))
pathlib.Path(os.environ["APP_MARKS"], str(os.getpid())).write_text(repr(time.time()))
"""


@dataclass
class Dashboard:
    """A running `workbench dashboard`, its output lines as they come (time, line)."""

    process: subprocess.Popen[str]
    marks: Path
    lines: queue.Queue[tuple[float, str]] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def wait_for(self, start: str, timeout: float = 120) -> tuple[float, str]:
        """The first line starting with ``start``: when it was read, and the line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                at, line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, "exited:\n" + "".join(self.seen)
                continue
            if line.startswith(start):
                return at, line
        pytest.fail(f"no line starting {start!r} in {timeout} s:\n" + "".join(self.seen))

    def runs(self) -> dict[int, float]:
        """The app's finished runs: kernel process id → when it finished (epoch s)."""
        return {int(p.name): float(p.read_text()) for p in self.marks.iterdir()}


def _project(folder: Path) -> Path:
    (folder / "pyproject.toml").write_text('[project]\nname = "ready"\n[tool.workbench]\n')
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(APP_CODE),
        nbformat.v4.new_code_cell('print("computed ahead")'),
    ]
    (folder / "apps").mkdir()
    nbformat.write(notebook, folder / "apps" / "slow.ipynb")
    return folder


@contextlib.contextmanager
def _dashboard(folder: Path, *options: str) -> Iterator[Dashboard]:
    marks = folder / "marks"
    marks.mkdir(exist_ok=True)
    env = {**os.environ, "APP_MARKS": str(marks), "APP_SECONDS": str(APP_SECONDS)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "dashboard",
            "slow",
            "--project-dir",
            str(folder),
            *options,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    board = Dashboard(process, marks)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            board.seen.append(line)
            board.lines.put((time.time(), line))

    threading.Thread(target=read, daemon=True).start()
    try:
        yield board
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def _gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _stop(board: Dashboard) -> None:
    """SIGTERM: the command exits with 0, and every kernel that ran the app is gone."""
    board.process.send_signal(signal.SIGTERM)
    assert board.process.wait(30) == 0, "".join(board.seen)
    assert all(_gone(pid) for pid in board.runs()), board.runs()


def test_ready_comes_once_the_preheated_page_is_rendered_and_sigterm_stops_all(
    tmp_path: Path,
) -> None:
    signing_key = (Path.home() / ".local/share/jupyter/notebook_secret").is_file()
    board_dir = _project(tmp_path)
    with _dashboard(board_dir, "--port", str(free_port())) as board:
        serving_at, _ = board.wait_for("serving at")
        ready_at, line = board.wait_for("ready at")
        # the app ran to its end in a kernel before the line, not after
        runs = board.runs()
        assert len(runs) == 1
        ((kernel, finished),) = runs.items()
        assert serving_at < finished < ready_at
        assert ready_at - serving_at >= APP_SECONDS

        url = line.split()[-1]
        page = httpx.get(url, timeout=60)
        assert page.status_code == 200 and "computed ahead" in page.text
        assert board.runs() == runs  # the page was the one computed ahead
        os.kill(kernel, 0)  # its kernel is alive, now the visitor's
        _stop(board)
    # A clean start and stop: our lines only. No traitlets DeprecationWarning, no
    # "Notebook ... is not trusted", no kernel warning about plain TCP, no Voilà INFO lines.
    ours = ("dashboard ", "serving at ", "ready at ")
    assert [line for line in board.seen if not line.startswith(ours)] == []
    if not signing_key:  # nor does it write a notebook-signing key into the home folder
        assert not (Path.home() / ".local/share/jupyter/notebook_secret").is_file()


def test_without_preheating_ready_comes_at_once_and_the_app_runs_on_a_visit(
    tmp_path: Path,
) -> None:
    board_dir = _project(tmp_path)
    with _dashboard(board_dir, "--port", str(free_port()), "--no-preheat") as board:
        _, line = board.wait_for("ready at")
        assert board.runs() == {}
        page = httpx.get(line.split()[-1], timeout=60)
        assert page.status_code == 200 and "computed ahead" in page.text
        assert len(board.runs()) == 1
        _stop(board)


def test_the_ready_line_names_the_port_it_listens_on(tmp_path: Path) -> None:
    """A taken port: Voilà takes another, and the line says which."""
    board_dir = _project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with _dashboard(board_dir, "--port", str(port), "--no-preheat") as board:
            _, line = board.wait_for("ready at")
            url = line.split()[-1]
            assert urlparse(url).port not in (None, port)
            assert httpx.get(url, timeout=60).status_code == 200
            _stop(board)
