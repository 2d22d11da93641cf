"""Validation of 1,000,000 rows × 20 columns with 20 value checks: ours vs plain pandera.

Both run the same contract on the same typed frame in this process:

* plain pandera: ``contract.to_pandera().validate(frame, lazy=True)``, which raises with
  its failure cases;
* ours: ``workbench.data.validate(frame, contract)``, which also coerces, turns failure
  cases into per-row reasons, and splits valid from quarantined rows.

About 1 % of rows carry an injected fault, so both report real failures. Peak memory is
what ``tracemalloc`` saw during the call (numpy and pandas allocate through it).
Targets (issue 3): ours within 1.5× of pandera's time, and under 2 GB peak.

``--later-period``: a contract inferred from the first half of real data (scikit-learn's
diabetes and wine sets, the workbench's daily electricity record) against the second
half: legitimate rows quarantined by ours (``infer_contract``: warn beyond the range
seen, quarantine beyond a margin) and by pandera's ``infer_schema`` (the range seen is
the bound). Target (issue 20): at most 1 legitimate row quarantined.

    .venv/bin/python benchmarks/data_validation.py [--rows 1000000] [--repeat 3]
    .venv/bin/python benchmarks/data_validation.py --later-period
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from workbench.data import ColumnContract, Contract, validate


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": np.arange(rows, dtype="int64")})
    for i in range(6):  # 6 floats with a range: 12 checks
        frame[f"f{i}"] = rng.normal(50, 10, rows).clip(0, 100)
    for i in range(5):  # 5 more floats, nullable, no range
        values = rng.normal(0, 1, rows)
        values[rng.random(rows) < 0.02] = np.nan
        frame[f"g{i}"] = values
    for i, levels in enumerate((5, 20, 50)):  # 3 categories: 3 checks
        names = [f"level_{j}" for j in range(levels)]
        frame[f"c{i}"] = pd.Categorical(rng.choice(names, rows), categories=names)
    frame["b0"] = rng.random(rows) < 0.3
    frame["b1"] = rng.random(rows) < 0.7
    frame["day"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), "D")
    frame["s0"] = pd.Series(rng.integers(0, 10_000, rows)).map("item-{}".format)
    frame["s1"] = pd.Series(rng.integers(0, 100, rows)).map("zone-{}".format)
    # ~1 % faults: out of range, and a category outside the contract
    bad = rng.choice(rows, rows // 100, replace=False)
    frame.loc[bad[: len(bad) // 2], "f0"] = 150.0
    frame["c0"] = frame["c0"].cat.add_categories(["unknown"])
    frame.loc[bad[len(bad) // 2 :], "c0"] = "unknown"
    return frame


def make_contract(frame: pd.DataFrame) -> Contract:
    columns = [ColumnContract("id", "int", nullable=False, unique=True)]
    columns += [ColumnContract(f"f{i}", "float", min=0, max=100, nullable=False) for i in range(6)]
    columns += [ColumnContract(f"g{i}", "float") for i in range(5)]
    for i in range(3):
        levels = [c for c in frame[f"c{i}"].cat.categories if c != "unknown"]
        columns.append(ColumnContract(f"c{i}", "category", categories=tuple(levels)))
    columns += [
        ColumnContract("b0", "bool"),
        ColumnContract("b1", "bool"),
        ColumnContract("day", "datetime"),
        ColumnContract("s0"),
        ColumnContract("s1"),
    ]
    return Contract(tuple(columns), key=("id",), name="bench")


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time over ``repeat`` runs, and the peak traced memory of one run (GiB)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**30, result


def later_period() -> None:
    """Legitimate rows of a later period quarantined by an inferred contract."""
    import logging

    from sklearn.datasets import load_diabetes, load_wine

    from workbench.data import infer_contract
    from workbench.datasets import make_electricity

    logging.disable(logging.WARNING)  # ours warns about every value beyond the range seen
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    wine = load_wine(as_frame=True).frame.astype({"target": str})
    electricity = make_electricity(
        n_factories=3, start="2021-01-01", end="2024-12-31", change_date="2023-07-01", seed=1
    ).truth
    cases = [
        ("electricity, by date", electricity, "date", ("date", "factory_id")),
        ("diabetes, at random", diabetes, None, ()),
        ("diabetes, by age", diabetes, "age", ()),
        ("wine, at random", wine, None, ()),
    ]
    print(f"{'':24}{'rows':>7}{'ours':>7}{'warned':>8}{'pandera infer_schema':>22}")
    for name, frame, by, key in cases:
        if by is None:
            order = np.random.default_rng(0).permutation(len(frame))
        else:
            order = np.argsort(frame[by].to_numpy(), kind="stable")
        first, later = frame.iloc[order[: len(frame) // 2]], frame.iloc[order[len(frame) // 2 :]]
        ours = validate(later, infer_contract(first, key=key), quarantine_dir=False)
        try:
            pa.infer_schema(first).validate(later, lazy=True)
            theirs = 0
        except pa.errors.SchemaErrors as exc:
            theirs = int(exc.failure_cases["index"].nunique())
        warned = ours.soft_failures["row"].nunique()
        print(f"{name:24}{len(later):7,}{len(ours.quarantine):7,}{warned:8,}{theirs:22,}")
    print("(ours: rows quarantined; warned: valid rows with a value beyond the range seen)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--later-period", action="store_true")
    args = parser.parse_args()
    if args.later_period:
        later_period()
        return

    frame = make_frame(args.rows)
    contract = make_contract(frame)
    # pandera sees the category column as text, like our coercion leaves it
    typed = frame.assign(**{f"c{i}": frame[f"c{i}"].astype(str) for i in range(3)})
    schema = contract.to_pandera()
    n_checks = sum(len(c.checks) for c in schema.columns.values())
    print(
        f"{args.rows:,} rows × {frame.shape[1]} columns, {n_checks} value checks "
        f"+ nullability + key uniqueness"
    )

    def plain() -> int:
        try:
            schema.validate(typed, lazy=True)
        except pa.errors.SchemaErrors as exc:
            return int(exc.failure_cases["index"].nunique())
        return 0

    def ours() -> int:
        return len(validate(typed, contract).quarantine)

    t_pa, m_pa, bad_pa = measure(plain, args.repeat)
    t_wb, m_wb, bad_wb = measure(ours, args.repeat)
    print(f"{'':24}{'time (s)':>10}{'peak (GiB)':>12}{'bad rows':>10}")
    print(f"{'plain pandera':24}{t_pa:10.2f}{m_pa:12.2f}{bad_pa:10,}")
    print(f"{'workbench.validate':24}{t_wb:10.2f}{m_wb:12.2f}{bad_wb:10,}")
    print(f"time ratio ours/pandera: {t_wb / t_pa:.2f}  (target <= 1.5)")
    print(f"peak memory ours: {m_wb:.2f} GiB  (target < 2)")


if __name__ == "__main__":
    main()
