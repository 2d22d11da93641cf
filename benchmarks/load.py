"""Load: ``workbench serve`` at concurrency 32 for 60 s, nothing lost, memory flat.

A bounded (closed-loop) load generator (``workbench.serving._loadgen.drive``: 32
keep-alive connections, each sends its next request once the last answer is read, none
abandoned when time is up) drives the server on 127.0.0.1 with 3-row ``dataframe_split``
requests to a registered one-hot + HistGradientBoosting pipeline. Printed: requests,
errors, latency, the server's resident memory at the start and the end of the run (after
a warm-up), and the inference log's rows against the rows of the 2xx answers (the server
is stopped with SIGTERM first, so its last batch is written). ``mlflow models serve``
(which logs nothing) takes the same load on the same model for reference.

Targets (issue 12): zero errors; log rows == rows of 2xx answers; memory flat.

    .venv/bin/python benchmarks/load.py [--seconds 60] [--connections 32] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from serving import bench_project, free_port, register, server_env, wait_ready  # noqa: E402


def run(
    name: str, cmd: list[str], env: dict[str, str], url: str, body: bytes, args: object
) -> dict[str, object]:
    from workbench.serving._loadgen import drive

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds (60)")
    parser.add_argument("--connections", type=int, default=32, help="concurrency (32)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip mlflow models serve")
    args = parser.parse_args()

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
