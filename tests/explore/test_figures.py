"""The profile's static page is drawn on the presentation floor, and the record still
writes it (``Profile.to_html``) without its module importing any figures."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import workbench.explore
from workbench import WorkbenchError
from workbench.explore import Profile, _records, profile, profile_html

# plotly names each figure's <div> with a fresh UUID: the only difference between renders
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def result() -> Profile:
    frame = pd.DataFrame({"x": [1.0, 2.5, None, 4.0], "g": ["a", "b", "a", "a"], "n": [3, 1, 2, 2]})
    return profile(frame, progress=False, source="tiny.csv")


def test_profile_html_is_public_and_is_the_page_the_record_writes(
    result: Profile, tmp_path: Path
) -> None:
    assert "profile_html" in workbench.explore.__all__
    page = profile_html(result, tmp_path / "free.html")
    written = result.to_html(tmp_path / "method.html")
    assert _UUID.sub("id", page) == _UUID.sub("id", written)
    assert (tmp_path / "free.html").read_text(encoding="utf-8") == page
    assert page.startswith("<!doctype html>") and "<title>tiny.csv</title>" in page
    assert page.count("plotly.js v") >= 1 and not re.search(r"<script[^>]*\ssrc=", page)


def test_the_record_draws_through_the_renderer_the_figures_module_registered(
    result: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_records, "_html_renderer", None)
    with pytest.raises(WorkbenchError, match=r"import workbench\.explore.*profile_html"):
        result.to_html()
    _records.set_html_renderer(lambda p: f"<p>{p.rows} rows</p>")
    assert result.to_html() == "<p>4 rows</p>"
