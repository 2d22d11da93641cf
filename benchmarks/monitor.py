"""The scheduled monitor over 1,000,000 new log rows: ``run_monitor`` vs one pass of the
monitoring functions over the same log.

A regression model of six inputs (four numeric, two categorical, with a data contract)
is packaged once; its inference log gets 1,000,000 rows in 100 segments of 10,000 (as a
server writes them) over seven days, and actuals for half of them. Measured, in one
process, on the same files (wall seconds, imports and the setup not counted):

* ``monitor``: ``run_monitor`` reading all of it as new: drift, integrity, realized
  performance per day, recorded in MLflow and the dashboard's snapshots, alert rules;
* ``one pass``: what the dashboard does for the same results: ``collect`` (drift and
  integrity counts per day) + ``read_inference_log`` joined with ``read_actuals`` +
  ``performance_over_time``;
* ``monitor on a cluster``: the same run with ``cluster=`` a ``distributed.Client`` of
  a LocalCluster of ``--workers`` processes (started before the clock; its start is
  printed apart): the segments read and counted on the workers, the rest here; its
  results checked equal to the in-process run's, to the bit;
* ``monitor +10k``: the next run after 10,000 more rows and their actuals (what a
  scheduled run reads on a normal day: only the new rows).

Target (issue 27): the monitor run over 1,000,000 new rows under 10 s here.

    .venv/bin/python benchmarks/monitor.py [--rows 1000000] [--segments 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import resolve_settings
from workbench.data import ColumnContract, Contract
from workbench.monitoring import collect, performance_over_time, reference_profile_of, run_monitor
from workbench.packaging import package_model, promote
from workbench.serving import InferenceLogWriter, join_actuals, log_actuals, read_inference_log

INPUTS = ["x0", "x1", "x2", "x3", "site", "kind"]
CONTRACT = Contract(
    name="bench",
    columns=(
        *(ColumnContract(f"x{i}", "float", min=-50, max=50) for i in range(4)),
        ColumnContract("site", "category", categories=tuple(f"s{i}" for i in range(8))),
        ColumnContract("kind", "category", categories=("a", "b", "c")),
    ),
)


def rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame({f"x{i}": rng.normal(shift * (i == 0), 1 + i / 4, n) for i in range(4)})
    frame["site"] = np.array([f"s{i}" for i in range(8)])[rng.integers(0, 8, n)]
    frame["kind"] = np.array(["a", "b", "c"])[rng.integers(0, 3, n)]
    frame["y"] = 3 * frame["x0"] - frame["x1"] + frame["x2"] * 0.5 + rng.normal(0, 0.5, n)
    return frame


def write_log(folder: Path, model: object, rng: np.random.Generator, n: int, parts: int, day0: int):
    """``n`` rows in ``parts`` segments over seven days; returns ids and truths."""
    ids, truths = [], []
    writer = InferenceLogWriter(folder, max_rows=10**9, flush_seconds=3600)
    per = n // parts
    for part in range(parts):
        frame = rows(rng, per, shift=0.5 if part >= parts // 2 else 0.0)
        out = frame[INPUTS].copy()
        out["prediction"] = model.predict(frame[INPUTS])  # type: ignore[attr-defined]
        out["request_id"] = [f"{day0}-{part}-{i}" for i in range(per)]
        out["row_in_request"] = 0
        day = pd.Timestamp("2024-07-01", tz="UTC") + pd.Timedelta(days=day0 + part * 7 // parts)
        out["timestamp"] = day + pd.to_timedelta(rng.uniform(0, 86_399, per), unit="s")
        out["model_name"], out["model_version"], out["latency_ms"] = "bench", "1", 1.5
        writer.append(out)
        writer.flush()
        ids.append(out["request_id"].to_numpy()[::2])
        truths.append(frame["y"].to_numpy()[::2])
    writer.close()
    return np.concatenate(ids), np.concatenate(truths)


def _cpu() -> float:
    """CPU seconds of this process (every thread), user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="the cluster case's workers")
    args = parser.parse_args()
    import distributed
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
        settings = resolve_settings(project)
        rng = np.random.default_rng(0)
        train = rows(rng, 20_000)
        model = make_pipeline(
            make_column_transformer((OneHotEncoder(), ["site", "kind"]), remainder="passthrough"),
            Ridge(),
        ).fit(train[INPUTS], train["y"])
        package_model(
            model, train, "bench", target="y", contract=CONTRACT, measure_cost=False,
            progress=False, settings=settings,
        )  # fmt: skip
        promote("bench", train.head(1000), target="y", settings=settings)
        log = project / "log"
        ids, truths = write_log(log, model, rng, args.rows, args.segments, 0)
        for start in range(0, len(ids), 100_000):
            log_actuals(log, ids[start : start + 100_000], truths[start : start + 100_000])
        print(f"{args.rows:,} rows in {args.segments} segments, {len(ids):,} actuals")
        limits = {"mae": ("max", 1.0)}

        started, cpu = time.perf_counter(), _cpu()
        result = run_monitor("bench", log_dir=log, settings=settings, thresholds=limits)
        monitor, monitor_cpu = time.perf_counter() - started, _cpu() - cpu
        assert result.new_rows == args.rows, result.summary()

        started, cpu = time.perf_counter(), _cpu()
        profile = reference_profile_of("bench", settings=settings)
        overview = collect(log, profile, period="1D", contract=CONTRACT, progress=False)
        logged = read_inference_log(log)
        joined = join_actuals(
            logged[["request_id", "row_in_request", "prediction", "timestamp"]], log
        )
        performance = performance_over_time(joined, task="regression", period="1D")
        one_pass, one_pass_cpu = time.perf_counter() - started, _cpu() - cpu

        # the same numbers both ways
        ours = result.periods.set_index("window")
        np.testing.assert_allclose(ours["mae"], performance.set_index("window")["mae"])
        for start in overview.starts:
            assert ours.loc[start, "rows"] == overview.periods[start].rows
            snap = overview.drift(start, start)
            assert abs(ours.loc[start, "share_drifted"] - snap.share_drifted) < 1e-12

        # the same run with the segments counted on a cluster's workers
        apart = resolve_settings(
            project, environ={**os.environ, "WORKBENCH_MONITORING_DIR": str(project / "apart")}
        )
        started = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):  # fmt: skip
            client.run(lambda: __import__("workbench.monitoring"))  # warm the imports
            startup = time.perf_counter() - started
            before = sum(client.run(_cpu).values())
            started, cpu = time.perf_counter(), _cpu()
            spread = run_monitor(
                "bench", log_dir=log, settings=apart, thresholds=limits, cluster=client
            )
            on_cluster, cluster_cpu = time.perf_counter() - started, _cpu() - cpu
            workers_cpu = sum(client.run(_cpu).values()) - before
        pd.testing.assert_frame_equal(spread.periods, result.periods, check_exact=True)
        assert spread.alerts == result.alerts

        more_ids, more_truths = write_log(log, model, rng, 10_000, 1, 6)
        log_actuals(log, more_ids, more_truths)
        started = time.perf_counter()
        later = run_monitor("bench", log_dir=log, settings=settings, thresholds=limits)
        incremental = time.perf_counter() - started
        assert later.new_rows == 10_000, later.summary()

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':<34}{'wall':>8}     {'CPU':>8}")
    print(
        f"{'monitor (1,000,000 new rows)':<34}{monitor:8.2f} s   {monitor_cpu:8.2f} s   "
        "target < 10 s"
    )
    print(
        f"{'one pass of the functions':<34}{one_pass:8.2f} s   {one_pass_cpu:8.2f} s   "
        f"ratio {monitor / one_pass:.2f}× (wall)"
    )
    print(
        f"{'monitor on a cluster (' + str(args.workers) + ' workers)':<34}{on_cluster:8.2f} s   "
        f"{cluster_cpu:8.2f} s   here, +{workers_cpu:.2f} s on the workers; "
        f"cluster start {startup:.1f} s (not counted)"
    )
    print(f"{'monitor, next run (+10,000 rows)':<34}{incremental:8.2f} s")
    print("monitor, by step:", {k: round(v, 2) for k, v in result.timings.items()})
    print("on the cluster, by step:", {k: round(v, 2) for k, v in spread.timings.items()})
    print(result.summary())


if __name__ == "__main__":
    main()
