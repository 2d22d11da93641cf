"""Drift at scale: workbench.monitoring vs Evidently's DataDriftPreset vs plain SciPy.

The same reference and current frames (20 numeric + 5 categorical columns, drift
injected in 5 of them: 3 numeric, 2 categorical), at 100,000 and 1,000,000 rows per
frame. Each contender runs in its own process on the same Parquet files; imports and
reading the files are not measured. Measured: CPU seconds (user + system) and the extra
peak memory of the drift computation, and which columns each calls drifted.

* ``workbench``: ``compute_drift(reference, current)`` from the raw frames (the reference
  profile is computed inside the measurement, as Evidently computes its own);
* ``Evidently``: ``Report([DataDriftPreset()]).run(current, reference)``, version 0.7.23,
  in its own venv (``benchmarks/.venv-evidently``, created on first use: it needs
  pandas < 3);
* ``SciPy``: Evidently's default tests for this size, written out with SciPy on the raw
  values (normed Wasserstein, Jensen–Shannon of the shares).

Targets (issue 9): the same drifted columns as Evidently; at most 1/10 of its CPU time
and at most 1/4 of its extra memory.

    .venv/bin/python benchmarks/drift.py [--rows 100000,1000000] [--skip-evidently]
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
DRIFTED = ["num_0", "num_1", "num_2", "cat_0", "cat_1"]

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
which, folder = sys.argv[1], sys.argv[2]
ref = pd.read_parquet(f"{folder}/reference.parquet")
cur = pd.read_parquet(f"{folder}/current.parquet")
if which == "workbench":
    from workbench.monitoring import compute_drift
elif which == "evidently":
    from evidently import Report
    from evidently.presets import DataDriftPreset
else:
    from scipy import stats
    from scipy.spatial import distance

def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

base, cpu0, wall0 = rss_mib(), cpu(), time.perf_counter()
if which == "workbench":
    drifted = compute_drift(ref, cur, progress=False).drifted_columns
elif which == "evidently":
    result = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref).dict()
    drifted = []
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = metric["value"], config.get("threshold")
            method = str(config.get("method", "")).lower()
            is_p = "p_value" in method or "ks" in method or "chi" in method or "z-test" in method
            if (value < threshold) if is_p else (value >= threshold):
                drifted.append(config["column"])
else:
    drifted = []
    for column in ref.columns:
        r, c = ref[column].dropna(), cur[column].dropna()
        if pd.api.types.is_numeric_dtype(r):
            value = stats.wasserstein_distance(r, c) / np.std(r)
        else:
            keys = sorted(set(r.unique()) | set(c.unique()))
            p = r.value_counts(normalize=True).reindex(keys, fill_value=0)
            q = c.value_counts(normalize=True).reindex(keys, fill_value=0)
            value = distance.jensenshannon(p, q)
        if value >= 0.1:
            drifted.append(column)
print(json.dumps({
    "cpu_s": cpu() - cpu0,
    "wall_s": time.perf_counter() - wall0,
    "extra_mib": rss_mib() - base,
    "drifted": sorted(drifted),
}))
"""


def make_frames(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(drift: bool) -> pd.DataFrame:
        data: dict[str, object] = {}
        for i in range(20):
            loc, scale = i * 3.0, 1.0 + i / 4
            if drift and i == 0:
                loc += 0.5 * scale  # mean shift of half a standard deviation
            if drift and i == 1:
                scale *= 1.6  # wider
            values = rng.normal(loc, scale, rows)
            if drift and i == 2:
                values = values + rng.exponential(scale, rows)  # skewed
            data[f"num_{i}"] = values
        for i, levels in enumerate((3, 5, 8, 12, 20)):
            p = np.linspace(1, 2, levels)
            if drift and i in (0, 1):
                p = p[::-1] ** 3  # shares reversed and sharpened
            names = np.array([f"level_{j}" for j in range(levels)], dtype=object)
            data[f"cat_{i}"] = names[rng.choice(levels, rows, p=p / p.sum())]
        out = pd.DataFrame(data)
        out.loc[rng.random(rows) < 0.01, "num_5"] = np.nan
        return out

    return frame(False), frame(True)


def ensure_evidently() -> Path:
    return tool_python(
        "evidently",
        ["evidently==0.7.23", "pandas<3", "pyarrow"],
        "Evidently 0.7.23 needs pandas < 3",
    )


def run(python: str, which: str, folder: Path) -> dict[str, object]:
    out = subprocess.run([python, "-c", CHILD, which, str(folder)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{which} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="100000,1000000", help="rows per frame, comma-separated")
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()
    summary = {}
    for rows in (int(r) for r in args.rows.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            reference, current = make_frames(rows)
            reference.to_parquet(folder / "reference.parquet")
            current.to_parquet(folder / "current.parquet")
            del reference, current
            results = {
                "workbench": run(sys.executable, "workbench", folder),
                "SciPy": run(sys.executable, "scipy", folder),
            }
            if not args.skip_evidently:
                results["Evidently"] = run(str(ensure_evidently()), "evidently", folder)
        print(f"\n{rows:,} rows per frame × 25 columns, drift injected in {DRIFTED}")
        print(f"{'':12}{'CPU (s)':>9}{'wall (s)':>10}{'extra MiB':>11}  drifted")
        for name, r in results.items():
            print(
                f"{name:12}{r['cpu_s']:9.2f}{r['wall_s']:10.2f}{r['extra_mib']:11.0f}  "
                f"{', '.join(r['drifted'])}"  # type: ignore[arg-type]
            )
        ours = results["workbench"]
        line: dict[str, object] = {
            "found the injected drift": ours["drifted"] == sorted(DRIFTED),
            "CPU vs SciPy": round(ours["cpu_s"] / results["SciPy"]["cpu_s"], 3),  # type: ignore[operator]
        }
        if "Evidently" in results:
            theirs = results["Evidently"]
            line["same columns as Evidently"] = ours["drifted"] == theirs["drifted"]
            line["CPU vs Evidently (≤ 0.1)"] = round(ours["cpu_s"] / theirs["cpu_s"], 4)  # type: ignore[operator]
            line["memory vs Evidently (≤ 0.25)"] = round(
                ours["extra_mib"] / max(theirs["extra_mib"], 1.0),
                4,  # type: ignore[operator]
            )
        for key, value in line.items():
            print(f"  {key:32s} {value}")
        summary[rows] = line
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
