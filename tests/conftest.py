"""Shared fixtures: an isolated settings environment and one small demo project.

The demo project (the whole lifecycle run once at a small size) is session-scoped: the
end-to-end, serving, notebook and browser tests all read what it left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench
from workbench._demo import DemoResult, run_demo

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's own WORKBENCH_* or MLFLOW_* variables, and whatever a
    test writes through default settings lands in its own temporary project."""
    for name in list(os.environ):
        if name.startswith(("WORKBENCH_", "MLFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(tmp_path))
    workbench.reset_settings()
    yield
    workbench.reset_settings()


@dataclasses.dataclass(frozen=True)
class DemoRun:
    result: DemoResult
    lines: list[str]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """Run the demo at a small size in a fresh project folder, once per session."""
    project = tmp_path_factory.mktemp("demo-project")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo-project"\nversion = "0"\n\n'
        '[tool.workbench]\nmodel_name = "test-electricity"\n'
    )
    lines: list[str] = []
    # without the loop (steps 8-12): the tests sharing this project see v1 as @champion
    # and the whole year as its traffic; test_demo_output and test_demo_e2e run the loop
    result = run_demo(project, n_factories=4, seed=1, loop=False, echo=lines.append)
    return DemoRun(result, lines)


@pytest.fixture(scope="session")
def demo_project(demo_run: DemoRun) -> DemoResult:
    """What the session's demo run left: settings, model, snapshot, paths."""
    return demo_run.result


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep things a person may want to look at (screenshots)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def demo_request_body(demo: DemoResult, rows: int) -> str:
    """A ``dataframe_split`` body of ``rows`` rows of the demo project's model inputs."""
    import pandas as pd

    from workbench.datasets import ELECTRICITY_FEATURES

    frame = pd.read_parquet(demo.settings.data_dir / "processed" / "electricity_features.parquet")
    split = frame[list(ELECTRICITY_FEATURES)].head(rows).to_json(orient="split", index=False)
    return '{"dataframe_split": ' + split + "}"


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write to (root writes anywhere but on sysfs)."""
    if os.geteuid() == 0:
        return Path("/sys/kernel")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


_MLFLOW_SERVERS: dict[str, subprocess.Popen[bytes]] = {}


def stop_mlflow_server(url: str) -> None:
    """Stop a server of :func:`running_mlflow_server` now (its workers too), as an outage."""
    import signal

    server = _MLFLOW_SERVERS.pop(url, None)
    if server is not None and server.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@contextlib.contextmanager
def running_mlflow_server(folder: Path, backend_store_uri: str | None = None) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 (SQLite backend unless told, proxied
    artifacts); its URL."""
    import httpx

    from workbench.serving._process import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            backend_store_uri or f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--workers",  # one is plenty for a test, and starts in a third of the time
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped with its workers
        # no job runner (a third process, for MLflow's GenAI jobs, which no test uses):
        # the server answers in about half the time on a loaded machine
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    url = f"http://127.0.0.1:{port}"
    _MLFLOW_SERVERS[url] = server
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        _MLFLOW_SERVERS[url] = server
        stop_mlflow_server(url)


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "workbench test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
