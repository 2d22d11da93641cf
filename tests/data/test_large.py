from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.data import load, validate, validate_large
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
