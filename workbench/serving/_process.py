"""Run the scoring server as a child process (for the demo, notebooks and tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from workbench._exceptions import ServingError
from workbench._imports import require

__all__ = ["ScoringServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ScoringServer:
    """``workbench serve`` in a child process, stopped gracefully on exit.

    Stopping sends SIGTERM, which makes the server finish in-flight requests and flush
    the inference log before it exits.

    Args:
        model_uri: The model to serve.
        log_dir: Inference log folder.
        host: Interface to bind.
        port: Port (a free one when ``None``).
        project_dir: Project folder whose settings the server uses.
        startup_timeout: Seconds to wait for ``/ping``.
        token: Bearer token the server requires (passed through its environment).
        max_body_mb: Largest request body in MiB (default: the server's, 16).
        reload_seconds: How often the server checks where its alias points (default 10).
        insecure: Let it listen beyond loopback without a token (``--insecure``).
        ssl_certfile: Serve HTTPS with this certificate (and ``ssl_keyfile``, its key);
            ``url`` is then ``https://``, and ``/ping`` is checked against the certificate.
        ssl_keyfile: The certificate's key.
        args: More command-line arguments of ``workbench serve``.
        verbose: ``workbench -v serve``: a line per request in its output.
        env: More environment variables for the server.

    Example::

        with ScoringServer("models:/m@champion", log_dir="log") as server:
            httpx.post(server.url + "/invocations", json=payload)
    """

    def __init__(
        self,
        model_uri: str,
        *,
        log_dir: str | Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        project_dir: str | Path | None = None,
        startup_timeout: float = 120.0,
        token: str | None = None,
        max_body_mb: float | None = None,
        reload_seconds: float | None = None,
        insecure: bool = False,
        ssl_certfile: str | Path | None = None,
        ssl_keyfile: str | Path | None = None,
        args: Sequence[str] = (),
        verbose: bool = False,
        env: Mapping[str, str] | None = None,
    ):
        self.model_uri = model_uri
        self.log_dir = Path(log_dir)
        self.host = host
        self.port = port or free_port(host)
        self.project_dir = project_dir
        self.startup_timeout = startup_timeout
        self.token = token
        self.max_body_mb = max_body_mb
        self.reload_seconds = reload_seconds
        self.insecure = insecure
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.args = list(args)
        self.verbose = verbose
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr_path = self.log_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_certfile else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> ScoringServer:
        httpx = require("httpx")
        env = {**os.environ, **self.env}
        if self.project_dir is not None:
            env["WORKBENCH_PROJECT_DIR"] = str(self.project_dir)
        if self.token is not None:  # by environment: a command line is visible to all users
            env["WORKBENCH_SERVE_TOKEN"] = self.token
        self._stderr_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "workbench",
            *(["-v"] if self.verbose else []),
            "serve",
            self.model_uri,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--log-dir",
            str(self.log_dir),
        ]
        if self.max_body_mb is not None:
            cmd += ["--max-body-mb", str(self.max_body_mb)]
        if self.reload_seconds is not None:
            cmd += ["--reload-seconds", str(self.reload_seconds)]
        if self.insecure:
            cmd += ["--insecure"]
        if self.ssl_certfile or self.ssl_keyfile:
            cmd += ["--ssl-certfile", str(self.ssl_certfile)]
            cmd += ["--ssl-keyfile", str(self.ssl_keyfile)]
        cmd += self.args
        verify: Any = str(self.ssl_certfile) if self.ssl_certfile else True
        with self._stderr_path.open("wb") as err:
            self.process = subprocess.Popen(cmd, env=env, stdout=err, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServingError(
                    f"The scoring server exited with code {self.process.returncode} before "
                    f"it answered. Its output:\n{self.output()}"
                )
            try:
                if httpx.get(self.url + "/ping", timeout=1.0, verify=verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServingError(
            f"The scoring server did not answer /ping within {self.startup_timeout:.0f} s. "
            f"Its output:\n{self.output()}"
        )

    def output(self) -> str:
        """What the server printed so far."""
        if not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait for the graceful exit (log flushed), SIGKILL only past ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> ScoringServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
