"""Load: ``workbench serve`` at concurrency 32 for 60 s, nothing lost, memory flat.

A bounded (closed-loop) load generator (``benchmarks/_loadgen.py``, ``drive``: 32
keep-alive connections, each sends its next request once the last answer is read, none
abandoned when time is up) drives the server on 127.0.0.1 with 3-row ``dataframe_split``
requests to a registered one-hot + HistGradientBoosting pipeline. Printed: requests,
errors, latency, the server's resident memory at the start and the end of the run (after
a warm-up), and the inference log's rows against the rows of the 2xx answers (the server
is stopped with SIGTERM first, so its last batch is written). ``mlflow models serve``
(which logs nothing) takes the same load on the same model for reference.

Targets (issue 12): zero errors; log rows == rows of 2xx answers; memory flat.

``--logging-cost REPS``: what the inference log costs (issue 21: < 10 %). The same model
is served with the log on and off (``--no-log``), in turns (on, off; then off, on; ...)
so that a busy neighbour on a shared machine weighs on both; each run takes single-row
requests at concurrency 1 and 32. Printed per setting: the median and the range over the
runs of requests/s, p50, p99 and the server's CPU time per request (user + system, from
``/proc``: less sensitive to neighbours than throughput), and the cost per pair of runs.
Before that, the log's own work is timed in-process with thread CPU time (what a
neighbour cannot stretch): the request's part (record, append, journal note) and the
writing thread's, per request.

``--actuals-rows N``: ``POST /actuals`` against a log of N rows (segments of
``--segment-rows``: 10,000, the most the server writes at once; a server under light
traffic writes a smaller one every second) and what it does to ``/invocations``
meanwhile: the first call (the server may still be indexing the log), later calls for
known and unknown request ids, the latency of predictions sent while those calls run,
and the server's memory at the end.

    .venv/bin/python benchmarks/load.py [--seconds 60] [--connections 32] [--no-mlflow]
    .venv/bin/python benchmarks/load.py --logging-cost 5 [--seconds 8]
    .venv/bin/python benchmarks/load.py --actuals-rows 2400000 [--segment-rows 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _loadgen import drive, rss_mb  # noqa: E402
from serving import bench_project, free_port, register, server_env, wait_ready  # noqa: E402


def run(
    name: str, cmd: list[str], env: dict[str, str], url: str, body: bytes, args: object
) -> dict[str, object]:
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(url, process)
        drive(f"{url}/invocations", body, connections=32, seconds=5)  # warm-up
        result = drive(
            f"{url}/invocations",
            body,
            connections=args.connections,  # type: ignore[attr-defined]
            seconds=args.seconds,  # type: ignore[attr-defined]
            pid=process.pid,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    memory = [m for _, m in result.rss_mb]
    print(f"{name}: {result.summary()}")
    return {
        "requests": result.requests,
        "ok": result.ok,
        "errors": result.errors,
        "requests_per_s": result.requests / result.seconds,
        "p50_ms": result.percentile(50),
        "p99_ms": result.percentile(99),
        "rss_start_mb": memory[0],
        "rss_end_mb": memory[-1],
        "rss_max_mb": max(memory),
        "ids": result.request_ids,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_ready(url, process)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _spread(values: list[float], digits: int) -> str:
    return (
        f"{statistics.median(values):.{digits}f} "
        f"[{min(values):.{digits}f}-{max(values):.{digits}f}]"
    )


def logging_parts(rounds: int = 15) -> dict[str, dict[str, float]]:
    """What logging costs in the server's own threads, measured with thread CPU time (a
    busy neighbour stretches wall time, not this): the request path (the record built and
    appended, journal note included) and the writing thread's flush, per request, for a
    single-row request of the pipeline model; batches of 300 (one second at c=1) and
    3,000 (c=32). Wall time per append: its p99 and max show stalls on the request path."""
    import tempfile
    import time

    import numpy as np

    from workbench.serving import InferenceLogWriter, LoggedRequest

    inputs = {f"x{i}": np.array([0.1 * i]) for i in range(8)}
    inputs["region"] = np.array(["north"], dtype=object)
    out: dict[str, dict[str, float]] = {}
    for batch in (300, 3000):
        folder = tempfile.mkdtemp(prefix="bench-logparts-")
        writer = InferenceLogWriter(folder, flush_seconds=3600, journal=True)
        append_cpu, flush_cpu, walls = [], [], []
        for round_ in range(rounds + 1):
            started = time.thread_time()
            for i in range(batch):
                began = time.perf_counter()
                writer.append(
                    LoggedRequest(
                        request_id=f"{round_:08x}{i:024x}",
                        timestamp_ns=time.time_ns(),
                        model_name="bench",
                        model_version="1",
                        latency_ms=1.0,
                        inputs=inputs,
                        rows=1,
                        predictions=np.array([0.5]),
                    )
                )
                walls.append(time.perf_counter() - began)
            appended = time.thread_time()
            writer.flush()
            if round_:  # the first round warms imports and allocator pools
                append_cpu.append((appended - started) / batch * 1e6)
                flush_cpu.append((time.thread_time() - appended) / batch * 1e6)
        writer.close()
        wall = np.asarray(walls[batch:]) * 1e6
        out[f"batch {batch}"] = {
            "append_cpu_us": statistics.median(append_cpu),
            "append_wall_p50_us": float(np.percentile(wall, 50)),
            "append_wall_p99_us": float(np.percentile(wall, 99)),
            "append_wall_max_us": float(wall.max()),
            "flush_cpu_us_per_request": statistics.median(flush_cpu),
        }
        o = out[f"batch {batch}"]
        print(
            f"  batches of {batch:>5,}: request path {o['append_cpu_us']:.1f} µs CPU a request "
            f"(wall p50 {o['append_wall_p50_us']:.1f}, p99 {o['append_wall_p99_us']:.1f}, "
            f"max {o['append_wall_max_us']:.0f} µs); writing thread "
            f"{o['flush_cpu_us_per_request']:.1f} µs CPU a request (median of {rounds})",
            flush=True,
        )
    return out


def logging_cost(reps: int, seconds: float) -> dict[str, object]:
    """Log on vs off on the pipeline model, single-row requests, c=1 and c=32."""
    work, settings, frame = bench_project("bench-logcost-")
    register(settings, frame, "bench-logcost", text_column=True)
    body = (
        '{"dataframe_split": '
        + frame.drop(columns="y").head(1).to_json(orient="split", index=False)
        + "}"
    ).encode()
    env = server_env(settings.tracking_uri, work)
    bin_dir = Path(sys.executable).parent
    runs: dict[str, list[tuple[float, float, float, float]]] = {}
    for rep in range(reps):
        for mode in ("on", "off") if rep % 2 == 0 else ("off", "on"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            cmd = [str(bin_dir / "workbench"), "serve", "models:/bench-logcost@champion"]
            cmd += ["--port", str(port)]
            cmd += ["--log-dir", str(work / f"log-{rep}")] if mode == "on" else ["--no-log"]
            process = _start(cmd, env, url)
            try:
                drive(f"{url}/invocations", body, connections=8, seconds=2)  # warm-up
                for connections in (1, 32):
                    before = _cpu_seconds(process.pid)
                    result = drive(
                        f"{url}/invocations", body, connections=connections, seconds=seconds
                    )
                    cpu_us = (_cpu_seconds(process.pid) - before) / result.requests * 1e6
                    if result.errors:
                        raise RuntimeError(f"log {mode}, c={connections}: {result.summary()}")
                    runs.setdefault(f"log {mode:3s} c={connections}", []).append(
                        (
                            result.requests / result.seconds,
                            result.percentile(50),
                            result.percentile(99),
                            cpu_us,
                        )
                    )
                    print(
                        f"  run {rep + 1}, log {mode:3s} c={connections:<2d}: {result.summary()}, "
                        f"server CPU {cpu_us:.0f} µs/request",
                        flush=True,
                    )
            finally:
                _stop(process)
    print("\nmedian [min-max] over the runs")
    for key, values in sorted(runs.items()):
        rps, p50, p99, cpu = (list(v) for v in zip(*values, strict=True))
        print(
            f"  {key}: {_spread(rps, 0)} requests/s, p50 {_spread(p50, 2)} ms, "
            f"p99 {_spread(p99, 2)} ms, CPU {_spread(cpu, 0)} µs/request"
        )
    costs: dict[str, object] = {}
    for connections in (1, 32):
        on, off = runs[f"log on  c={connections}"], runs[f"log off c={connections}"]
        paired = [1 - a[0] / b[0] for a, b in zip(on, off, strict=True)]
        cpu = [a[3] / b[3] - 1 for a, b in zip(on, off, strict=True)]
        median = 1 - statistics.median(a[0] for a in on) / statistics.median(b[0] for b in off)
        print(
            f"  logging cost at c={connections}: {median:.1%} of the median requests/s; "
            f"per pair of runs {', '.join(f'{c:.0%}' for c in paired)}; "
            f"CPU per request {statistics.median(cpu):+.0%} (median of pairs)"
        )
        costs[f"c={connections}"] = {"throughput": paired, "cpu": cpu}
    return {"runs": runs, "costs": costs}


def actuals_latency(rows: int, per_segment: int, calls: int = 3) -> dict[str, object]:
    """``POST /actuals`` against a log of ``rows`` rows in segments of ``per_segment``,
    predictions sent meanwhile."""
    import threading
    import time

    import httpx
    import numpy as np
    import pandas as pd

    from workbench.serving import write_segment

    work, settings, frame = bench_project("bench-actuals-")
    register(settings, frame.head(2000), "bench-actuals", text_column=True)
    log_dir = work / "log"
    log_dir.mkdir()
    started = time.perf_counter()
    for first in range(0, rows, per_segment):
        n = min(per_segment, rows - first)
        ids = np.array([f"{i:032x}" for i in range(first, first + n)], dtype=object)
        write_segment(
            pd.DataFrame(
                {
                    "x0": np.zeros(n),
                    "prediction": np.zeros(n),
                    "request_id": ids,
                    "row_in_request": np.zeros(n, dtype=np.int64),
                    "timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
                    "model_name": "bench-actuals",
                    "model_version": "1",
                    "latency_ms": 1.0,
                }
            ),
            log_dir,
            "segment",
        )
    segments = -(-rows // per_segment)
    print(f"  wrote {rows:,} rows in {segments} segments in {time.perf_counter() - started:.0f} s")
    body = (
        '{"dataframe_split": '
        + frame.drop(columns="y").head(1).to_json(orient="split", index=False)
        + "}"
    )
    env = server_env(settings.tracking_uri, work)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        str(Path(sys.executable).parent / "workbench"),
        "serve",
        "models:/bench-actuals@champion",
    ]
    process = _start([*cmd, "--port", str(port), "--log-dir", str(log_dir)], env, url)
    rng = np.random.default_rng(0)
    timings: dict[str, list[float]] = {"first": [], "known": [], "unknown": []}
    meanwhile: list[float] = []
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            client.post("/invocations", content=body, headers={"Content-Type": "application/json"})

            def actuals(kind: str, request_id: str) -> None:
                began = time.perf_counter()
                r = client.post(
                    "/actuals", json={"actuals": [{"request_id": request_id, "actual": 1.0}]}
                )
                timings[kind].append(time.perf_counter() - began)
                expected = 400 if kind == "unknown" else 200
                if r.status_code != expected:
                    raise RuntimeError(f"/actuals ({kind}): {r.status_code} {r.text[:200]}")

            plan = [("first", f"{int(rng.integers(rows)):032x}")]
            plan += [("known", f"{int(rng.integers(rows)):032x}") for _ in range(calls)]
            plan += [("unknown", f"nope-{i}") for i in range(calls)]
            for kind, request_id in plan:
                sender = threading.Thread(target=actuals, args=(kind, request_id))
                with httpx.Client(base_url=url, timeout=600) as other:
                    other.get("/ping")
                    sender.start()
                    while sender.is_alive():  # predictions while /actuals runs
                        began = time.perf_counter()
                        other.post(
                            "/invocations",
                            content=body,
                            headers={"Content-Type": "application/json"},
                        )
                        meanwhile.append(time.perf_counter() - began)
                sender.join()
        memory = rss_mb(process.pid)
    finally:
        _stop(process)
    ms = {k: [1000 * v for v in values] for k, values in timings.items()}
    during = [1000 * v for v in meanwhile]
    print(
        f"  /actuals with {rows:,} logged rows: first call {ms['first'][0]:.0f} ms; "
        f"known ids {_spread(ms['known'], 0)} ms; unknown ids {_spread(ms['unknown'], 0)} ms "
        f"(median [min-max] of {calls})"
    )
    print(
        f"  /invocations sent meanwhile: {len(during)}, p50 {statistics.median(during):.1f} ms, "
        f"max {max(during):.0f} ms; server RSS at the end {memory:.0f} MiB"
    )
    return {"rows": rows, "actuals_ms": ms, "invocations_meanwhile_ms": during, "rss_mb": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds (60)")
    parser.add_argument("--connections", type=int, default=32, help="concurrency (32)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip mlflow models serve")
    parser.add_argument(
        "--logging-cost",
        type=int,
        metavar="REPS",
        help="measure the inference log's cost instead: REPS runs each with it on and off",
    )
    parser.add_argument(
        "--actuals-rows",
        type=int,
        metavar="N",
        help="measure POST /actuals against a log of N rows instead",
    )
    parser.add_argument(
        "--segment-rows",
        type=int,
        default=10_000,
        help="rows per log segment for --actuals-rows (10,000: the server's largest)",
    )
    args = parser.parse_args()
    if args.logging_cost:
        seconds = args.seconds if args.seconds != 60.0 else 8.0
        print("the inference log's own work, in-process:")
        parts = logging_parts()
        print("served, log on vs off:")
        print(json.dumps({"parts": parts, **logging_cost(args.logging_cost, seconds)["costs"]}))
        return
    if args.actuals_rows:
        actuals_latency(args.actuals_rows, args.segment_rows)
        return

    from workbench.serving import read_inference_log

    work, settings, frame = bench_project("bench-load-")
    register(settings, frame, "bench-load", text_column=True)
    body = (
        '{"dataframe_split": '
        + frame.drop(columns="y").head(3).to_json(orient="split", index=False)
        + "}"
    ).encode()
    env = server_env(settings.tracking_uri, work)
    uri = "models:/bench-load@champion"
    bin_dir = Path(sys.executable).parent
    log_dir = work / "log"
    port = free_port()
    ours = run(
        "workbench serve",
        [str(bin_dir / "workbench"), "serve", uri, "--port", str(port), "--log-dir", str(log_dir)],
        env,
        f"http://127.0.0.1:{port}",
        body,
        args,
    )
    log = read_inference_log(log_dir)
    per_request = log.groupby("request_id").size()
    answered = ours.pop("ids")
    assert isinstance(answered, list)
    missing = [i for i in answered if i not in per_request.index]
    short = int((per_request.reindex(answered).fillna(0) != 3).sum())
    print(
        f"  inference log: {len(log):,} rows; the measured run's 2xx answers hold "
        f"{3 * len(answered):,} rows, {len(missing)} answers missing, {short} incomplete "
        f"(the log also holds the warm-up's {len(per_request) - len(answered):,} requests)"
    )
    ours.update(log_missing=len(missing), log_incomplete=short)
    results = {"workbench": ours}
    if not args.no_mlflow:
        port = free_port()
        mlflow = [str(bin_dir / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local"]
        theirs = run(
            "mlflow models serve",
            [*mlflow, "--host", "127.0.0.1", "--port", str(port)],
            env,
            f"http://127.0.0.1:{port}",
            body,
            args,
        )
        theirs.pop("ids")
        results["mlflow"] = theirs
        ratio = float(ours["requests_per_s"]) / float(theirs["requests_per_s"])  # type: ignore[arg-type]
        print(f"  requests/s, workbench / mlflow: {ratio:.2f}×")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
