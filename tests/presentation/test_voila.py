"""The kit inside an app: the sample notebook served by Voilà (the workbench's template,
as ``workbench dashboard`` serves apps), looked at in Chromium at 1280 and 800 px."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright import sync_api

from tests.presentation import pagecheck
from tests.presentation.samples import FIGURES, TABS, kit_notebook
from workbench.serving._process import free_port

pytestmark = pytest.mark.slow

TEMPLATES = Path(__file__).resolve().parents[2] / "workbench" / "_jupyter"


@contextlib.contextmanager
def _voila(notebook: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "JUPYTER_PATH": str(TEMPLATES)}
    argv = [str(notebook), "--template=workbench", f"--Voila.port={port}",
            "--Voila.ip=127.0.0.1", "--no-browser", "--VoilaConfiguration.strip_sources=True",
            "--VoilaConfiguration.show_tracebacks=True"]  # fmt: skip
    code = f"import sys; from workbench._jupyter._voila import serve; sys.exit(serve({argv!r}))"
    log = notebook.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "ready at" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Voilà did not start: {log.read_text(errors='replace')}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(30)


def test_kit_in_voila_fits_800_and_1280_px(tmp_path: Path, artifacts_dir: Path) -> None:
    notebook = tmp_path / "kit.ipynb"
    nbformat.write(kit_notebook(), str(notebook))
    with _voila(notebook) as url, sync_api.sync_playwright() as p:
        browser = pagecheck.launch(p)
        try:
            for width in pagecheck.WIDTHS:  # a visit per width: figures take their first
                page = browser.new_page(viewport={"width": width, "height": 900})
                refused = pagecheck.block_outside(page)
                page.goto(url, wait_until="load", timeout=90_000)
                pagecheck.wait_for_figures(page, FIGURES, timeout=90_000)
                assert pagecheck.figure_count(page) == FIGURES, width
                for tab in TABS:  # each tab shown, then looked at
                    page.locator(".lm-TabBar-tab", has_text=tab).first.click()
                    page.wait_for_timeout(300)
                    page.screenshot(
                        path=str(artifacts_dir / f"presentation-voila-{tab.lower()}-{width}.png"),
                        full_page=True,
                    )
                    assert pagecheck.overflowing(page) == [], (width, tab)
                    assert pagecheck.empty_figures(page) == [], (width, tab)
                    assert pagecheck.text_problems(page) == [], (width, tab)
                assert refused == [], width
                page.close()
        finally:
            browser.close()
