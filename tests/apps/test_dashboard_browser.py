"""The monitoring app in a real Voilà server, looked at in headless Chromium."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright import sync_api

from workbench.serving._process import free_port

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@contextlib.contextmanager
def _voila(app: str, demo_project) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """`workbench dashboard APP` on a free port; yields its URL."""
    port = free_port()
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(demo_project.settings.project_dir)}
    log = demo_project.settings.home / f"voila-{app}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "dashboard",
                app,
                "--port",
                str(port),
                "--project-dir",
                str(demo_project.settings.project_dir),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "api/status", timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    pytest.fail(f"voila exited: {log.read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def dashboard(demo_project) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with _voila("monitoring", demo_project) as url:
        yield url


def _outside_requests(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The URLs ``page`` requests from anywhere but this machine, as they happen."""
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", "localhost", None)
            and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    return outside


def _launch(playwright):  # type: ignore[no-untyped-def]
    executable = CHROMIUM if Path(CHROMIUM).exists() else None  # else Playwright's own build
    return playwright.chromium.launch(executable_path=executable, args=ARGS)


def test_dashboard_draws_its_figures_and_redraws_on_feature_pick(  # type: ignore[no-untyped-def]
    dashboard, demo_project, artifacts_dir: Path
) -> None:
    console: list[str] = []  # errors and warnings, and uncaught exceptions
    with sync_api.sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        outside = _outside_requests(page)
        page.on(
            "console",
            lambda m: (
                console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
            ),
        )
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.goto(dashboard, timeout=120_000)
        # Drawn: the drift table (HTML), the drift-over-time heatmap and the distribution's bars.
        page.wait_for_selector(".wb-drift-table tbody tr", timeout=120_000)
        page.wait_for_selector(".js-plotly-plot .heatmaplayer image", timeout=120_000)
        page.wait_for_selector(".js-plotly-plot .barlayer .point path", timeout=60_000)
        bars = page.locator(".js-plotly-plot .barlayer .point path").count()
        assert bars > 10
        first = page.eval_on_selector_all(
            ".js-plotly-plot .gtitle", "els => els.map(e => e.textContent || '')"
        )
        assert any(
            t.startswith("production_volume") or t.startswith("consumption_kwh_30d_mean")
            for t in first
        ), first
        page.screenshot(path=str(artifacts_dir / "monitoring-dashboard.png"), full_page=True)

        # choosing another feature redraws the distribution plot
        page.locator("select").first.select_option("temperature_c")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            ".some(e => e.textContent.startsWith('temperature_c'))",
            timeout=30_000,
        )
        content = page.content()
        browser.close()
    # no source code on the page, and nothing fetched from outside this machine
    assert "open_dashboard(" not in content and "DriftExplorer(" not in content
    assert outside == []
    # a clean console: no widget version mismatch ("Unsatisfied version 4.2.5 ... ^4.6.2"),
    # no error
    assert console == []
    # and a clean server log: no traitlets DeprecationWarning, notebook trust or kernel
    # TCP warning, no websocket ping warning on the visit
    log = (demo_project.settings.home / "voila-monitoring.log").read_text()
    assert [
        line
        for line in log.splitlines()
        if not line.startswith(("dashboard ", "serving at ", "ready at "))
    ] == []


#: Counts each plot's drawings (plotly emits ``plotly_afterplot`` after every one) by
#: wrapping the ``emit`` plotly gives each figure's element, before the page loads.
_COUNT_PLOTS = """
window.__plots = new Map();
Object.defineProperty(HTMLDivElement.prototype, "emit", {
  configurable: true,
  get() { return undefined; },
  set(emit) {
    const node = this;
    Object.defineProperty(node, "emit", { configurable: true, writable: true,
      value(name) {
        if (name === "plotly_afterplot") window.__plots.set(node, (window.__plots.get(node) || 0) + 1);
        return emit.apply(this, arguments);
      } });
  },
});
"""

#: A figure drawn by plotly's JupyterLab renderer in the page (attached to its body), then
#: asked to update with its size unchanged, then with a new width: the drawings after each.
_UPDATES = """async () => {
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  const factory = await window._JUPYTERLAB["jupyterlab-plotly"].get("./mimeExtension");
  const { RenderedPlotly } = factory();
  const widget = new RenderedPlotly({ mimeType: "application/vnd.plotly.v1+json" });
  widget.node.style.width = "600px";
  RenderedPlotly.attach(widget, document.body);
  const figure = { data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: {} };
  await widget.renderModel({ data: { "application/vnd.plotly.v1+json": figure }, setData() {} });
  await pause(1500);
  const drawn = window.__plots.get(widget.node);
  widget.update();
  await pause(1500);
  const same = window.__plots.get(widget.node);
  widget.node.style.width = "400px";
  widget.update();
  await pause(1500);
  const wider = window.__plots.get(widget.node);
  widget.dispose();
  return [drawn, same, wider];
}"""


def test_figures_are_not_drawn_again_for_nothing(dashboard) -> None:  # type: ignore[no-untyped-def]
    """plotly's renderer as the workbench template patches it: no PNG copy of each figure
    (a plot of its own, off the page), no redraw when its size did not change, a redraw
    when it did."""
    with sync_api.sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.add_init_script(_COUNT_PLOTS)
        page.goto(dashboard, timeout=120_000)
        page.wait_for_selector(".wb-drift-table tbody tr", timeout=120_000)
        page.wait_for_selector(".js-plotly-plot .heatmaplayer image", timeout=120_000)
        page.wait_for_selector(".js-plotly-plot .barlayer .point path", timeout=60_000)
        time.sleep(2)  # the renderer's own updates, and a PNG copy if one were made
        copies, on_page = page.evaluate(
            "() => { const plots = [...window.__plots.keys()];"
            " return [plots.filter(n => !n.isConnected).length,"
            " plots.filter(n => n.isConnected).length]; }"
        )
        drawn, same, resized = page.evaluate(_UPDATES)
        browser.close()
    assert on_page >= 2 and copies == 0, (on_page, copies)
    assert drawn >= 1 and same == drawn and resized > same, (drawn, same, resized)


# The model card, explorer and experiments apps: tests/apps/test_app_pages.py.


def test_the_voila_server_offers_the_app_and_nothing_else(dashboard) -> None:  # type: ignore[no-untyped-def]
    """No file browser, no terminal, no kernel or contents API: only the app's page."""
    with httpx.Client(base_url=dashboard, timeout=30, follow_redirects=False) as client:
        assert client.get("").status_code == 200
        for path in (
            "api/kernels",
            "api/contents",
            "api/terminals",
            "api/sessions",
            "tree",
            "lab",
            "notebooks/monitoring.ipynb",
            "voila/render/../../etc/passwd",
        ):
            r = client.get(path, follow_redirects=True)  # Voilà sends unknown paths to
            assert r.status_code in (403, 404, 405), (path, r.status_code, r.url)  # its files
        r = client.post("api/kernels", json={"name": "python3"})
        assert r.status_code in (302, 403, 404, 405), r.status_code
        assert "python3" not in r.text
