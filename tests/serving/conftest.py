"""A small registered model for the scoring server's tests: ``tiny@champion``."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@contextlib.contextmanager
def own_settings() -> Iterator[None]:
    """No WORKBENCH_* or MLFLOW_* variable of the session (a module's fixtures run before
    the per-test isolation of tests/conftest.py): the project's own registry is used."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("WORKBENCH_", "MLFLOW_")):
                patch.delenv(name)
        yield


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose registry holds ``tiny@champion``: a constant over ``x`` (a number)
    and ``region`` (text)."""
    from sklearn.dummy import DummyRegressor

    from workbench import resolve_settings
    from workbench.packaging import package_model, promote

    folder = tmp_path_factory.mktemp("tiny-project")
    (folder / "pyproject.toml").write_text('[project]\nname = "p"\n')
    frame = pd.DataFrame({"x": np.arange(30.0), "region": ["a", "b", "c"] * 10})
    frame["y"] = frame["x"]
    model = DummyRegressor(strategy="constant", constant=1.0)
    model.fit(frame[["x", "region"]], frame["y"])
    with own_settings():
        settings = resolve_settings(folder)
        package_model(
            model, frame, "tiny", target="y", measure_cost=False, progress=False, settings=settings
        )
        promote("tiny", frame, target="y", force=True, settings=settings)
    return folder


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "workbench serving test")])
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
