"""Serving: ``workbench serve`` vs ``mlflow models serve``, the same registered model.

One registered model (a HistGradientBoosting pipeline with one-hot categories, packaged
with ``package_model``), served in turn by

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

    .venv/bin/python benchmarks/serving.py [--seconds 10]
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
    from workbench.serving._process import free_port as pick

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
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


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
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": parse_seconds(re.search(r"50%\s+(\S+)", out).group(1)) * 1000,  # type: ignore[union-attr]
        "p99_ms": parse_seconds(re.search(r"99%\s+(\S+)", out).group(1)) * 1000,  # type: ignore[union-attr]
        "non_2xx": float(m.group(1)) if (m := re.search(r"Non-2xx.*?:\s+(\d+)", out)) else 0.0,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds per scenario (10)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from workbench._settings import resolve_settings
    from workbench.packaging import package_model, promote

    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    (work / "pyproject.toml").write_text('[project]\nname = "bench"\n')
    settings = resolve_settings(work)
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    frame["region"] = rng.choice(["north", "centre", "south"], n)
    frame["y"] = (
        frame["x0"] * 3
        - frame["x1"]
        + frame["region"].map({"north": 1.0, "centre": 0.0, "south": -1.0})
    )
    encode = ColumnTransformer(
        [("region", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["region"])],
        remainder="passthrough",
    )
    model = Pipeline([("encode", encode), ("model", HistGradientBoostingRegressor(max_iter=100))])
    model.fit(frame.drop(columns="y"), frame["y"])
    package_model(
        model, frame, "bench", target="y", measure_cost=False, progress=False, settings=settings
    )
    promote("bench", frame.tail(1000), target="y", settings=settings)
    inputs = frame.drop(columns="y")
    single = work / "single.json"
    single.write_text(
        '{"dataframe_split": ' + inputs.head(1).to_json(orient="split", index=False) + "}"
    )
    batch = work / "batch.json"
    batch.write_text(
        '{"dataframe_split": ' + inputs.head(1000).to_json(orient="split", index=False) + "}"
    )

    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "WORKBENCH_PROJECT_DIR": str(work),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # mlflow models serve execs `uvicorn` by name: the venv's scripts must be on PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    uri = "models:/bench@champion"

    def workbench_serve(port: int) -> list[str]:
        return [sys.executable, "-m", "workbench", "serve", uri, "--port", str(port)]

    contenders = {
        "mlflow models serve": lambda port: [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            uri,
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        "workbench (log on)": lambda port: [*workbench_serve(port), "--log-dir", str(work / "log")],
        "workbench (log off)": lambda port: [*workbench_serve(port), "--no-log"],
    }
    scenarios = [
        ("1 row, c=1", single, 1),
        ("1 row, c=8", single, 8),
        ("1 row, c=32", single, 32),
        ("1000 rows, c=1", batch, 1),
    ]
    rows = []
    answered_logged = 0
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
                result = run_wrk(url, body, connections, args.seconds)
                rows.append({"server": label, "scenario": name, **result})
                if label == "workbench (log on)":
                    answered_logged += int(result["requests"] - result["non_2xx"])
                print(
                    f"  {label:22s} {name:15s} {result['rps']:9.1f} req/s  "
                    f"p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=60)
    from workbench.serving import read_inference_log

    logged = read_inference_log(work / "log")
    table = pd.DataFrame(rows)
    wide = table.pivot(index="scenario", columns="server", values="rps")
    print("\nrequests/s\n" + wide.round(1).to_string())
    print(
        "\np99 ms\n"
        + table.pivot(index="scenario", columns="server", values="p99_ms").round(2).to_string()
    )
    ours, off, theirs = (
        wide["workbench (log on)"],
        wide["workbench (log off)"],
        wide["mlflow models serve"],
    )
    p99 = table.pivot(index="scenario", columns="server", values="p99_ms")
    checks = {
        "≥ 2× MLflow at c=1 (log on)": ours["1 row, c=1"] / theirs["1 row, c=1"],
        "≥ 3× MLflow at c=32 (log on)": ours["1 row, c=32"] / theirs["1 row, c=32"],
        "logging cost < 10 % (c=1)": 1 - ours["1 row, c=1"] / off["1 row, c=1"],
        "logging cost < 10 % (c=32)": 1 - ours["1 row, c=32"] / off["1 row, c=32"],
        "p99 c=32 < 1/3 of MLflow's": p99.loc["1 row, c=32", "workbench (log on)"]
        / p99.loc["1 row, c=32", "mlflow models serve"],
    }
    print()
    for name, value in checks.items():
        print(f"{name:32s} {value:6.2f}")
    rows_logged = int(logged["request_id"].nunique())
    print(
        f"\ninference log: {len(logged):,} rows from {rows_logged:,} requests; wrk counted "
        f"{answered_logged:,} answered requests (it does not count those in flight when it "
        f"stops, which the server still answered and logged)"
    )
    print(json.dumps({k: round(float(v), 3) for k, v in checks.items()}))


if __name__ == "__main__":
    main()
