"""Real shared infrastructure on 127.0.0.1: a Dask cluster started with the ``dask
scheduler`` and ``dask worker`` commands, and a PostgreSQL server (Debian's package,
``make test`` installs it) started with ``initdb`` / ``pg_ctl`` for the session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.serving._process import free_port

BIN = Path(sys.executable).parent


@dataclass
class DaskCLI:
    """A scheduler and its worker processes, each its own OS process."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]


def _start_worker(address: str, folder: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(BIN / "dask"),
            "worker",
            address,
            "--nthreads",
            "1",
            "--name",
            name,
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--local-directory",
            str(folder / name),
        ],
        cwd=folder,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=(folder / f"{name}.log").open("wb"),
    )


@pytest.fixture(scope="session")
def dask_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCLI]:
    """``dask scheduler`` + two ``dask worker`` processes (one thread each)."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask-cli")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(
        [
            str(BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "scheduler.log").open("wb"),
    )
    workers = [_start_worker(address, folder, f"cli-worker-{i}") for i in range(2)]
    cluster = DaskCLI(address, scheduler, workers)
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            process.terminate()
        for process in [*cluster.workers, scheduler]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _postgres_tool(name: str) -> str:
    installed = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    found = shutil.which(name) or (str(installed[0]) if installed else None)
    if found is None:
        pytest.fail(
            f"PostgreSQL's {name} is not installed: `make test` installs Debian's package "
            "(apt-get install postgresql) where it runs as root; install it otherwise."
        )
    return found


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for the session (trust auth, fsync off); the
    SQLAlchemy URL of its server, without a database."""
    root = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its own user runs it
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "server.log", free_port()
    initdb = [_postgres_tool("initdb"), "-D", str(data), "-U", "workbench", "-E", "UTF8"]
    subprocess.run([*as_user, *initdb, "--auth=trust", "--no-sync"], check=True)
    options = f"-h 127.0.0.1 -p {port} -k {root} -F -c max_connections=200"
    pg_ctl = [_postgres_tool("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
    subprocess.run([*as_user, *pg_ctl, "-o", options, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://workbench@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, _postgres_tool("pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(postgres: str) -> str:
    """A new, empty database on the session's server; its URL."""
    import psycopg2

    name = f"wb_{uuid.uuid4().hex[:10]}"
    plain = postgres.replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(f"{plain}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    return f"{postgres}/{name}"


def wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
