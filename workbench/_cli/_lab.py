"""``workbench lab``: JupyterLab in the project, stopped with this process."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from workbench._cli._common import AddCommand, project_settings
from workbench._exceptions import WorkbenchError

__all__ = ["register"]


def _exec(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` until it ends and return its exit status.

    SIGINT (Ctrl-C), SIGTERM and SIGHUP sent to this process reach the command as SIGTERM,
    which JupyterLab answers by stopping its kernels and exiting; a second one kills it.
    The command runs in its own session, so that Ctrl-C in a terminal reaches it once,
    through here, and on Linux it gets SIGTERM if this process dies without a word
    (SIGKILL): neither leaves it running without us.
    """
    print("running:", shlex.join(cmd), flush=True)
    child = subprocess.Popen(
        cmd, env=env, start_new_session=True, preexec_fn=_terminate_with_parent
    )
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM if len(received) == 1 else signal.SIGKILL)

    stopping = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):
        stopping.append(signal.SIGHUP)
    previous = {signum: signal.signal(signum, forward) for signum in stopping}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code if code >= 0 else 128 - code


def _terminate_with_parent() -> None:
    """In the child, before it runs: SIGTERM when the parent dies (Linux's
    PR_SET_PDEATHSIG); elsewhere nothing."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tool(name: str) -> str:
    """A console script installed beside this Python (the venv's), else on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise WorkbenchError(f"The {name!r} command is not installed; pip install {name}.")
    return found


def _cmd_lab(args: argparse.Namespace) -> int:
    from workbench._jupyter._kernels import ENCRYPTION_ARGUMENT

    s = project_settings(args)
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(s.project_dir)}
    cmd = [
        _tool("jupyter"),
        "lab",
        f"--ServerApp.ip={args.host or s.host}",
        f"--ServerApp.port={args.port or s.lab_port}",
        f"--ServerApp.root_dir={s.project_dir}",
        ENCRYPTION_ARGUMENT,  # kernels over encrypted sockets (no plain-TCP warning)
    ]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers often run as root; JupyterLab refuses that unless told.
        cmd.append("--allow-root")
    return _exec(cmd, env)


def register(add: AddCommand) -> None:
    """Add the command(s) of this module to the ``workbench`` parser."""
    lab = add(
        "lab",
        "start JupyterLab on 127.0.0.1 in the project folder",
        "Start JupyterLab bound to the loopback interface, rooted at the project.",
    )
    lab.add_argument("--host", help="interface (default: the 'host' setting, 127.0.0.1)")
    lab.add_argument("--port", type=int, help="port (default: the 'lab_port' setting, 8888)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.set_defaults(func=_cmd_lab)
