"""Shared state on a real PostgreSQL server: Optuna's RDB storage and MLflow's backend
store, with two tuning processes on one study, and an ``mlflow server`` backed by it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from workbench._settings import resolve_settings

from ..conftest import running_mlflow_server

pytestmark = pytest.mark.slow

DRIVER = textwrap.dedent(
    """
    import json, sys
    import numpy as np, pandas as pd
    from workbench._settings import resolve_settings
    from workbench.tuning import tune

    project, storage, tracking, who = sys.argv[1:5]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = 2 * frame["a"] - frame["b"] + rng.normal(scale=0.2, size=200)
    settings = resolve_settings(project, environ={"WORKBENCH_TRACKING_URI": tracking})
    result = tune(frame, "y", families=["ridge", "lasso", "elastic_net"], n_trials=8,
                  study_name="shared", storage=storage, pruner=None, cv=3, n_workers=1,
                  refit=False, progress=False, settings=settings)
    print(json.dumps({"who": who, "parent": result.parent_run_id,
                      "complete": result.n_complete}))
    """
)


def _project(folder: Path) -> Path:
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "p"\n')
    return folder


def test_two_tuning_processes_share_one_study_without_duplicates(
    tmp_path: Path, pg_database: str, postgres: str
) -> None:
    storage = pg_database
    tracking = pg_database.replace("/wb_", "/wb_mlflow_")
    _create_database(postgres, tracking.rsplit("/", 1)[1])
    project = _project(tmp_path / "project")
    settings = resolve_settings(project, environ={"WORKBENCH_TRACKING_URI": tracking})
    # the schemas exist before the two drivers race to use them
    optuna.create_study(study_name="shared", storage=storage, direction="minimize")
    from workbench._tracking import ensure_experiment, mlflow_for

    experiment_id = ensure_experiment(settings.experiment_name, settings)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    drivers = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(project), storage, tracking, who],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for who in ("first", "second")
    ]
    outputs = []
    for driver in drivers:
        out, err = driver.communicate(timeout=400)
        assert driver.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # one number per trial
    states = [t.state for t in trials]
    assert optuna.trial.TrialState.RUNNING not in states
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 8
    drawn = [json.dumps(t.params, sort_keys=True) for t in complete]
    assert len(set(drawn)) == len(drawn), "two trials evaluated the same parameters"

    client = mlflow_for(settings).MlflowClient()
    runs = client.search_runs([experiment_id], max_results=1000)
    per_trial = pd.Series(
        [r.data.tags.get("optuna.trial") for r in runs if "optuna.trial" in r.data.tags]
    ).value_counts()
    assert sorted(int(n) for n in per_trial.index) == sorted(numbers)
    assert (per_trial == 1).all(), "a trial was logged twice"
    # one study run (both drivers found it, or each made one in a race), every trial under it
    parents = {o["parent"] for o in outputs}
    assert all(client.get_run(p).info.status == "FINISHED" for p in parents)
    children = {
        r.data.tags.get("mlflow.parentRunId") for r in runs if "optuna.trial" in r.data.tags
    }
    assert children <= parents


def test_an_mlflow_server_on_postgresql_registers_and_serves_a_model(
    tmp_path: Path, pg_database: str
) -> None:
    from sklearn.linear_model import Ridge

    from workbench._tracking import mlflow_for
    from workbench.packaging import package_model

    with running_mlflow_server(tmp_path, backend_store_uri=pg_database) as url:
        project = _project(tmp_path / "project")
        settings = resolve_settings(project, environ={"WORKBENCH_TRACKING_URI": url})
        rng = np.random.default_rng(1)
        frame = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
        frame["y"] = frame["a"] - frame["b"]
        model = Ridge().fit(frame[["a", "b"]], frame["y"])
        packaged = package_model(
            model,
            frame,
            "pg-model",
            target="y",
            measure_cost=False,
            progress=False,
            settings=settings,
        )
        mlflow = mlflow_for(settings)
        loaded = mlflow.pyfunc.load_model(packaged.model_uri)
        np.testing.assert_allclose(
            loaded.predict(frame[["a", "b"]].head(5)), model.predict(frame[["a", "b"]].head(5))
        )
    # the registry lives in PostgreSQL's tables, not in a file beside the server
    import sqlalchemy

    engine = sqlalchemy.create_engine(pg_database)
    with engine.connect() as connection:
        names = connection.execute(sqlalchemy.text("SELECT name FROM registered_models")).all()
    engine.dispose()
    assert [n[0] for n in names] == ["pg-model"]


def _create_database(server: str, name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(
        server.replace("postgresql+psycopg2://", "postgresql://") + "/postgres"
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
