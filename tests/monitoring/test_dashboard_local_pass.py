"""``collect`` reads a local log on local threads without Dask: the periods it gives are
those of the Dask pass it gives for a log elsewhere (an fsspec URL), contract included."""

from __future__ import annotations

import sys
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from workbench.data import ColumnContract, Contract
from workbench.monitoring import ReferenceProfile, collect


def _segments(folder: Path) -> None:
    """Four segments as a server might leave them: missing values, an index in two."""
    rng = np.random.default_rng(3)
    folder.mkdir()
    for i in range(4):
        n = 400
        frame = pd.DataFrame(
            {
                "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(i, 1, n)),
                "n": rng.integers(0, 4, n),
                "kind": pd.array(
                    np.where(rng.random(n) < 0.1, None, rng.choice(["a", "b", "c"], n)),
                    dtype="object",
                ),
                "timestamp": pd.Timestamp("2024-07-01", tz="UTC")
                + pd.to_timedelta(i * 86_400 + rng.integers(0, 86_400, n), unit="s"),
                "request_id": [f"r{i}-{j // 4}" for j in range(n)],
                "latency_ms": rng.gamma(2.0, 2.0, n),
            }
        )
        if i % 2:
            frame.index = pd.Index(np.arange(n) + 1000 * i, name="row")
        frame.to_parquet(folder / f"segment-{i:05d}.parquet", index=bool(i % 2))


def _periods(overview) -> dict:  # type: ignore[no-untyped-def]
    return {
        start: (s.rows, s.requests, s.latency.tolist(), s.summary.to_dict(), s.integrity)
        for start, s in overview.periods.items()
    }


@pytest.mark.parametrize("period", ["1D", "6h"])
def test_the_local_pass_gives_the_periods_of_the_dask_pass(
    tmp_path: Path, period: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _segments(tmp_path / "log")
    rng = np.random.default_rng(4)
    profile = ReferenceProfile.from_frame(
        pd.DataFrame(
            {
                "x": rng.normal(0, 1, 2000),
                "n": rng.integers(0, 4, 2000),
                "kind": rng.choice(["a", "b"], 2000),
            }
        )
    )
    contract = Contract(
        columns=[
            ColumnContract("x", "float", nullable=False, min=-2.0),
            ColumnContract("kind", "category", categories=("a", "b")),
        ]
    )
    memory = fsspec.filesystem("memory")
    place = f"memory://collect-{period}"
    for path in sorted((tmp_path / "log").iterdir()):
        memory.pipe(f"{place}/{path.name}", path.read_bytes())
    with monkeypatch.context() as patch:  # no Dask for a local log on local threads
        patch.setitem(sys.modules, "dask.dataframe", None)  # importing it would fail
        local = collect(tmp_path / "log", profile, period=period, contract=contract)
    try:
        with_dask = collect(place, profile, period=period, contract=contract, progress=False)
    finally:
        memory.rm(place, recursive=True)
    assert local.starts == with_dask.starts
    assert _periods(local) == _periods(with_dask)
    assert local.integrity().equals(with_dask.integrity()) and len(local.integrity())
