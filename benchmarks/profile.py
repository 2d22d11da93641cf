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

Two more measurements (issues 20 and 21):

* ``--spearman``: Spearman with missing values on a real data set (scikit-learn's bundled
  breast-cancer measurements, values removed at random, above a detection limit and in
  most rows): ours vs pandas' ``DataFrame.corr("spearman")`` vs SciPy's ``spearmanr``
  (``nan_policy="omit"``) per pair, and how far the former definition (Pearson on each
  column's ranks over all its values) was; then the time of ours vs pandas' on
  ``--rows`` rows of the frame above;
* ``--cluster``: a ``--rows`` Parquet frame (default 5,000,000 rows in 50 files) with a
  high-cardinality datetime and float column, profiled on a local cluster of two worker
  processes with 2 GB each (``--memory-limit``) against local threads; prints the size
  of every graph sent to the scheduler and the time, or that it gave up after
  ``--timeout`` seconds.

    .venv/bin/python benchmarks/profile.py [--rows 1000000] [--skip-ydata]
    .venv/bin/python benchmarks/profile.py --spearman [--rows 1000000]
    .venv/bin/python benchmarks/profile.py --cluster [--rows 5000000] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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


def spearman_check(rows: int) -> None:
    from scipy import stats
    from sklearn.datasets import load_breast_cancer

    from workbench.explore import profile

    frame = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    rng = np.random.default_rng(6)
    for column in frame.columns[:10]:
        frame.loc[rng.random(len(frame)) < 0.15, column] = np.nan
    frame.loc[frame["mean area"] > frame["mean area"].quantile(0.8), "worst area"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.7, "worst symmetry"] = np.nan
    ours = profile(frame, progress=False).correlations["spearman"].frame()
    pandas_ = frame[list(ours.columns)].corr("spearman")
    former = frame[list(ours.columns)].rank().corr()  # global ranks, pairwise rows
    scipy_ = pandas_.copy()
    for x in ours.columns:
        for y in ours.columns:
            scipy_.loc[x, y] = stats.spearmanr(frame[x], frame[y], nan_policy="omit").statistic
    missing = frame.isna().mean().mean()
    print(f"breast cancer, {len(frame)} rows × {frame.shape[1]} columns, {missing:.1%} missing")
    print(f"  max |ours − pandas|       {np.nanmax(np.abs(ours - pandas_).to_numpy()):.2e}")
    print(f"  max |ours − SciPy|        {np.nanmax(np.abs(ours - scipy_).to_numpy()):.2e}")
    gap = (former - pandas_).abs()
    x, y = gap.stack().idxmax()
    print(
        f"  max |former − pandas|     {gap.to_numpy().max():.4f} ({x} × {y}: "
        f"{former.loc[x, y]:.4f} vs {pandas_.loc[x, y]:.4f})"
    )
    import time

    big = make_frame(rows)
    numbers = big.select_dtypes("number")
    started = time.perf_counter()
    numbers.corr("spearman")
    pandas_seconds = time.perf_counter() - started
    started = time.perf_counter()
    profile(big, progress=False)
    ours_seconds = time.perf_counter() - started
    print(
        f"{rows:,} rows, {numbers.shape[1]} numbers with 2 % missing: pandas corr('spearman') "
        f"{pandas_seconds:.2f} s; our whole profile {ours_seconds:.2f} s"
    )


def cluster_check(rows: int, memory_limit: str, timeout: float) -> None:
    import os
    import re
    import threading
    import time
    import warnings

    import dask
    import dask.dataframe as dd
    from distributed import LocalCluster

    from workbench import reset_settings
    from workbench.explore import profile

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(rows), "s"),
            "reading": rng.normal(100, 15, rows),
            "load": np.where(rng.random(rows) < 0.02, np.nan, rng.gamma(2, 3, rows)),
            "site": rng.choice(np.array(["north", "south", "east"], dtype=object), rows),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frame"
        dd.from_pandas(frame, npartitions=max(1, rows // 100_000)).to_parquet(path)
        del frame
        data = dd.read_parquet(path)
        print(f"{rows:,} rows in {data.npartitions} Parquet files; workers: 2 × {memory_limit}")
        started = time.perf_counter()
        profile(data, progress=False)
        print(f"local threads: {time.perf_counter() - started:.1f} s")
        with LocalCluster(
            n_workers=2, threads_per_worker=2, memory_limit=memory_limit, dashboard_address=None
        ) as cluster:
            os.environ["WORKBENCH_DASK_SCHEDULER"] = cluster.scheduler_address
            reset_settings()
            outcome: dict[str, Any] = {}

            def go() -> None:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    outcome["caught"] = caught  # read while it runs, if it never returns
                    try:
                        with dask.config.set(
                            {"distributed.admin.large-graph-warning-threshold": "1B"}
                        ):
                            profile(data, progress=False)
                        outcome["seconds"] = time.perf_counter() - started
                    except Exception as exc:  # the cluster closed under it
                        outcome["error"] = repr(exc)

            started = time.perf_counter()
            worker = threading.Thread(target=go, daemon=True)
            worker.start()
            worker.join(timeout)
            if worker.is_alive():
                print(f"cluster: no result after {timeout:.0f} s (gave up)")
            else:
                print(f"cluster: {outcome.get('seconds', float('nan')):.1f} s")
            graphs = [
                m.group(1)
                for w in list(outcome.get("caught", []))
                if (m := re.search(r"Sending large graph of size (\S+ \w+)", str(w.message)))
            ]
            print(f"graphs sent: {graphs}")
        os.environ.pop("WORKBENCH_DASK_SCHEDULER", None)


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
    parser.add_argument("--rows", type=int, help="1,000,000; 5,000,000 with --cluster")
    parser.add_argument("--skip-ydata", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of plain pandas and of ours, best kept (ydata-profiling runs once)",
    )
    parser.add_argument("--spearman", action="store_true", help="Spearman vs pandas/SciPy")
    parser.add_argument("--cluster", action="store_true", help="profile on a local cluster")
    parser.add_argument("--memory-limit", default="2GB", help="per worker, with --cluster")
    parser.add_argument("--timeout", type=float, default=600.0, help="with --cluster")
    args = parser.parse_args()
    if args.spearman:
        spearman_check(args.rows or 1_000_000)
        return
    if args.cluster:
        cluster_check(args.rows or 5_000_000, args.memory_limit, args.timeout)
        return
    args.rows = args.rows or 1_000_000
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
