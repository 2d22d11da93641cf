"""The monitoring app after the demo, in a real Voilà server and headless Chromium, at
1280 and 800 px: the story the demo's traffic tells, on its own dates.

Screenshots go to ``test-artifacts/monitoring-app-*.png``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api

from tests.presentation import pagecheck
from workbench.serving._process import free_port

pytestmark = pytest.mark.slow

#: A slider's handle sits half outside its track by design (noUiSlider): not a layout
#: that overflows, so its parts are left out of the overflow check.
_SLIDER = ("div.noUi-", "div.slider", "div.lm-Widget.widget-hslider")

_HEATMAP_JS = """
() => {
  const plot = [...document.querySelectorAll('.js-plotly-plot')]
    .find(p => p.data && p.data[0] && p.data[0].type === 'heatmap');
  if (!plot) return null;
  const t = plot.data[0];
  return {x: t.x.map(String), y: t.y, z: t.z, title: plot.layout.title.text};
}
"""


@pytest.fixture(scope="module")
def app(demo_project) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """`workbench dashboard monitoring` on the demo project, once its page is ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["WORKBENCH_PROJECT_DIR"] = str(demo_project.settings.project_dir)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "workbench", "dashboard", "monitoring"),
            *("--port", str(free_port())),
            *("--project-dir", str(demo_project.settings.project_dir)),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    url, seen = None, []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("ready at"):
            url = line.split()[-1]
            break
    try:
        assert url, "".join(seen)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def _problems(page: sync_api.Page) -> list[str]:
    overflow = [o for o in pagecheck.overflowing(page) if not o.startswith(_SLIDER)]
    return pagecheck.empty_figures(page) + overflow + pagecheck.text_problems(page)


@pytest.mark.parametrize("width", pagecheck.WIDTHS)
def test_the_app_tells_the_demo_story_on_its_own_dates(  # type: ignore[no-untyped-def]
    app: str, width: int, artifacts_dir: Path
) -> None:
    with sync_api.sync_playwright() as p:
        browser = pagecheck.launch(p)
        page = browser.new_page(viewport={"width": width, "height": 2400})
        refused = pagecheck.block_outside(page)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(app, timeout=120_000)
        pagecheck.wait_for_figures(page, 2)  # drift per week, a feature
        page.wait_for_selector(".wb-drift-table tbody tr")
        page.screenshot(path=str(artifacts_dir / f"monitoring-app-{width}.png"))
        assert _problems(page) == []
        # the date range spans the traffic's own year, on its event time, never cut
        when = page.locator(".wb-when").inner_text()
        assert re.match(r"\d+ Jun 2024 – 30 Jun 2025 · 57 of 57 weeks", when), when
        assert "event time (date)" in when
        # drift per week, each against the same days of the reference year: production
        # volume green before 1 July and red from it on (a week of the test's 4 factories
        # is 28 rows: a holiday week may hold), the season of temperature green
        heat = page.evaluate(_HEATMAP_JS)
        assert heat["title"] == "Drift per week vs the same days of the reference year"
        row = heat["z"][heat["y"].index("production_volume")]
        after = [z for x, z in zip(heat["x"], row, strict=True) if x >= "2024-07-01"]
        before = [z for x, z in zip(heat["x"], row, strict=True) if x < "2024-07-01"]
        assert after and sum(after) >= 0.8 * len(after), after
        assert before and not any(before), before
        temperature = heat["z"][heat["y"].index("temperature_c")]
        assert sum(temperature) <= 0.1 * len(temperature), temperature
        # a control change redraws: the range (keyboard on the slider's handle) ...
        page.locator(".noUi-handle-lower").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => document.querySelector('.wb-when').innerText.includes('56 of 57 weeks')",
            timeout=30_000,
        )
        page.wait_for_function(f"() => ({_HEATMAP_JS})().x.length === 56", timeout=30_000)
        # ... and the feature picker
        page.locator("select").first.select_option("temperature_c")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            ".some(e => e.textContent.startsWith('temperature_c'))",
            timeout=30_000,
        )
        # performance per week on the same dates, its bound from the model's validation
        page.locator(".lm-TabBar-tab", has_text="Performance").first.click()
        page.wait_for_selector(".js-plotly-plot .scatterlayer .point", timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir / f"monitoring-app-performance-{width}.png"))
        assert _problems(page) == []
        text = page.locator("body").inner_text()
        assert "1.5 × validation mae of v" in text
        page.locator(".lm-TabBar-tab", has_text="Alerts").first.click()
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir / f"monitoring-app-alerts-{width}.png"))
        assert _problems(page) == []
        browser.close()
    assert refused == [] and errors == []
