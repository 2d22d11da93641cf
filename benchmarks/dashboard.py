"""The monitoring dashboard on a 1,000,000-row inference log: time until it is drawn.

A project with a registered model (its reference profile stored by ``package_model``)
and an inference log of ``--rows`` rows (requests of 10 rows over 30 days, one Parquet
segment a day, as the server writes them). Measured:

* in process: ``open_dashboard(...)`` (one Dask pass over the log → summaries per day →
  the widget with its figures);
* in a browser: ``workbench dashboard monitoring`` (Voilà on 127.0.0.1) opened in headless
  Chromium, from navigation until the drift table and the distribution's bars are drawn;
* the bytes the page received (summaries, not rows, go to the browser).

Target (issue 10): under 5 s on 1,000,000 rows.

    .venv/bin/python benchmarks/dashboard.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

CHROMIUM = "/usr/bin/chromium"


def make_project(folder: Path, rows: int) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from workbench._settings import resolve_settings
    from workbench.packaging import package_model, promote
    from workbench.serving import InferenceLogWriter
    from workbench.serving._log import LoggedRequest

    (folder / "pyproject.toml").write_text(
        '[project]\nname = "bench"\n[tool.workbench]\nmodel_name = "bench"\n'
    )
    settings = resolve_settings(folder)
    rng = np.random.default_rng(0)
    n = 20_000
    train = pd.DataFrame({f"x{i}": rng.normal(0, 1, n) for i in range(6)})
    train["y"] = train["x0"] * 2 + train["x1"]
    model = HistGradientBoostingRegressor(max_iter=50).fit(train.drop(columns="y"), train["y"])
    package_model(
        model, train, "bench", target="y", measure_cost=False, progress=False, settings=settings
    )
    promote("bench", train.tail(500), target="y", settings=settings)
    writer = InferenceLogWriter(settings.inference_log_dir, flush_seconds=3600, max_rows=10**9)
    per_request, days = 10, 30
    requests = rows // per_request
    start = pd.Timestamp("2024-07-01", tz="UTC").value
    for day in range(days):
        for r in range(requests // days):
            inputs = {
                f"x{i}": rng.normal(0.3 * (day > 15) * (i < 2), 1, per_request) for i in range(6)
            }
            writer.append(
                LoggedRequest(
                    request_id=f"{day}-{r}",
                    timestamp_ns=start + day * 86_400 * 10**9 + r * 10**6,
                    model_name="bench",
                    model_version="1",
                    latency_ms=float(rng.gamma(2.0, 2.0)),
                    inputs=inputs,
                    rows=per_request,
                    predictions=inputs["x0"] * 2 + inputs["x1"],
                )
            )
        writer.flush()
    writer.close()
    print(f"log: {writer.rows_written:,} rows in {days} segments at {settings.inference_log_dir}")


def in_process(folder: Path) -> float:
    code = (
        "import time; from workbench._settings import resolve_settings;"
        "from workbench.monitoring import open_dashboard;"
        f"s = resolve_settings({str(folder)!r}); t = time.perf_counter();"
        "d = open_dashboard('bench', settings=s, progress=False);"
        "print(time.perf_counter() - t, d.overview.kpis()['rows'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, rows = out.stdout.split()[-2:]
    print(f"open_dashboard in process: {float(seconds):.2f} s for {int(rows):,} rows")
    return float(seconds)


def in_browser(folder: Path) -> tuple[float, int]:
    from playwright import sync_api

    from workbench.serving._process import free_port

    port = free_port()
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(folder)}
    with (folder / "voila.log").open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "dashboard",
                "monitoring",
                "--port",
                str(port),
                "--project-dir",
                str(folder),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(180):
            try:
                httpx.get(url + "api/status", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        received = 0
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM if Path(CHROMIUM).exists() else None,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1400})

            def count(response: object) -> None:
                nonlocal received
                with contextlib.suppress(Exception):  # redirects and the like have no body
                    received += len(response.body())  # type: ignore[attr-defined]

            page.on("response", count)
            visits = []
            for visit in range(2):  # the first right after start; the second ~30 s later
                if visit:
                    time.sleep(30)  # someone comes by later: the next kernel ran ahead
                received = 0
                started = time.perf_counter()
                page.goto(url, timeout=120_000)
                page.wait_for_selector(".js-plotly-plot .table", timeout=120_000)
                page.wait_for_function(
                    "() => document.querySelectorAll('.js-plotly-plot .barlayer .point path')"
                    ".length > 10",
                    timeout=120_000,
                )
                visits.append(time.perf_counter() - started)
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    print(
        f"Voilà page drawn in Chromium: {visits[0]:.2f} s on the first visit (right after "
        f"the server started), {visits[1]:.2f} s on a later one (its kernel ran ahead); "
        f"the page received {received / 1e6:.2f} MB over HTTP"
    )
    return visits[1], received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_project(folder, args.rows)
        process = in_process(folder)
        browser, _ = in_browser(folder)
    print(
        f"\ntarget < 5 s: in process {process:.2f} s (imports included), in the browser, "
        f"later visit {browser:.2f} s "
        f"({'met' if browser < 5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
