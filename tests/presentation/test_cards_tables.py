"""KPI cards, traffic lights, tables and empty states: valid HTML, no ``None``/``nan``."""

from __future__ import annotations

import datetime as dt
import math
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from workbench import DataError
from workbench.presentation import (
    MISSING,
    Html,
    bar,
    empty_state,
    kpi_card,
    kpi_row,
    sparkline,
    status_of,
    table_html,
    traffic_light,
    warning_badge,
)

VOID = {"br", "img", "input", "meta", "link", "hr", "col", "wbr", "source", "area", "base"}
SVG_LEAVES = {"rect", "circle", "polyline", "path", "line"}


class _Checker(HTMLParser):
    """Balanced tags, and the text a reader sees (style and title excluded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.cells: list[list[str]] = []  # per row: the class of each th/td
        self.errors: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag in ("style", "title", "script"):
            self._hidden += 1
        if tag == "tr":
            self.cells.append([])
        if tag in ("td", "th"):
            self.cells[-1].append(dict(attrs).get("class") or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <rect/> and friends

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("style", "title", "script"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.text.append(data.strip())


def check(fragment: str) -> _Checker:
    parser = _Checker()
    parser.feed(fragment)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    words = " ".join(parser.text)
    assert not re.search(r"\b(None|nan|NaN|NaT|<NA>)\b", words), words
    return parser


def test_kpi_card_formats_its_value_and_delta() -> None:
    card = kpi_card("latency p95", 4618.658057, unit="ms", delta=-312.4, better="lower")
    assert isinstance(card, Html) and card._repr_html_() == card
    text = " ".join(check(card).text)
    assert "latency p95" in text and "4,619 ms" in text
    assert "▼" in text and "-312 ms" in text
    assert "#1A7F37" in card  # lower latency is better: the delta is green
    worse = kpi_card("MAE", 3.2, delta=0.4, better="lower")
    assert "▲" in worse and "#C62828" in worse
    share = kpi_card("requests", 1_234_567, delta=0.084, delta_format="percent")
    assert "1,234,567" in share and "+8.4%" in share


@pytest.mark.parametrize("missing", [None, math.nan, pd.NA, pd.NaT])
def test_kpi_card_shows_a_missing_value_as_a_dash(missing: object) -> None:
    text = check(kpi_card("latency p50", missing, unit="ms", delta=missing)).text
    assert MISSING in text


def test_kpi_card_escapes_text_and_keeps_html() -> None:
    card = kpi_card("<b>label</b>", "a <script> tag", note="x < y")
    assert "<script>" not in card and "&lt;script&gt;" in card and "&lt;b&gt;label" in card
    assert "<i>kept</i>" in kpi_card("value", Html("<i>kept</i>"))


def test_kpi_card_status_is_said_in_words_and_symbol() -> None:
    card = kpi_card("drifted features", "2 of 11", status="amber", status_text="2 drifted")
    text = check(card).text
    assert "!" in text and "2 drifted" in text
    assert "role='status'" in card


def test_kpi_row_wraps_and_holds_the_cards() -> None:
    row = kpi_row([kpi_card("a", 1), kpi_card("b", 2)])
    assert "flex-wrap:wrap" in row and row.count("wb-kpi'") == 2
    check(row)


@pytest.mark.parametrize(
    ("status", "word", "symbol"),
    [("ok", "OK", "✓"), ("warn", "Watch", "!"), ("alert", "Alert", "✕"),
     ("green", "OK", "✓"), ("Amber", "Watch", "!"), ("failed", "Alert", "✕"),
     (True, "OK", "✓"), (False, "Alert", "✕")],
)  # fmt: skip
def test_traffic_light_never_relies_on_colour_alone(status: object, word: str, symbol: str) -> None:
    text = check(traffic_light(status)).text
    assert symbol in text and word in text
    assert "drift" in check(traffic_light(status, "drift")).text


def test_no_default_badge_says_warning() -> None:
    # apps are checked for a stray "Warning" (a Python warning leaking): the kit says "Watch"
    for status in ("ok", "warn", "alert"):
        assert "Warning" not in traffic_light(status)


def test_unknown_status_is_named() -> None:
    with pytest.raises(DataError, match=r"'status' must be one of 'ok', 'warn' or 'alert'.*'blue'"):
        status_of("blue")
    with pytest.raises(DataError, match="'better'"):
        kpi_card("x", 1, better="up")
    with pytest.raises(DataError, match="'delta_format'"):
        kpi_card("x", 1, delta=1, delta_format="ratio")


def test_warning_badge() -> None:
    badge = warning_badge("estimated, no labels yet")
    assert "estimated, no labels yet" in check(badge).text


def test_empty_state_says_what_to_do_with_commands() -> None:
    box = empty_state(
        "No predictions logged yet",
        "Send requests to `workbench serve` or run `make demo`.",
        detail="Looked in <project>/.workbench/inference-log",
    )
    parsed = check(box)
    assert "No predictions logged yet" in parsed.text
    assert re.search(r"<code[^>]*>workbench serve</code>", box)
    assert "&lt;project&gt;" in box


FRAME = pd.DataFrame(
    {
        "column": ["age", "income", "city", "<script>alert(1)</script>"],
        "share": [0.1234, None, math.nan, 1.0],
        "rows": [1_234_567, 12, 0, pd.NA],
        "seen": [pd.Timestamp("2026-12-06"), pd.NaT, pd.Timestamp("2300-01-01").as_unit("s"),
                 None],
        "took": [dt.timedelta(seconds=75), None, dt.timedelta(0), dt.timedelta(hours=2)],
        "ok": [True, False, np.bool_(True), None],
    }
)  # fmt: skip


def test_table_formats_every_cell_and_never_says_none_or_nan() -> None:
    table = table_html(FRAME, formats={"share": "percent"})
    parsed = check(table)
    text = parsed.text
    for shown in ("12.3%", "100%", "1,234,567", "6 Dec 2026", "1 Jan 2300", "1 min 15 s",
                  "2 h", "yes", "no"):  # fmt: skip
        assert shown in text, shown
    assert text.count(MISSING) == 7
    assert "<script>alert" not in table and "&lt;script&gt;" in table


def test_numbers_are_right_aligned_with_their_header() -> None:
    parsed = check(table_html(FRAME))
    header, *rows = parsed.cells
    assert header == ["", "wb-num", "wb-num", "", "", ""]
    for row in rows:
        assert [c == "wb-num" for c in row] == [c == "wb-num" for c in header]


def test_wide_table_scrolls_in_its_own_box() -> None:
    table = table_html(pd.DataFrame([{f"c{i}": i for i in range(30)}]))
    assert "overflow:auto" in table and "max-width:100%" in table
    assert "border-collapse:collapse" in table  # single rules, no doubled borders


def test_records_mappings_series_and_index() -> None:
    records = check(table_html([{"a": 1, "b": "x"}, {"a": 2, "c": None}])).text
    assert records[:3] == ["a", "b", "c"] and records.count(MISSING) == 3
    assert "3.14" in table_html({"pi": [math.pi]})
    series = check(table_html(pd.Series([1.5, 2.5], index=["p", "q"], name="v"))).text
    assert series[:3] == ["v", "p", "1.5"]
    described = check(table_html(pd.DataFrame({"x": [1.0, 2.0]}).describe())).text
    assert "mean" in described and "1.5" in described
    assert "0" not in check(table_html(pd.DataFrame({"x": ["a"]}))).text  # no RangeIndex


def test_max_rows_says_how_many_there_are() -> None:
    table = table_html(pd.DataFrame({"n": range(1234)}), max_rows=10)
    assert table.count("<tr>") == 11
    assert "Showing the first 10 of 1,234 rows." in check(table).text


def test_sparklines_bars_and_html_cells() -> None:
    frame = pd.DataFrame(
        {
            "column": ["age", "income"],
            "status": [traffic_light("alert", "drift"), traffic_light("ok", "stable")],
            "drifted": [0.43, 0.0],
            "trend": [[0.1, None, 0.3, 0.4], [math.nan] * 3],
            "histogram": [[1, 5, 3], [2, 2, 2]],
        }
    )
    table = table_html(
        frame,
        html=["status"],
        bars=["drifted"],
        sparklines={"trend": "line", "histogram": "bars"},
        formats={"drifted": "percent"},
    )
    parsed = check(table)
    assert "drift" in parsed.text and "43%" in parsed.text
    assert table.count("<polyline") == 1 and table.count("<circle") == 2  # gap: 2 pieces
    assert table.count("<rect") == 6 + 2 * 2  # 6 histogram bars, 2 data bars of 2 rects
    assert MISSING in parsed.text  # a trend with no value


def test_sparkline_and_bar_alone() -> None:
    line = sparkline([1, 2, 3], label="rising")
    assert "aria-label='rising'" in line and "<polyline" in line
    check(line)
    assert sparkline([]) == f"<span class='wb-missing'>{MISSING}</span>"
    assert "<rect" in sparkline([3, 3, 3], kind="bars")
    assert bar(None, 1) == "" and bar(1, 0) == ""
    assert "width='32.0'" in bar(0.5, 1.0)
    with pytest.raises(DataError, match="'line' or 'bars'"):
        sparkline([1], kind="pie")


def test_empty_table_shows_an_empty_state() -> None:
    assert "Nothing to show here yet." in table_html(pd.DataFrame({"a": []}))
    shown = table_html([], empty=("No alert yet", "Set thresholds with `workbench monitor`."))
    assert "No alert yet" in shown and "<code" in shown


def test_table_names_what_it_cannot_show() -> None:
    with pytest.raises(DataError, match=r"no column 'shares' \(named in 'formats'\)"):
        table_html(FRAME, formats={"shares": "percent"})
    with pytest.raises(DataError, match="not numbers: no bars"):
        table_html(FRAME, bars=["column"])
    with pytest.raises(DataError, match="one length"):
        table_html({"a": [1, 2], "b": [1]})
    with pytest.raises(DataError, match="Got int instead"):
        table_html(3)
