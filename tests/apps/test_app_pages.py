"""The model card, explorer, experiments and monitoring apps as a stakeholder sees them:
each served by ``workbench dashboard`` on the session's demo project and looked at in
headless Chromium on a wide screen (1920 px), a laptop (1280 px) and a narrow window
(800 px).

One visit per app (a Voilà visit starts a kernel and runs the app): the page is looked at
as first drawn at 1920 px, then with the window narrowed to each other width, as a person
resizes it. At each width: every figure drawn and non-empty; no element wider than its
box (``scrollWidth <= clientWidth``, widget boxes included); no progress bar, traceback,
``Warning``, or ``None``/``nan`` in a table. On each visit: no source code and no request
leaving the machine; and a control change redraws. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from tests.apps.test_dashboard_browser import _voila
from tests.presentation import pagecheck

pytestmark = pytest.mark.slow

TITLES = "els => els.map(e => e.textContent || '')"
FIGURE = ".js-plotly-plot"
#: The widths each app is looked at, the first drawn, the others by resizing the window.
WIDTHS = (1920, *pagecheck.WIDTHS)
#: A slider's handle sits half outside its track by design (noUiSlider): not a layout
#: that overflows (the monitoring app's date range).
_SLIDER = ("div.noUi-", "div.slider", "div.lm-Widget.widget-hslider")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = pagecheck.launch(p)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def second_version(demo_project) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A second version of the demo's model (a registry copy of the first, card and all),
    so the card's version picker has something to switch to; removed afterwards."""
    from workbench._tracking import mlflow_for

    model = demo_project.model
    client = mlflow_for(demo_project.settings).MlflowClient()
    copy = client.copy_model_version(f"models:/{model.name}/{model.version}", model.name)
    try:
        yield str(copy.version)
    finally:
        client.delete_model_version(model.name, str(copy.version))


@pytest.fixture(scope="module")
def apps(demo_project, second_version: str) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The four apps, each under ``workbench dashboard`` (started at once, side by side:
    one after the other, waiting for each to listen took a minute and a half)."""
    from concurrent.futures import ThreadPoolExecutor

    names = ("model_card", "explore", "experiments", "monitoring")
    servers = {app: _voila(app, demo_project) for app in names}
    with contextlib.ExitStack() as stack:
        with ThreadPoolExecutor(len(names)) as pool:
            started = {app: pool.submit(server.__enter__) for app, server in servers.items()}
        failed = [f.exception() for f in started.values() if f.exception() is not None]
        for app, future in started.items():  # each one that started is stopped
            if future.exception() is None:
                stack.push(servers[app].__exit__)
        if failed:
            raise failed[0]
        yield {app: future.result() for app, future in started.items()}


@contextlib.contextmanager
def _visit(browser: Any, url: str) -> Iterator[tuple[Any, list[str]]]:
    """The app at the first of :data:`WIDTHS`; the page and the requests it was refused."""
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    refused = pagecheck.block_outside(page)
    try:
        page.goto(url, timeout=180_000)
        yield page, refused
    finally:
        page.close()


def _widths(page: Any) -> Iterator[int]:
    """Each of :data:`WIDTHS` in turn, the window resized to it (and the page laid out
    anew: plotly redraws its figures at the new width)."""
    for width in WIDTHS:
        if page.viewport_size["width"] != width:
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(800)
        yield width


def _looks_right(page: Any, where: str, *, monitoring: bool = False) -> None:
    assert pagecheck.empty_figures(page) == [], where
    # the monitoring app's date slider's handles stick out of their track by design
    overflow = pagecheck.overflowing(page, strict=True)
    if monitoring:
        overflow = [o for o in overflow if not o.startswith(_SLIDER)]
    assert overflow == [], where
    assert pagecheck.text_problems(page) == [], where


def _titles(page: Any) -> list[str]:
    found: list[str] = page.eval_on_selector_all(".js-plotly-plot .gtitle", TITLES)
    return found


def test_model_card_app(  # type: ignore[no-untyped-def]
    demo_project, second_version: str, apps, browser, artifacts_dir: Path
) -> None:
    name = demo_project.model.name
    with _visit(browser, apps["model_card"]) as (page, out):
        pagecheck.wait_for_figures(page, 2, timeout=180_000)  # metrics and cost
        for width in _widths(page):
            pagecheck.screenshot(page, artifacts_dir / f"app-model_card-{width}.png")
            _looks_right(page, f"model card at {width} px")
            assert _figures_fill_their_column(page) == [], width
            # a document's width on a wide screen: figures stop at 1,280 px
            widest = page.evaluate(
                f"Math.max(...[...document.querySelectorAll({FIGURE!r})]"
                ".map(e => e.getBoundingClientRect().width))"
            )
            assert widest <= 1280, (width, widest)
        text = page.evaluate("document.body.innerText")
        # the champion says so (not the alias it was registered under first)
        assert f"{name} v{demo_project.model.version}" in text and "@champion" in text
        assert "Open in MLflow" not in text  # no UI address is configured
        assert "Downloading artifacts" not in text
        assert "allowed values" in text and "not allowed" in text  # the contract, a table
        # the tuning study, named so a reader finds it, and no path of the machine
        study = demo_project.settings.model_name + "-families-"
        assert study in text and "SQLite file .workbench/optuna.db" in text
        assert str(demo_project.settings.project_dir) not in text
        # metrics of different scales on their own axes: one panel each
        assert page.locator(".js-plotly-plot .cartesianlayer .subplot").count() >= 4
        picker = page.locator(".widget-dropdown select").first
        assert f"v{second_version}" in picker.inner_text()
        picker.select_option(label=f"v{second_version}")  # another version: its card is drawn
        page.wait_for_function(
            f"() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            f".some(e => e.textContent.startsWith('{name} v{second_version}:'))"
            " && document.body.innerText.includes('no alias')",  # v2: a copy, no alias
            timeout=60_000,
        )
        assert out == []
        content = page.content()
    assert "CardViewer(" not in content and "resolve_settings(" not in content


def test_explorer_app(apps, browser, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    tabs = ("Overview", "Column", "Correlations", "Missing values", "Time", "Quality")
    with _visit(browser, apps["explore"]) as (page, out):
        page.wait_for_selector(".lm-TabBar-tab", timeout=180_000)
        page.wait_for_selector(".wb-table", timeout=60_000)
        for width in _widths(page):
            for tab in tabs:
                page.locator(".lm-TabBar-tab", has_text=tab).first.click()
                if tab != "Overview":
                    page.wait_for_selector(
                        ".js-plotly-plot .main-svg >> visible=true", timeout=60_000
                    )
                page.wait_for_timeout(300)
                shot = artifacts_dir / f"app-explore-{tab.lower()}-{width}.png"
                pagecheck.screenshot(page, shot)
                _looks_right(page, f"explorer {tab} at {width} px")
                assert _figures_fill_their_column(page) == [], (tab, width)
                text = page.evaluate("document.body.innerText")
                if tab == "Overview":  # a chart per column, warnings as badges, dates for people
                    assert page.locator(".wb-table svg").count() >= 5
                    assert "Jul 2023" in text and "T00:00:00" not in text
                if tab == "Column":  # the target first, not the date
                    assert any(t.startswith("consumption_kwh — numeric") for t in _titles(page))
                if tab == "Quality":  # the project's contract report, no developer hint
                    assert "quarantined" in text and "Pass quality" not in text
        page.locator(".lm-TabBar-tab", has_text="Column").first.click()
        page.locator(".widget-dropdown select:visible").first.select_option("temperature_c")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            ".some(e => e.textContent.startsWith('temperature_c — numeric'))",
            timeout=60_000,
        )
        assert out == []
        content = page.content()
    assert "Explorer(" not in content


def test_experiments_app(apps, browser, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with _visit(browser, apps["experiments"]) as (page, out):
        pagecheck.wait_for_figures(page, 2, timeout=180_000)  # by family, by parameter
        for width in _widths(page):
            pagecheck.screenshot(page, artifacts_dir / f"app-experiments-{width}.png")
            _looks_right(page, f"experiments at {width} px")
            assert _figures_fill_their_column(page) == [], width
        text = page.evaluate("document.body.innerText")
        for raw in ("tags.mlflow", "metrics.", "params.", "hist_gradient_boosting"):
            assert raw not in text, raw  # names as people say them
        titles = _titles(page)
        assert any(t.startswith("RMSE by model family") for t in titles), titles
        assert any(" vs RMSE" in t and not t.startswith("categorical") for t in titles), titles
        for family in ("Lasso", "Ridge", "gradient boosting"):  # the demo's short study
            assert family in text, family
        # no browser-default double borders: tables collapse theirs
        spacing = page.eval_on_selector_all(
            "table", "els => els.map(e => getComputedStyle(e).borderCollapse)"
        )
        assert set(spacing) == {"collapse"}, spacing
        page.locator(".widget-dropdown select").nth(1).select_option(label="duration (s)")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            ".some(e => e.textContent.startsWith('duration (s) by model family'))",
            timeout=60_000,
        )
        assert out == []
        content = page.content()
    assert "ExperimentsView(" not in content


def test_monitoring_app(apps, browser, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The monitoring app's layout at each width (its story, on the demo's own dates, is
    checked by ``tests/monitoring/test_app_in_browser.py``)."""
    with _visit(browser, apps["monitoring"]) as (page, out):
        pagecheck.wait_for_figures(page, 2, timeout=180_000)  # per week, a feature
        page.wait_for_selector(".wb-drift-table tbody tr")  # and the drift table
        tabs = [t.split(" (")[0] for t in page.locator(".lm-TabBar-tab").all_inner_texts()]
        assert {"Drift", "Performance", "Alerts"} <= set(tabs), tabs
        for width in _widths(page):
            for tab in tabs:
                page.locator(".lm-TabBar-tab", has_text=tab).first.click()
                page.wait_for_timeout(500)
                shot = artifacts_dir / f"app-monitoring-{tab.lower()}-{width}.png"
                pagecheck.screenshot(page, shot)
                _looks_right(page, f"monitoring {tab} at {width} px", monitoring=True)
                assert _figures_fill_their_column(page) == [], (tab, width)
        page.locator(".lm-TabBar-tab", has_text="Drift").first.click()
        page.locator("select").first.select_option("temperature_c")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            ".some(e => e.textContent.startsWith('temperature_c'))",
            timeout=60_000,
        )
        assert out == []


_FILL_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .filter(el => el.checkVisibility())
  .map(el => {
    const column = el.closest('.jp-OutputArea-output') || el.parentElement;
    const title = (el.querySelector('.gtitle') || {}).textContent || 'a figure';
    const svg = el.querySelector('.main-svg');
    return {title, figure: svg ? svg.getBoundingClientRect().width : 0,
            column: column.clientWidth};
  })
"""


def _figures_fill_their_column(page: Any) -> list[str]:
    """Figures not drawn at their column's width (narrower than 80 % of it): drawn
    before their box had its width, or not redrawn when the window was resized."""
    found: list[dict[str, Any]] = page.evaluate(_FILL_JS)
    return [
        f"{f['title']}: {f['figure']:.0f} px in a {f['column']} px column"
        for f in found
        if f["figure"] < 0.8 * f["column"]
    ]
