"""The page checks themselves, on pages made to fail them: a check that finds nothing
on a broken page would pass every app."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright import sync_api

from tests.presentation import pagecheck

pytestmark = pytest.mark.slow

PAGE = """<!doctype html><html><body style='margin:0'>
<div id='box' style='width:300px;overflow:auto'><div style='width:304px'>4 px too wide</div></div>
<div class='wb-table-box'><div class='wb-table-scroll' style='width:200px;overflow:auto'>
<table><tr><td style='white-space:nowrap'>a table wider than its box scrolls in it, as
designed</td></tr></table></div></div>
<table><tr><td>None</td><td>Downloading artifacts:  40%|███     | 4/10</td></tr></table>
<div style='height:3000px'>tall</div>
</body></html>"""


def test_checks_find_what_they_look_for(tmp_path: Path) -> None:
    with sync_api.sync_playwright() as p:
        browser = pagecheck.launch(p)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 600})
            page.set_content(PAGE)
            # a widget box hides a child 4 px too wide behind a scroll bar: strict finds it,
            # the table's own scroll box passes both ways
            assert pagecheck.overflowing(page) == []
            assert pagecheck.overflowing(page, strict=True) == ["div#box: content 304 px in 300 px"]
            problems = pagecheck.text_problems(page)
            assert "a table cell says 'None'" in problems
            assert any(p.startswith("a progress bar") for p in problems)
            shot = tmp_path / "tall.png"
            pagecheck.screenshot(page, shot)
            assert page.viewport_size == {"width": 800, "height": 600}  # put back
            from PIL import Image

            assert Image.open(shot).size[1] >= 3000  # the whole page, not the window
        finally:
            browser.close()
