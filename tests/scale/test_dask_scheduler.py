"""Every stage that computes over data or trials runs on a Dask scheduler address (the
``dask_scheduler`` setting) with the same results as on local threads: validation,
profile, feature materialization and point-in-time joins, tuning, drift, the dashboard's
pass over the inference log. The cluster is started with the ``dask scheduler`` and
``dask worker`` commands, and the tests check its workers did the work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import get_task_stream

from workbench import ConfigurationError
from workbench._progress import compute_with_progress, scheduler_client
from workbench._settings import reset_settings, resolve_settings
from workbench.data import validate_large
from workbench.datasets import (
    ELECTRICITY_CONTRACT,
    ELECTRICITY_FEATURES,
    DirtConfig,
    electricity_feature_view,
    make_electricity,
    write_electricity_csv,
)
from workbench.explore import profile
from workbench.features import FeatureStore
from workbench.monitoring import ReferenceProfile, collect, compute_drift

from .conftest import DaskCLI

pytestmark = pytest.mark.slow


@pytest.fixture
def use_cluster(dask_cli: DaskCLI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Switches between local threads and the cluster through the setting itself
    (``WORKBENCH_DASK_SCHEDULER``)."""

    def switch(on: bool) -> None:
        if on:
            monkeypatch.setenv("WORKBENCH_DASK_SCHEDULER", dask_cli.address)
        else:
            monkeypatch.delenv("WORKBENCH_DASK_SCHEDULER", raising=False)
        reset_settings()

    yield switch
    reset_settings()


@pytest.fixture(scope="module")
def electricity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("electricity")
    data = make_electricity(
        n_factories=6,
        start="2024-01-01",
        end="2024-09-30",
        change_date="2024-06-01",
        dirt=DirtConfig(duplicates=0.0),
        seed=4,
    )
    return write_electricity_csv(data, folder)


def test_validation_profile_and_drift_are_the_same_on_the_cluster(
    electricity: Path, tmp_path: Path, use_cluster: Any, dask_cli: DaskCLI
) -> None:
    results: dict[bool, dict[str, Any]] = {}
    client = scheduler_client(dask_cli.address)
    for on in (False, True):
        use_cluster(on)
        stream = get_task_stream(client)
        stream.__enter__()
        out = tmp_path / ("cluster" if on else "local")
        large = validate_large(
            electricity, ELECTRICITY_CONTRACT, out, blocksize=15_000, progress=False
        )
        valid = dd.read_parquet(str(out / "valid"))
        assert valid.npartitions > 3
        reference = valid.partitions[0].compute()
        drift = compute_drift(ReferenceProfile.from_frame(reference), valid, progress=False)
        results[on] = {
            "counts": (large.n_input, large.n_valid, large.n_quarantined),
            "valid": pd.read_parquet(out / "valid").sort_values("_row").reset_index(drop=True),
            "quarantine": pd.read_parquet(out / "quarantine")
            .sort_values("_row")
            .reset_index(drop=True),
            "profile": _without_time(profile(valid, progress=False).to_dict()),
            "drift": _without_time(drift.to_dict()),
        }
        stream.__exit__(None, None, None)
        # the cluster's two workers did the work, or none of it
        assert len({t["worker"] for t in stream.data}) == (2 if on else 0)
    local, cluster = results[False], results[True]
    assert local["counts"] == cluster["counts"] and local["counts"][2] > 0
    pd.testing.assert_frame_equal(local["valid"], cluster["valid"])
    pd.testing.assert_frame_equal(local["quarantine"], cluster["quarantine"])
    assert local["profile"] == cluster["profile"]
    assert local["drift"] == cluster["drift"]


def _without_time(data: dict[str, Any]) -> str:
    """The JSON of a result, without the time it was made."""
    return json.dumps({k: v for k, v in data.items() if k != "created_at"}, default=str)


def test_materialization_and_point_in_time_joins_are_the_same_on_the_cluster(
    electricity: Path, tmp_path: Path, dask_cli: DaskCLI
) -> None:
    from workbench.data import load, validate

    valid = validate(load(electricity, contract=ELECTRICITY_CONTRACT), ELECTRICITY_CONTRACT)
    source = tmp_path / "valid.parquet"
    valid.valid.to_parquet(source, index=False)
    labels = valid.valid[["factory_id", "date", "consumption_kwh"]].sample(400, random_state=0)
    out: dict[bool, tuple[pd.DataFrame, pd.DataFrame]] = {}
    client = scheduler_client(dask_cli.address)
    for on in (False, True):
        project = tmp_path / ("cluster" if on else "local")
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
        env = {"WORKBENCH_DASK_SCHEDULER": dask_cli.address} if on else {}
        settings = resolve_settings(project, environ=env)
        store = FeatureStore([electricity_feature_view(source)], settings=settings)
        with get_task_stream(client) as stream:
            run = store.materialize("factory_daily", progress=False)
            joined = store.get_historical_features(
                labels,
                [f"factory_daily:{f}" for f in ELECTRICITY_FEATURES],
                time_column="date",
                progress=False,
            )
        assert joined.attrs["lineage"]["engine"] == ("dask" if on else "duckdb")
        assert run["rows"] > 1000
        stored = pd.read_parquet(settings.feature_store_dir / "offline" / "factory_daily")
        out[on] = (stored, joined)
        if on:  # the windows were computed by the workers, and the join too
            keys = " ".join(str(t["key"]) for t in stream.data)
            assert "compute_view-" in keys and "_asof" in keys, keys[:500]
            assert len({t["worker"] for t in stream.data}) == 2
        else:
            assert not stream.data
    pd.testing.assert_frame_equal(out[False][0], out[True][0])
    pd.testing.assert_frame_equal(
        out[False][1].reset_index(drop=True), out[True][1].reset_index(drop=True)
    )


def test_a_study_on_the_cluster_finds_what_a_local_one_finds(
    tmp_path: Path, dask_cli: DaskCLI
) -> None:
    """The first ten trials of a seeded study draw the same parameters whatever ran them,
    so the same trials and scores come back from the CLI cluster as from a LocalCluster."""
    from workbench.tuning import tune

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = 2 * frame["a"] - frame["b"] + rng.normal(scale=0.2, size=200)
    found = {}
    for where in ("local", dask_cli.address):
        project = tmp_path / ("local" if where == "local" else "cluster")
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
        result = tune(
            frame,
            "y",
            families=["ridge", "lasso"],
            n_trials=6,
            pruner=None,
            cv=3,
            cluster=where,
            n_workers=2,
            refit=False,
            progress=False,
            settings=resolve_settings(project),
        )
        trials = result.trials.sort_values("number")
        found[where] = trials[["number", "state", "value", "family"]].reset_index(drop=True)
        if where != "local":
            assert set(trials["worker"]) <= {"cli-worker-0", "cli-worker-1"}, trials["worker"]
    pd.testing.assert_frame_equal(found["local"], found[dask_cli.address])


def test_the_dashboard_pass_over_the_log_is_the_same_on_the_cluster(
    tmp_path: Path, dask_cli: DaskCLI
) -> None:
    from workbench.serving import InferenceLogWriter
    from workbench.serving._log import LoggedRequest

    rng = np.random.default_rng(2)
    writer = InferenceLogWriter(tmp_path / "log", flush_seconds=3600)
    start = pd.Timestamp("2024-07-01", tz="UTC").value
    for day in range(4):
        for i in range(30):
            writer.append(
                LoggedRequest(
                    request_id=f"{day}-{i}",
                    timestamp_ns=start + day * 86_400 * 10**9 + i,
                    model_name="m",
                    model_version="1",
                    latency_ms=1.0 + day,
                    inputs={"x": rng.normal(day, 1, 5)},
                    rows=5,
                    predictions=rng.normal(size=5),
                )
            )
        writer.flush()
    writer.close()
    reference = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(0, 1, 2000)}))
    local = collect(tmp_path / "log", reference, progress=False, scheduler="local")
    remote = collect(tmp_path / "log", reference, progress=False, scheduler=dask_cli.address)
    assert local.starts == remote.starts
    assert local.kpis() == remote.kpis()
    assert local.drift().to_dict()["columns"] == remote.drift().to_dict()["columns"]


def test_a_scheduler_that_does_not_answer_is_a_clear_error() -> None:
    import dask
    from dask.delayed import delayed

    # how long to keep trying is Dask's own setting
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "3s"}),
        pytest.raises(
            ConfigurationError,
            match=r"No Dask scheduler answers at tcp://127\.0\.0\.1:9 .* within 3s "
            r"\(distributed\.comm\.timeouts\.connect\)",
        ),
    ):
        compute_with_progress(
            [delayed(len)([1])], desc="x", show=False, scheduler="tcp://127.0.0.1:9"
        )
