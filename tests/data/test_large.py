from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import read_only_folder
from workbench import DataError
from workbench._progress import scheduler_client
from workbench._settings import reset_settings
from workbench.data import ColumnContract, Contract, load, validate, validate_large
from workbench.datasets import (
    ELECTRICITY_CONTRACT,
    DirtConfig,
    make_electricity,
    write_electricity_csv,
)


def test_dask_partitions_give_the_same_split_as_pandas(tmp_path: Path) -> None:
    # no duplicated rows: duplicates across partition borders are documented as not caught
    dirt = DirtConfig(duplicates=0.0)
    data = make_electricity(
        n_factories=6,
        start="2024-01-01",
        end="2024-12-31",
        change_date="2024-07-01",
        dirt=dirt,
        seed=2,
    )
    path = write_electricity_csv(data, tmp_path)
    large = validate_large(path, ELECTRICITY_CONTRACT, tmp_path / "out", blocksize=20_000)
    small = validate(load(path, contract=ELECTRICITY_CONTRACT), ELECTRICITY_CONTRACT)

    parts = sorted((tmp_path / "out" / "valid").glob("part-*.parquet"))
    assert len(parts) > 3  # really partitioned
    assert (large.n_input, large.n_valid, large.n_quarantined) == (
        small.n_input,
        len(small.valid),
        len(small.quarantine),
    )
    valid = pd.read_parquet(tmp_path / "out" / "valid")
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine")
    assert sorted(valid["_row"]) == sorted(small.valid["_row"])
    assert sorted(quarantine["_row"]) == sorted(small.quarantine["_row"])
    assert large.summary["rows"].sum() == small.summary()["rows"].sum()


def test_the_block_size_follows_the_file_size_and_the_worker_threads() -> None:
    from workbench.data._load import MAX_BLOCK, MIN_BLOCK, auto_blocksize

    # before: 64 MB whatever the file and the cluster: an 81 MB file kept 2 workers busy
    assert auto_blocksize(81_000_000, 4) == 10_125_000  # 8 partitions, 2 per thread
    assert auto_blocksize(81_000_000, 1) == 40_500_000
    assert auto_blocksize(10_000, 8) == MIN_BLOCK  # small files: not a task per kilobyte
    assert auto_blocksize(10**12, 2) == MAX_BLOCK  # huge files: a partition fits in memory


CONTRACT = Contract(
    (
        ColumnContract("id", "int", nullable=False, unique=True),
        ColumnContract("kwh", "float", min=0),
        ColumnContract("site", "category", categories=("north", "south")),
    ),
    name="meters",
)


@pytest.fixture(scope="module")
def meters_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2.5 MB of meter readings (with a note outside the contract), one row in
    1,000 faulty."""
    rng = np.random.default_rng(0)
    rows = 40_000
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "kwh": rng.gamma(2.0, 50.0, rows).round(3).astype(str),
            "site": rng.choice(["north", "south"], rows),
            "note": "read by the night shift, no anomaly on the display",
        }
    )
    bad = rng.choice(rows, rows // 1000, replace=False)
    frame.loc[bad[::3], "kwh"] = "-1"
    frame.loc[bad[1::3], "kwh"] = "n/a"
    frame.loc[bad[2::3], "site"] = "east"
    path = tmp_path_factory.mktemp("meters") / "meters.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A real LocalCluster: two worker processes of one thread each."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as running:
        yield running.scheduler_address
        scheduler_client(running.scheduler_address).close()


@pytest.fixture
def on_cluster(cluster: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("WORKBENCH_DASK_SCHEDULER", cluster)
    reset_settings()
    yield cluster
    reset_settings()


def test_on_a_cluster_the_workers_read_validate_and_write_every_partition(
    meters_csv: Path, tmp_path: Path, on_cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask.dataframe.io.csv as dask_csv
    from distributed import get_task_stream

    parsed_here: list[int] = []
    parse = dask_csv.pandas_read_text

    def counted(*args: Any, **kwargs: Any) -> Any:
        parsed_here.append(1)
        return parse(*args, **kwargs)

    monkeypatch.setattr(dask_csv, "pandas_read_text", counted)
    with get_task_stream(scheduler_client(on_cluster)) as stream:
        large = validate_large(meters_csv, CONTRACT, tmp_path / "out", progress=False)
    # before: every partition was also parsed here, to count its rows
    assert parsed_here == []
    assert large.n_partitions >= 2 and large.blocksize < meters_csv.stat().st_size
    assert len({t["worker"] for t in stream.data}) == 2  # both workers had partitions

    small = validate(load(meters_csv, contract=CONTRACT), CONTRACT, quarantine_dir=False)
    assert (large.n_input, large.n_valid, large.n_quarantined) == (
        small.n_input,
        len(small.valid),
        len(small.quarantine),
    )
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine").sort_values("_row")
    assert quarantine["_row"].tolist() == small.quarantine["_row"].tolist()
    assert quarantine["_reasons"].tolist() == small.quarantine["_reasons"].tolist()


def test_on_a_cluster_an_out_dir_the_workers_cannot_write_is_named(
    meters_csv: Path, tmp_path: Path, on_cluster: str
) -> None:
    out = read_only_folder(tmp_path) / "out"
    with pytest.raises(DataError, match=r"a Dask worker of tcp://.* cannot prepare") as error:
        validate_large(meters_csv, CONTRACT, out, progress=False)
    assert str(out) in str(error.value) and "storage every worker" in str(error.value)


def test_a_worker_that_does_not_see_the_files_says_which(meters_csv: Path, tmp_path: Path) -> None:
    from workbench.data._load import _reach

    problem = _reach(str(tmp_path / "absent.csv"), str(tmp_path), "token")
    assert problem is not None
    assert f"cannot read the CSV {tmp_path / 'absent.csv'}" in problem
    assert "does not see" in problem and "is not the same folder there" in problem
    (tmp_path / ".validate-large-token").write_text("token")
    assert _reach(str(meters_csv), str(tmp_path), "token") is None
