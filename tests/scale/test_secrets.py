"""No secret reaches MLflow, the Optuna storage or the console: a real study and a real
packaged model, with passwords in the Optuna storage URL (PostgreSQL, trust auth: the
password is accepted and ignored) and in the tracking URI of a real ``mlflow server``,
and MLflow's and the scoring server's secrets in the environment."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench._settings import resolve_settings

from ..conftest import running_mlflow_server
from .conftest import _postgres_tool

pytestmark = pytest.mark.slow


def _with_password(url: str, password: str, user: str = "workbench") -> str:
    """``url`` with ``user:password@`` in place of whatever user it had."""
    scheme, rest = url.split("://", 1)
    rest = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
    return f"{scheme}://{user}:{password}@{rest}"


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink())


def _leaks(where: str, text: str | bytes, secrets: dict[str, str]) -> list[str]:
    blob = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [f"{name} in {where}" for name, value in secrets.items() if value.encode() in blob]


def test_no_secret_in_runs_artifacts_registry_storage_or_output(
    tmp_path: Path,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from workbench.packaging import package_model
    from workbench.tuning import tune

    secrets = {
        "the Optuna storage password": f"pg-{uuid.uuid4().hex}",
        "the tracking URI password": f"mlflow-{uuid.uuid4().hex}",
        "MLFLOW_TRACKING_PASSWORD": f"env-{uuid.uuid4().hex}",
        "WORKBENCH_SERVE_TOKEN": f"token-{uuid.uuid4().hex}",
    }
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ci-user")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", secrets["MLFLOW_TRACKING_PASSWORD"])
    monkeypatch.setenv("WORKBENCH_SERVE_TOKEN", secrets["WORKBENCH_SERVE_TOKEN"])
    storage = _with_password(pg_database, secrets["the Optuna storage password"])
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame["y"] = 2 * frame["a"] - frame["b"] + rng.normal(scale=0.2, size=120)

    with running_mlflow_server(tmp_path / "mlflow") as plain:
        tracking = plain.replace(
            "http://", f"http://ci-user:{secrets['the tracking URI password']}@"
        )
        settings = resolve_settings(project, environ={"WORKBENCH_TRACKING_URI": tracking})
        result = tune(
            frame,
            "y",
            families=["ridge"],
            n_trials=2,
            cv=2,
            refit=True,
            storage=storage,
            study_name="secret-study",
            n_workers=1,
            pruner=None,
            progress=False,
            settings=settings,
        )
        packaged = package_model(
            result.best_model,
            frame,
            "secret-model",
            target="y",
            tuning=result,
            description="checked for leaks",
            progress=False,
            settings=settings,
        )
        print(packaged, result, settings, flush=True)  # what a notebook would show
        found = _mlflow_leaks(plain, secrets)
    output = capfd.readouterr()
    found += _leaks("the process output", output.out + output.err, secrets)
    # everything the server stored (its database, every artifact), byte for byte
    for file in _files(tmp_path / "mlflow"):
        found += _leaks(
            f"the MLflow server's {file.relative_to(tmp_path)}", file.read_bytes(), secrets
        )
    for file in _files(project):  # the embedded stores, the verifier's and Dask's files
        found += _leaks(f"the project's {file.relative_to(project)}", file.read_bytes(), secrets)
    found += _leaks("the Optuna database (pg_dump)", _dump(pg_database), secrets)
    assert found == [], found
    assert packaged.card.tuning is not None  # the study named by host and database only
    assert packaged.card.tuning["storage"].startswith("PostgreSQL database ")


def _mlflow_leaks(url: str, secrets: dict[str, str]) -> list[str]:
    """Leaks found through MLflow's API: runs (params, tags, metric names), every
    artifact's bytes, logged models, registered models and their versions."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
    found: list[str] = []
    experiments = client.search_experiments()
    ids = [e.experiment_id for e in experiments]
    assert ids
    for experiment in experiments:
        found += _leaks(f"experiment {experiment.name}", repr(experiment), secrets)
    runs = client.search_runs(ids, max_results=1000)
    assert len(runs) >= 4  # the study, two trials, the package run
    files = 0
    for run in runs:
        where = f"run {run.info.run_name}"
        found += _leaks(f"{where}'s params", repr(run.data.params), secrets)
        found += _leaks(f"{where}'s tags", repr(run.data.tags), secrets)
        found += _leaks(f"{where}'s metric names", repr(sorted(run.data.metrics)), secrets)
        found += _leaks(f"{where}'s info", repr(run.info), secrets)
        for path, blob in _artifacts(client, run.info.run_id):
            files += 1
            found += _leaks(f"{where}'s artifact {path}", blob, secrets)
    assert files >= 5  # the card (md, html, json), the reference data and its profile
    models = client.search_logged_models(ids)
    assert len(models) == 2  # the study's refitted best model, the packaged one
    for logged in models:
        found += _leaks(f"logged model {logged.model_id}", repr(logged), secrets)
        names = []
        for path, blob in _artifacts(client, None, f"models:/{logged.model_id}"):
            names.append(path)
            found += _leaks(f"logged model {logged.model_id}'s {path}", blob, secrets)
        assert "MLmodel" in names and "requirements.txt" in names, names
    for model in client.search_registered_models():
        found += _leaks(f"registered model {model.name}", repr(model), secrets)
        for version in client.search_model_versions(f"name = '{model.name}'"):
            assert version.tags, "package_model tags every version"
            found += _leaks(f"{model.name} v{version.version}", repr(version), secrets)
    return found


def _artifacts(client: Any, run_id: str | None, uri: str | None = None) -> list[tuple[str, bytes]]:
    """Every artifact file of a run (or under a models:/ URI), downloaded: path, bytes."""
    import tempfile

    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        if uri is not None:
            root = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        else:
            root = Path(client.download_artifacts(run_id, "", tmp))
        return [(str(p.relative_to(root)), p.read_bytes()) for p in _files(root)]


def _dump(database_url: str) -> bytes:
    """The whole Optuna database as SQL text (studies, trials, their attributes)."""
    host_port, name = database_url.rsplit("@", 1)[1].split("/", 1)
    host, port = host_port.split(":")
    dumped = subprocess.run(
        [_postgres_tool("pg_dump"), "-h", host, "-p", port, "-U", "workbench", name],
        capture_output=True,
        check=True,
    )
    assert b"CREATE TABLE public.trials" in dumped.stdout
    return dumped.stdout
