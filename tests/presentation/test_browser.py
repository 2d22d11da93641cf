"""The kit as people see it: a sample dashboard page and an exported report, opened in
headless Chromium at 1280 and 800 px with the network cut off."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from playwright import sync_api

from tests.presentation import pagecheck
from workbench._display import figure_html
from workbench.presentation import (
    apply_theme,
    empty_state,
    fmt_count,
    fmt_date_range,
    fmt_duration,
    kpi_card,
    kpi_row,
    small_multiples,
    table_html,
    traffic_light,
    warning_badge,
)

pytestmark = pytest.mark.slow


def _windows() -> list[dt.datetime]:
    return [dt.datetime(2026, 12, 6) + dt.timedelta(days=7 * i) for i in range(12)]


def sample_page() -> str:
    """A monitoring page made only of the kit: cards, tables, figures, an empty state."""
    windows = _windows()
    cards = kpi_row(
        [
            kpi_card("model", "electricity-consumption v3", note="@champion since 2 Dec 2026"),
            kpi_card(
                "requests",
                1_234_567,
                delta=0.084,
                delta_format="percent",
                delta_label="vs last week",
            ),
            kpi_card("rows scored", fmt_count(12_345_678)),
            kpi_card("errors", 0, status="ok", status_text="none"),
            kpi_card("latency p95", 4618.658057, unit="ms", delta=-312.4, better="lower"),
            kpi_card("drifted features", "2 of 11", status="warn", status_text="2 drifted"),
            kpi_card("MAE", 3.2147, delta=0.41, better="lower", status="alert"),
        ]
    )
    drift = pd.DataFrame(
        {
            "column": ["temperature", "hour", "is_holiday", "factory_id", "humidity"],
            "status": [
                traffic_light("alert", "drift"),
                traffic_light("warn", "watch"),
                traffic_light("ok", "stable"),
                traffic_light("ok", "stable"),
                traffic_light("ok", "stable"),
            ],
            "test": ["ks", "ks", "chisquare", "chisquare", "wasserstein"],
            "statistic": [0.000123, 0.0412, 0.8, 0.93, 4618.658057],
            "rows drifted": [0.4312, 0.1204, 0.0, 0.0021, None],
            "trend": [
                [0.1, 0.12, 0.2, 0.35, 0.43],
                [0.05, 0.04, 0.08, 0.1, 0.12],
                [0, 0, 0, 0, 0],
                [0.01, 0.0, 0.002, 0.001, 0.002],
                [math.nan, 0.2, 0.3, 0.25, 0.2],
            ],
            "last seen": [windows[-1], windows[-1], windows[-2], pd.NaT, None],
        }
    )
    drift_table = table_html(
        drift,
        formats={"rows drifted": "percent", "last seen": "date"},
        bars=["rows drifted"],
        sparklines=["trend"],
        html=["status"],
        caption="Drift by feature, drifted first",
    )
    wide = pd.DataFrame(
        [
            {"trial": i, "family": ["hgb", "ridge", "forest"][i % 3], "value": 3.1 + i / 7,
             "fit time": dt.timedelta(seconds=12.5 * (i + 1)),
             **{f"param_{k}": 10 ** (k - 3) * (i + 1) for k in range(14)}}
            for i in range(30)
        ]
    )  # fmt: skip
    wide_table = table_html(
        wide, caption="Trials (30 rows, 18 columns: scrolls in its own box)", max_rows=8
    )
    metrics = small_multiples(
        windows,
        {
            "MAE": [2.8, 2.9, 3.0, 2.9, 3.1, 3.0, 3.3, 3.4, 3.2, 3.6, 3.9, 4.2],
            "latency p95": [12.3, 11.8, 13.1, 12.9, 45.2, 13.3, 12.7, 12.4, 14.1, 13.0, 12.8, 13.5],
            "requests": [
                98_000,
                101_200,
                99_850,
                104_000,
                97_300,
                102_500,
                103_900,
                105_100,
                99_700,
                100_300,
                108_900,
                110_400,
            ],
        },
        title="Performance per week",
        units={"latency p95": "ms"},
        thresholds={"MAE": ("max", 4.0)},
    )
    bins = [i * 2.5 for i in range(16)]
    reference = [math.exp(-((b - 18) ** 2) / 40) for b in bins]
    current = [math.exp(-((b - 22) ** 2) / 50) for b in bins]
    distribution = apply_theme(go.Figure())
    for name, shares in (("reference", reference), ("current", current)):
        distribution.add_bar(x=bins, y=shares, name=name, opacity=0.65, width=2.5, offset=0)
    distribution.update_layout(
        barmode="overlay",
        title="temperature: drift (ks p = 0.000123)",
        xaxis_title="temperature (°C)",
        yaxis_title="share of rows",
    )
    period = fmt_date_range(windows[0], windows[-1] + dt.timedelta(days=6))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Model monitoring</title>
<style>body{{margin:0;font-family:system-ui,sans-serif;color:#1F2328;background:#fff}}
main{{box-sizing:border-box;max-width:1200px;margin:0 auto;padding:16px 24px}}
h1{{font-size:22px;margin:8px 0 2px}} h2{{font-size:16px;margin:24px 0 8px}}
.sub{{color:#59636E;font-size:13px;margin-bottom:8px}}</style></head>
<body><main>
<h1>Model monitoring</h1>
<div class="sub">electricity-consumption v3 · {period} · window 1 week ·
last scoring took {fmt_duration(0.0123)}</div>
{cards}
<h2>Drift</h2>
{drift_table}
{figure_html(distribution, include_plotlyjs=True)}
<h2>Performance {warning_badge("estimated, no labels for the last 2 weeks")}</h2>
{figure_html(metrics)}
<h2>Tuning</h2>
{wide_table}
<h2>Alerts</h2>
{
        empty_state(
            "No alert in these dates",
            "Thresholds are set in the app's `thresholds` parameter; "
            "`workbench monitor` sends alerts when one is crossed.",
        )
    }
</main></body></html>"""


def _look(url: str, shots: Path, name: str) -> dict[int, dict[str, list[str]]]:
    """Every check of :mod:`pagecheck` at each width, with a full-page screenshot."""
    found: dict[int, dict[str, list[str]]] = {}
    with sync_api.sync_playwright() as p:
        browser = pagecheck.launch(p)
        try:
            for width in pagecheck.WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                refused = pagecheck.block_outside(page)
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(url, wait_until="load")
                pagecheck.wait_for_figures(page, 2)
                found[width] = {
                    "figures": [str(pagecheck.figure_count(page))],
                    "empty figures": pagecheck.empty_figures(page),
                    "overflowing": pagecheck.overflowing(page),
                    "text": pagecheck.text_problems(page),
                    "requests leaving the machine": refused,
                    "script errors": errors,
                }
                page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    return found


def test_sample_page_fits_800_and_1280_px_offline(tmp_path: Path, artifacts_dir: Path) -> None:
    page = tmp_path / "sample.html"
    page.write_text(sample_page(), encoding="utf-8")
    found = _look(page.as_uri(), artifacts_dir, "presentation-kit")
    for width, checks in found.items():
        assert checks.pop("figures") == ["2"], width
        assert checks == {k: [] for k in checks}, (width, checks)


def test_a_tables_charts_keep_their_width_under_jupyterlabs_svg_rule(tmp_path: Path) -> None:
    """A report carries JupyterLab's ``svg{max-width:100%}``: a chart in a cell must still
    count at its own width when the table is laid out, or a table squeezed into a narrow
    page lets the chart (and the words beside it) spill out of their cell. Checked on the
    Explorer's overview (a date column's coverage bar and words, histograms, top bars)
    at the width of a report's column on an 800 px window."""
    import numpy as np

    from workbench.explore import profile
    from workbench.explore._figures import overview_html

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2023-07-01", periods=400, freq="D"),
            "factory_id": rng.choice(["F001", "F002", "F003", "F004"], 400),
            "temperature_c": rng.normal(15, 8, 400),
            "consumption_kwh": rng.gamma(2, 2000, 400),
        }
    )
    overview = overview_html(profile(frame, target="consumption_kwh", progress=False))
    page = tmp_path / "overview.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        "body{margin:0;font-family:system-ui,sans-serif} svg{max-width:100%}"
        "main{box-sizing:border-box;width:644px}</style></head><body><main>"
        f"{overview}</main></body></html>",
        encoding="utf-8",
    )
    with sync_api.sync_playwright() as p:
        browser = pagecheck.launch(p)
        view = browser.new_page(viewport={"width": 800, "height": 900})
        view.goto(page.as_uri(), wait_until="load")
        charts = view.locator("td.wb-chart svg").count()
        spilled = pagecheck.overflowing(view, strict=True)
        browser.close()
    assert charts >= 4
    assert spilled == []


def test_a_squeezed_table_keeps_its_words_and_badges_whole(tmp_path: Path) -> None:
    """The drift table in a report's column on an 800 px window: the table may scroll in
    its box, but no traffic light breaks inside its word ("st/a/bl/e") and no test's name
    inside itself ("jensenshan/non")."""
    import numpy as np

    from workbench.monitoring import compute_drift, drift_table_html

    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "consumption_kwh_30d_mean": rng.normal(0, 1, 2000),
            "region": rng.choice(["Nord", "Centro", "Sud"], 2000),
            "temperature_c": rng.normal(15, 8, 2000),
        }
    )
    current = reference.assign(consumption_kwh_30d_mean=rng.normal(1, 1, 2000))
    page = tmp_path / "drift.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        "body{margin:0;font-family:system-ui,sans-serif} main{width:560px}</style></head>"
        f"<body><main>{drift_table_html(compute_drift(reference, current))}</main></body></html>",
        encoding="utf-8",
    )
    lines = (
        "els => els.map(e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return [e.textContent.trim(), new Set([...r.getClientRects()].map(b => b.top)).size]; })"
    )
    with sync_api.sync_playwright() as p:
        browser = pagecheck.launch(p)
        view = browser.new_page(viewport={"width": 800, "height": 900})
        view.goto(page.as_uri(), wait_until="load")
        badges = view.eval_on_selector_all("[role=status] span:last-child", lines)
        words = view.eval_on_selector_all("td.wb-text", lines)
        browser.close()
    assert sorted({text for text, _ in badges}) == ["drift", "stable"]
    assert [b for b in badges if b[1] != 1] == []
    assert "jensenshannon" in {text for text, _ in words}
    assert [w for w in words if w[1] != 1] == []
