"""Serving: ``workbench serve`` vs ``mlflow models serve``, the same registered model.

Two registered models (packaged with ``package_model``):

* ``numeric``: HistGradientBoosting on 8 numeric columns (about 1.5 ms a one-row
  prediction here): what the servers themselves cost shows;
* ``pipeline``: the same with a one-hot ``ColumnTransformer`` for a text column (about
  8 ms a one-row prediction here, scikit-learn's own validation and pandas indexing):
  at concurrency 1 the model's time bounds any server.

Each is served in turn by

* ``mlflow models serve --env-manager local`` (MLflow's own scoring server),
* ``workbench serve`` with the inference log on,
* ``workbench serve --no-log``,

each driven by the same bounded load generator, ``wrk`` (Debian's package:
``apt-get install wrk``), on 127.0.0.1 with keep-alive connections: single-row
``dataframe_split`` requests at concurrency 1, 8 and 32, and a 1,000-row batch at
concurrency 1. Prediction threads are 1 everywhere (``OMP_NUM_THREADS``). After the
logged run, the inference log's rows are compared with the requests answered.

Targets (issue 8): with logging on, ≥ 2× MLflow's requests/s at concurrency 1 and ≥ 3× at
32; logging costs < 10 % on single-row traffic; p99 at concurrency 32 under a third of
MLflow's.

``--shadow ROUNDS`` (issue 27: under 10 %): what shadowing ``@challenger`` adds to the
champion's p50 latency. The ``numeric`` model is served with the inference log on, with
and without ``--shadow challenger`` (a second fit of it), in turns (plain, shadow; then
shadow, plain; ...) so that a busy neighbour weighs on both; each run takes single-row
requests at concurrency 1 and 32 from the bounded load generator of ``load.py``.
Printed: the median p50 of each setting and the overhead.

    .venv/bin/python benchmarks/serving.py [--seconds 10]
    .venv/bin/python benchmarks/serving.py --shadow 3 [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
"""


def free_port() -> int:
    from workbench.serving import free_port as pick

    return pick("127.0.0.1")


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {process.returncode}")
        try:
            if httpx.get(url + "/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer /ping in {seconds:.0f} s")


def parse_seconds(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise RuntimeError(f"wrk printed a latency this script does not read: {text!r}")
    number, unit = found.groups()
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def _match(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return found.group(1)


def run_wrk(url: str, body: Path, connections: int, seconds: int) -> dict[str, float]:
    script = body.with_suffix(".lua")
    script.write_text(LUA.format(body=body))
    out = subprocess.run(
        [
            *("wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"),
            *("-s", str(script), url + "/invocations"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {
        "rps": float(_match(r"Requests/sec:\s+([\d.]+)", out)),
        "requests": float(_match(r"(\d+) requests in", out)),
        "p50_ms": parse_seconds(_match(r"^\s+50%\s+(\S+)", out)) * 1000,
        "p99_ms": parse_seconds(_match(r"^\s+99%\s+(\S+)", out)) * 1000,
        "non_2xx": float(m.group(1)) if (m := re.search(r"Non-2xx.*?:\s+(\d+)", out)) else 0.0,
    }
    return result


def bench_project(prefix: str) -> tuple[Path, Any, pd.DataFrame]:
    """A fresh project folder, its settings, and 20,000 training rows: 8 numeric columns,
    a ``region`` text column and the target ``y``."""
    from workbench import resolve_settings

    work = Path(tempfile.mkdtemp(prefix=prefix))
    (work / "pyproject.toml").write_text('[project]\nname = "bench"\n')
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    frame["region"] = rng.choice(["north", "centre", "south"], n)
    frame["y"] = (
        frame["x0"] * 3
        - frame["x1"]
        + frame["region"].map({"north": 1.0, "centre": 0.0, "south": -1.0})
    )
    return work, resolve_settings(work), frame


def server_env(tracking_uri: str, project: Path) -> dict[str, str]:
    """The servers' environment: the project's store, one BLAS/OpenMP thread."""
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "WORKBENCH_PROJECT_DIR": str(project),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # mlflow models serve execs `uvicorn` by name: the venv's scripts must be on PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def register(settings: object, frame: pd.DataFrame, name: str, text_column: bool) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from workbench.packaging import package_model, promote

    model = HistGradientBoostingRegressor(max_iter=100)
    data = frame if text_column else frame.drop(columns="region")
    if text_column:
        encode = ColumnTransformer(
            [("region", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["region"])],
            remainder="passthrough",
        )
        model = Pipeline([("encode", encode), ("model", model)])
    model.fit(data.drop(columns="y"), data["y"])
    package_model(
        model, data, name, target="y", measure_cost=False, progress=False, settings=settings
    )
    promote(name, data.tail(1000), target="y", settings=settings)


def serve_all(
    uri: str, env: dict[str, str], work: Path, inputs: pd.DataFrame, seconds: int
) -> tuple[list[dict[str, object]], int, int]:
    """Every contender on every scenario: rows, answered requests and log rows (log on)."""
    single = work / "single.json"
    single.write_text(
        '{"dataframe_split": ' + inputs.head(1).to_json(orient="split", index=False) + "}"
    )
    batch = work / "batch.json"
    batch.write_text(
        '{"dataframe_split": ' + inputs.head(1000).to_json(orient="split", index=False) + "}"
    )

    def workbench_serve(port: int) -> list[str]:
        return [sys.executable, "-m", "workbench", "serve", uri, "--port", str(port)]

    log_dir = work / f"log-{uri.split('/')[-1].split('@')[0]}"
    contenders = {
        "mlflow models serve": lambda port: [
            *(sys.executable, "-m", "mlflow", "models", "serve", "-m", uri),
            *("--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)),
        ],
        "workbench (log on)": lambda port: [*workbench_serve(port), "--log-dir", str(log_dir)],
        "workbench (log off)": lambda port: [*workbench_serve(port), "--no-log"],
    }
    scenarios = [
        ("1 row, c=1", single, 1),
        ("1 row, c=8", single, 8),
        ("1 row, c=32", single, 32),
        ("1000 rows, c=1", batch, 1),
    ]
    rows: list[dict[str, object]] = []
    answered = 0
    for label, command in contenders.items():
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with (work / f"{label.split()[0]}-{port}.out").open("wb") as out:
            server = subprocess.Popen(command(port), env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_ready(url, server)
            for _ in range(20):  # warm caches and the first-call paths
                httpx.post(
                    url + "/invocations",
                    content=single.read_text(),
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
            for name, body, connections in scenarios:
                result = run_wrk(url, body, connections, seconds)
                rows.append({"server": label, "scenario": name, **result})
                if label == "workbench (log on)":
                    answered += int(result["requests"] - result["non_2xx"])
                print(
                    f"  {uri:28s} {label:22s} {name:15s} {result['rps']:9.1f} req/s  "
                    f"p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=60)
    from workbench.serving import read_inference_log

    logged = read_inference_log(log_dir)["request_id"].nunique()
    return rows, answered, int(logged)


def report(uri: str, rows: list[dict[str, object]]) -> dict[str, float]:
    table = pd.DataFrame(rows)
    wide = table.pivot(index="scenario", columns="server", values="rps")
    p99 = table.pivot(index="scenario", columns="server", values="p99_ms")
    print(f"\n{uri}: requests/s\n" + wide.round(1).to_string())
    print(f"\n{uri}: p99 ms\n" + p99.round(2).to_string())
    ours, off, theirs = (
        wide["workbench (log on)"],
        wide["workbench (log off)"],
        wide["mlflow models serve"],
    )
    checks = {
        "≥ 2× MLflow at c=1 (log on)": ours["1 row, c=1"] / theirs["1 row, c=1"],
        "≥ 3× MLflow at c=32 (log on)": ours["1 row, c=32"] / theirs["1 row, c=32"],
        "1000-row batch vs MLflow": ours["1000 rows, c=1"] / theirs["1000 rows, c=1"],
        "logging cost < 10 % (c=1)": 1 - ours["1 row, c=1"] / off["1 row, c=1"],
        "logging cost < 10 % (c=32)": 1 - ours["1 row, c=32"] / off["1 row, c=32"],
        "p99 c=32 < 1/3 of MLflow's": p99.loc["1 row, c=32", "workbench (log on)"]
        / p99.loc["1 row, c=32", "mlflow models serve"],
    }
    print()
    for name, value in checks.items():
        print(f"  {name:32s} {value:6.2f}")
    return {k: round(float(v), 3) for k, v in checks.items()}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) process ``pid`` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def challenger_overhead(mode: str, rounds: int, seconds: int) -> dict[str, float]:
    """The champion's p50 with and without a challenger (``mode``: ``shadow`` or
    ``canary``), at c=1 and c=32, and the server's CPU time per answered request.

    Both servers run at once on the same registry; short turns alternate between them
    (plain, challenger; then challenger, plain; ...) so that a busy neighbour weighs on
    both alike; the overhead is the median over rounds of the two turns' ratio. With a
    canary, only the requests the champion answered count towards its p50
    (``X-Model-Version``), so the figure is what the canary costs the others.
    """
    import statistics

    from _loadgen import drive
    from sklearn.ensemble import HistGradientBoostingRegressor

    from workbench import mlflow_for
    from workbench.packaging import package_model

    work, settings, frame = bench_project(f"bench-{mode}-")
    env = server_env(settings.tracking_uri, work)
    register(settings, frame, "bench-shadow", text_column=False)  # @champion, version 1
    data = frame.drop(columns="region")
    challenger = HistGradientBoostingRegressor(max_iter=150).fit(data.drop(columns="y"), data["y"])
    package_model(
        challenger,
        data,
        "bench-shadow",
        target="y",
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    client = mlflow_for(settings).MlflowClient()
    latest = max(int(v.version) for v in client.search_model_versions("name='bench-shadow'"))
    client.set_registered_model_alias("bench-shadow", "challenger", str(latest))
    champion = str(client.get_model_version_by_alias("bench-shadow", "champion").version)
    body = (
        '{"dataframe_split": '
        + data.drop(columns="y").head(1).to_json(orient="split", index=False)
        + "}"
    ).encode()
    flags = {"shadow": ["--shadow", "challenger"], "canary": ["--canary", "challenger"]}[mode]
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    p50: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    answered: dict[str, int] = {}
    try:
        for variant in ("plain", mode):
            port = free_port()
            command = [
                *(sys.executable, "-m", "workbench", "serve", "models:/bench-shadow@champion"),
                *("--port", str(port), "--log-dir", str(work / f"log-{variant}")),
                *(flags if variant == mode else []),
            ]
            with (work / f"{variant}-{port}.out").open("wb") as out:
                server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            servers[variant] = (f"http://127.0.0.1:{port}", server)
        for variant, (url, server) in servers.items():
            wait_ready(url, server)
            warm = drive(f"{url}/invocations", body, connections=8, seconds=2)
            answered[variant] = warm.ok
        order = ["plain", mode]
        for round_ in range(rounds):
            for connections in (1, 32):
                for variant in order if round_ % 2 == 0 else order[::-1]:
                    url, server = servers[variant]
                    used = cpu_seconds(server.pid)
                    result = drive(
                        f"{url}/invocations", body, connections=connections, seconds=seconds
                    )
                    time.sleep(0.5)  # what the turn left queued (the shadow's) is its own
                    used = cpu_seconds(server.pid) - used
                    assert result.errors == 0, result.summary()
                    answered[variant] = answered.get(variant, 0) + result.ok
                    mine = result.latencies_ms[np.asarray(result.versions) == champion]
                    median = float(np.percentile(mine, 50))
                    p50.setdefault((variant, connections), []).append(median)
                    cpu.setdefault((variant, connections), []).append(used / result.ok * 1000)
                    print(
                        f"  round {round_ + 1} {variant:6s} c={connections:<2d} "
                        f"champion p50 {median:6.2f} ms ({len(mine):,} answers), CPU "
                        f"{used / result.ok * 1000:5.2f} ms/request; {result.summary()}",
                        flush=True,
                    )
        health = httpx.get(servers[mode][0] + "/health", timeout=10).json()
        print(f"    {mode}: " + ", ".join(f"{k} {v}" for k, v in health.items() if mode in k))
    finally:
        for _, server in servers.values():
            server.terminate()
            server.wait(timeout=60)
    if mode == "shadow":
        from workbench.serving import read_inference_log

        mirrored = read_inference_log(work / "log-shadow" / "shadow")["request_id"].nunique()
        print(f"    the shadow logged {mirrored:,} of {answered[mode]:,} answered requests")
    checks = {}
    for connections in (1, 32):
        plain = statistics.median(p50[("plain", connections)])
        other = statistics.median(p50[(mode, connections)])
        # each round's two turns ran back to back: their ratio is what a neighbour's
        # load, changing from one round to the next, disturbs least
        paired = statistics.median(
            b / a
            for a, b in zip(p50[("plain", connections)], p50[(mode, connections)], strict=True)
        )
        plain_cpu = statistics.median(cpu[("plain", connections)])
        other_cpu = statistics.median(cpu[(mode, connections)])
        checks[f"{mode} p50 overhead c={connections} (< 10 %)"] = paired - 1
        print(
            f"  c={connections:<2d} median champion p50: plain {plain:6.2f} ms, {mode} "
            f"{other:6.2f} ms; overhead (median of the rounds' ratios) {paired - 1:+.1%}; "
            f"CPU per request {plain_cpu:.2f} → {other_cpu:.2f} ms"
        )
    return {k: round(v, 3) for k, v in checks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds per scenario (10)")
    parser.add_argument(
        "--models",
        default="numeric,pipeline",
        help="which models to serve, comma-separated (default: numeric,pipeline)",
    )
    parser.add_argument(
        "--shadow",
        type=int,
        metavar="ROUNDS",
        help="measure what shadowing @challenger adds to p50, over ROUNDS pairs of runs",
    )
    parser.add_argument(
        "--canary",
        type=int,
        metavar="ROUNDS",
        help="measure what a 10 %% canary adds to the champion-answered requests' p50",
    )
    args = parser.parse_args()
    if args.shadow:
        print(json.dumps(challenger_overhead("shadow", args.shadow, args.seconds)))
        return
    if args.canary:
        print(json.dumps(challenger_overhead("canary", args.canary, args.seconds)))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    work, settings, frame = bench_project("bench-serving-")
    env = server_env(settings.tracking_uri, work)
    results = {}
    for model in args.models.split(","):
        text_column = model == "pipeline"
        register(settings, frame, f"bench-{model}", text_column)
        inputs = frame.drop(columns=["y"] if text_column else ["y", "region"])
        uri = f"models:/bench-{model}@champion"
        rows, answered, logged = serve_all(uri, env, work, inputs, args.seconds)
        results[model] = report(uri, rows)
        print(
            f"  inference log: {logged:,} requests logged; wrk counted {answered:,} answered "
            f"(it does not count those in flight when it stops, which were answered and logged)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
