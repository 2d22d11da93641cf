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

Then, accuracy where the supports part (issue 20): the normed Wasserstein distance, ours
from a reference profile and a current summary, beside SciPy's
``wasserstein_distance / std(reference)`` on the raw values (and Evidently's, which is
that, with the std at least 0.001), on overlapping, partly and fully disjoint supports,
one far outlier, and the warmer later quarter of a generated hourly temperature record;
and the test Evidently picks where a value appears that the reference never had, or a
datetime column is among the inputs. Target: within 1 % of SciPy; the same test and
verdict as Evidently.

    .venv/bin/python benchmarks/drift.py [--rows 100000,1000000] [--skip-evidently]
    .venv/bin/python benchmarks/drift.py --cases-only [--skip-evidently]
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


# -- accuracy where the supports part, and the test choice (issue 20) --------------------

CASES_CHILD = r"""
import json, sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
folder = sys.argv[1]
out = {}
for name in json.loads(open(f"{folder}/cases.json").read()):
    ref = pd.read_parquet(f"{folder}/{name}-reference.parquet")
    cur = pd.read_parquet(f"{folder}/{name}-current.parquet")
    result = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref).dict()
    columns = {}
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = metric["value"], config.get("threshold")
            method = str(config.get("method", ""))
            low = method.lower()
            is_p = "p_value" in low or "ks" in low or "chi" in low or "z" in low.split()
            drifted = (value < threshold) if is_p else (value >= threshold)
            columns[config["column"]] = {"test": method, "value": value, "drifted": bool(drifted)}
    out[name] = columns
print(json.dumps(out))
"""


def temperature_record(seed: int = 0) -> pd.DataFrame:
    """Two years of hourly temperatures (°C, to 0.1 as a station records them): a
    seasonal and a daily cycle and autocorrelated weather."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2023-01-01", "2024-12-31 23:00", freq="h")
    day = times.day_of_year.to_numpy() + times.hour.to_numpy() / 24
    weather = np.zeros(len(times))
    shocks = rng.normal(0, 0.35, len(times))
    for i in range(1, len(times)):
        weather[i] = 0.97 * weather[i - 1] + shocks[i]
    celsius = (
        11.0
        + 11.0 * np.sin(2 * np.pi * (day - 105) / 365.25)
        + 4.0 * np.sin(2 * np.pi * (times.hour.to_numpy() - 9) / 24)
        + weather
    )
    return pd.DataFrame({"timestamp": times, "temperature": celsius.round(1)})


def wasserstein_cases(seed: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, 2000)
    record = temperature_record(seed)
    when = record["timestamp"]
    spring = record.loc[(when >= "2024-01-01") & (when < "2024-04-01"), "temperature"]
    summer = record.loc[(when >= "2024-07-01") & (when < "2024-10-01"), "temperature"]
    issue = np.random.default_rng(0)  # issue 20's draw: SciPy 0.040, spread evenly 0.602
    return {
        "overlapping": (ref, rng.normal(0.4, 1.3, 20_000)),
        "partly disjoint": (ref, rng.normal(3.5, 1.0, 20_000)),
        "fully disjoint": (ref, rng.normal(12.0, 2.0, 20_000)),
        "one far outlier": (
            issue.normal(0, 1, 2000),
            np.append(issue.normal(0, 1, 99_999), 1000.0),
        ),
        "warmer quarter": (spring.to_numpy(), summer.to_numpy()),
    }


def choice_cases(seed: int = 0) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    rng = np.random.default_rng(seed)
    binary_ref = pd.DataFrame({"b": rng.integers(0, 2, 800)})
    binary_cur = pd.DataFrame({"b": np.where(rng.random(800) < 0.1, 2, rng.integers(0, 2, 800))})
    five = pd.DataFrame({"v": rng.integers(1, 6, 800).astype(float)})
    sixth = rng.integers(1, 6, 800).astype(float)
    sixth[:8] = 6.0
    ref, cur = make_frames(5000, seed)
    keep = ["num_0", "num_5", "num_6", "cat_0", "cat_2"]  # 2 of 5 drift
    ref, cur = ref[keep].copy(), cur[keep].copy()
    ref["day"] = pd.date_range("2024-01-01", periods=len(ref), freq="h").normalize()
    cur["day"] = pd.date_range("2024-09-01", periods=len(cur), freq="h").normalize()
    return {
        "new value in a binary column": (binary_ref, binary_cur),
        "a sixth value in 1 % of rows": (five, pd.DataFrame({"v": sixth})),
        "a datetime column": (ref, cur),
    }


def accuracy(skip_evidently: bool) -> None:
    from scipy import stats

    from workbench.monitoring import TESTS, ReferenceProfile, compute_drift

    evidently: dict[str, dict[str, dict[str, object]]] = {}
    numeric = wasserstein_cases()
    choices = choice_cases()
    if not skip_evidently:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            frames = {
                n: (pd.DataFrame({"x": r}), pd.DataFrame({"x": c})) for n, (r, c) in numeric.items()
            }
            frames |= choices
            for name, (ref, cur) in frames.items():
                ref.to_parquet(folder / f"{name}-reference.parquet")
                cur.to_parquet(folder / f"{name}-current.parquet")
            (folder / "cases.json").write_text(json.dumps(list(frames)))
            python = str(ensure_evidently())
            out = subprocess.run(
                [python, "-c", CASES_CHILD, str(folder)], capture_output=True, text=True
            )
            if out.returncode != 0:
                raise RuntimeError(f"Evidently failed:\n{out.stderr[-3000:]}")
            evidently = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        "\nNormed Wasserstein distance (drift at ≥ 0.1): ours from summaries vs SciPy on raw values"
    )
    print(
        f"{'case':18}{'SciPy':>10}{'ours':>10}{'ours/SciPy-1':>14}{'Evidently':>11}  beyond ref max"
    )
    for name, (ref, cur) in numeric.items():
        scipy_value = stats.wasserstein_distance(ref, cur) / np.std(ref)
        profile = ReferenceProfile.from_frame(pd.DataFrame({"x": ref}))
        summary = profile.summarize(pd.DataFrame({"x": cur}))
        ours = TESTS["wasserstein"].compute(
            profile.summary.columns["x"], summary.columns["x"], profile.edges["x"]
        )
        theirs = evidently.get(name, {}).get("x", {}).get("value")
        shown = f"{theirs:11.4f}" if isinstance(theirs, float) else f"{'-':>11}"
        print(
            f"{name:18}{scipy_value:10.4f}{ours:10.4f}{ours / scipy_value - 1:14.3%}{shown}"
            f"  {np.mean(cur > ref.max()):.0%}"
        )
    print("\nTest choice with distinct values of reference and current together; datetime columns")
    for name, (ref, cur) in choices.items():
        snap = compute_drift(ref, cur, progress=False)
        print(f"  {name}:")
        for column in snap.columns:
            print(
                f"    {column.column:8} ours      {column.test:14} {column.statistic:10.4g}  "
                f"{'drift' if column.drifted else 'no drift'}"
            )
            theirs = evidently.get(name, {}).get(column.column)
            if theirs:
                verdict = "drift" if theirs["drifted"] else "no drift"
                value = float(theirs["value"])  # type: ignore[arg-type]
                print(
                    f"    {'':8} Evidently {str(theirs['test'])[:14]:14} {value:10.4g}  {verdict}"
                )
        skipped = f"; left out: {', '.join(snap.skipped)}" if snap.skipped else ""
        line = (
            f"    dataset: ours {len(snap.drifted_columns)} of {len(snap.columns)} drifted{skipped}"
        )
        if name in evidently:
            tested = evidently[name]
            drifted = sum(bool(c["drifted"]) for c in tested.values())
            line += f"; Evidently {drifted} of {len(tested)} ({', '.join(tested)})"
        print(line)


def run(python: str, which: str, folder: Path) -> dict[str, object]:
    out = subprocess.run([python, "-c", CHILD, which, str(folder)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{which} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="100000,1000000", help="rows per frame, comma-separated")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument(
        "--cases-only", action="store_true", help="only the accuracy and test-choice cases"
    )
    args = parser.parse_args()
    accuracy(args.skip_evidently)
    if args.cases_only:
        return
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
