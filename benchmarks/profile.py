"""Profiling 1,000,000 rows × 20 columns: ours vs ydata-profiling (minimal) vs plain pandas.

The same frame (12 numeric, 6 categorical with 5–50 levels, 1 datetime, 1 boolean; 2 %
missing cells) is written once as Parquet; each contender then runs in its own child
process, which reads it and imports its library, then times only the profiling (best of
``--repeat`` runs, 3 by default, for plain pandas and ours; ydata-profiling once, as one
run takes minutes), and reports its peak RSS above the RSS it had before profiling:

* ``plain pandas``: ``describe()`` + ``value_counts()`` of every categorical column +
  missing counts + Pearson correlations (the floor: what a hand-written pass costs);
* ``workbench.explore.profile``: exact statistics, histograms, outliers, warnings,
  Pearson, Spearman, Cramér's V, correlation ratio, datetime gaps;
* ``ydata-profiling`` 4.x with ``minimal=True``, in its own venv
  (``benchmarks/.venv-ydata``, created on first use: it needs pandas < 3).

Targets (issue 4): within 2× of plain pandas, at least 14× faster than ydata-profiling,
peak memory under 1 GB.

    .venv/bin/python benchmarks/profile.py [--rows 1000000] [--skip-ydata]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _venvs import tool_python

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, resource, sys, time
import pandas as pd
which, path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
frame = pd.read_parquet(path)

def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if which == "ours":  # imports are not part of the measurement, for any contender
    from workbench.explore import profile
    import dask, scipy.sparse  # loaded by profile on first use
elif which == "ydata":
    from ydata_profiling import ProfileReport
base = rss_mib()
times = []
for _ in range(repeat):
    started = time.perf_counter()
    if which == "pandas":
        frame.describe(include="all")
        for c in frame.select_dtypes(["object", "category", "str"]).columns:
            frame[c].value_counts()
        frame.isna().sum()
        frame.select_dtypes("number").corr()
    elif which == "ours":
        profile(frame, progress=False)
    elif which == "ydata":
        ProfileReport(frame, minimal=True, progress_bar=False).to_json()
    times.append(time.perf_counter() - started)
seconds = min(times)
print(json.dumps({"seconds": seconds, "first": times[0], "peak_mib": rss_mib() - base}))
"""


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(12):
        data[f"num_{i}"] = rng.normal(i * 10, 1 + i, rows)
    for i, levels in enumerate((5, 10, 20, 30, 40, 50)):
        names = np.array([f"level_{j}" for j in range(levels)], dtype=object)
        data[f"cat_{i}"] = names[rng.integers(0, levels, rows)]
    data["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(
        rng.integers(0, 5 * 365 * 24, rows), unit="h"
    )
    data["flag"] = rng.random(rows) < 0.3
    frame = pd.DataFrame(data)
    for column in frame.columns:
        if column != "flag":
            frame.loc[rng.random(rows) < 0.02, column] = None
    return frame


def ensure_ydata() -> Path:
    return tool_python(
        "ydata", ["ydata-profiling", "pandas<3", "pyarrow"], "ydata-profiling needs pandas < 3"
    )


def run(python: str, which: str, path: Path, repeat: int) -> dict[str, float]:
    out = subprocess.run(
        [python, "-c", CHILD, which, str(path), str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-ydata", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of plain pandas and of ours, best kept (ydata-profiling runs once)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frame.parquet"
        make_frame(args.rows).to_parquet(path)
        print(
            f"{args.rows:,} rows × 20 columns (12 numeric, 6 categorical, 1 datetime, "
            f"1 boolean, 2 % missing)"
        )
        results = {
            "plain pandas": run(sys.executable, "pandas", path, args.repeat),
            "workbench.explore.profile": run(sys.executable, "ours", path, args.repeat),
        }
        if not args.skip_ydata:
            results["ydata-profiling minimal"] = run(str(ensure_ydata()), "ydata", path, 1)
    print(f"{'':28}{'best (s)':>10}{'first (s)':>11}{'peak (MiB)':>12}")
    for name, r in results.items():
        print(f"{name:28}{r['seconds']:10.2f}{r['first']:11.2f}{r['peak_mib']:12.0f}")
    ours, pandas_ = results["workbench.explore.profile"], results["plain pandas"]
    print(
        f"ours / plain pandas: {ours['seconds'] / pandas_['seconds']:.2f}×  (target <= 2; "
        f"first runs only: {ours['first'] / pandas_['first']:.2f}×)"
    )
    if "ydata-profiling minimal" in results:
        speedup = results["ydata-profiling minimal"]["seconds"] / ours["seconds"]
        print(f"ydata-profiling / ours: {speedup:.1f}×  (target >= 14)")
    print(f"our peak memory: {ours['peak_mib']:.0f} MiB  (target < 1024)")


if __name__ == "__main__":
    main()
