"""``profile`` on a real Dask cluster (worker processes with a small memory limit): what
the later passes need of the merged counts goes to the workers once, not in every task."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.utils import key_split
from distributed import Client, LocalCluster, get_task_stream

from workbench._progress import scheduler_client
from workbench._settings import reset_settings
from workbench.explore import profile

pytestmark = pytest.mark.slow

MEMORY_LIMIT = 400 * 2**20  # per worker; a worker with pandas loaded holds ~140 MiB
PARTITIONS = 40


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit=MEMORY_LIMIT,
        dashboard_address=None,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A high-cardinality datetime and float, two more numbers missing on different rows
    (so Spearman re-ranks) and a category."""
    rng = np.random.default_rng(8)
    n = 200_000
    frame = pd.DataFrame(
        {
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(n), "s"),
            "reading": rng.normal(100, 15, n),
            "load": rng.gamma(2, 3, n),
            "site": rng.choice(["north", "south", "east"], n),
        }
    )
    frame["power"] = frame["reading"] * 0.3 + rng.normal(0, 5, n)
    frame.loc[rng.random(n) < 0.05, "load"] = np.nan
    frame.loc[rng.random(n) < 0.05, "power"] = np.nan
    return frame


def _summary_bytes(frame: pd.DataFrame) -> int:
    """The first pass's merged summary: 8 bytes per distinct value and 8 per count."""
    return int(frame.nunique().sum()) * 16


def _without_time(result: Any) -> Any:
    data = result.to_dict()
    data.pop("created_at")
    return json.loads(json.dumps(data))


def test_profile_on_a_memory_limited_cluster_sends_the_summaries_once(
    cluster: LocalCluster, frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what every second-pass task used to carry, times the tasks, exceeds a worker
    assert _summary_bytes(frame) * PARTITIONS > MEMORY_LIMIT
    dd.from_pandas(frame, npartitions=PARTITIONS).to_parquet(tmp_path / "frame")
    data = dd.read_parquet(tmp_path / "frame")
    local = profile(data, target="power", progress=False)

    monkeypatch.setenv("WORKBENCH_DASK_SCHEDULER", cluster.scheduler_address)
    reset_settings()
    try:
        with (
            Client(cluster) as watcher,
            get_task_stream(watcher) as stream,
            dask.config.set({"distributed.admin.large-graph-warning-threshold": "2MB"}),
            warnings.catch_warnings(),
        ):
            # a graph that embeds the summaries (once per task) is a failure here
            warnings.filterwarnings("error", message="Sending large graph")
            remote = profile(data, target="power", progress=False)
        ran = {key_split(task["key"]) for task in stream.data}
    finally:
        scheduler_client(cluster.scheduler_address).close()
        reset_settings()

    assert {"pass_one", "pass_two", "pass_three"} <= ran  # the workers did every pass
    assert len({task["worker"] for task in stream.data}) == 2
    cluster_json, local_json = _without_time(remote), _without_time(local)
    assert cluster_json["columns"] == local_json["columns"]
    for method, matrix in local.correlations.items():
        np.testing.assert_allclose(
            remote.correlations[method].frame().to_numpy(),
            matrix.frame().to_numpy(),
            rtol=1e-9,
            atol=1e-12,
        )
    assert remote.correlations["spearman"].get("load", "power") == pytest.approx(
        frame["load"].corr(frame["power"], method="spearman"), rel=1e-9
    )
