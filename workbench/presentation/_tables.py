"""Styled HTML tables from a DataFrame or records, and the inline SVG charts their
cells may hold (sparklines, data bars).

Every cell goes through :func:`~workbench.presentation.fmt_value` (or the format named
for its column), so a table never shows ``None`` or ``nan``; numbers are right-aligned
in tabular figures with their header; a table wider than its container scrolls inside
its own box instead of widening the page.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from workbench._exceptions import DataError
from workbench.presentation._empty import empty_state
from workbench.presentation._formats import MISSING, fmt_count, fmt_value, is_bool, is_missing
from workbench.presentation._html import Html, text_of
from workbench.presentation._theme import FONT, MUTED, PALETTE, TEXT

__all__ = ["bar", "sparkline", "table_html"]

_STYLE = (
    "<style>"
    # a one-column grid whose track may shrink to nothing: however wide the table, the
    # box asks its container for no minimum width (a flex item, such as an ipywidgets
    # HTML, would otherwise grow to the table's width and spill out of its tab)
    ".wb-table-box{box-sizing:border-box;display:grid;grid-template-columns:minmax(0,1fr);"
    "max-width:100%;margin:8px 0}"
    ".wb-table-box .wb-table-scroll{justify-self:start;box-sizing:border-box;max-width:100%;"
    "overflow:auto;border:1px solid #D0D7DE;border-radius:6px;background:#fff}"
    f"div.wb-table-box table.wb-table{{border-collapse:collapse;border-spacing:0;width:auto;"
    f"table-layout:auto;margin:0;font:13px/1.45 {FONT};color:{TEXT};"
    "font-variant-numeric:tabular-nums;border:0}"
    "div.wb-table-box table.wb-table th,div.wb-table-box table.wb-table td{padding:6px 10px;"
    "border:0;border-bottom:1px solid #E6E8EB;text-align:left;vertical-align:middle;"
    "max-width:none;line-height:1.45}"
    "div.wb-table-box table.wb-table thead th{position:sticky;top:0;z-index:1;"
    f"background:#F6F8FA;color:{MUTED};font-weight:600;white-space:nowrap;"
    "border-bottom:1px solid #D0D7DE}"
    "div.wb-table-box table.wb-table tbody tr:nth-child(n){background:transparent}"
    "div.wb-table-box table.wb-table tbody tr:hover{background:#F6F8FA}"
    "div.wb-table-box table.wb-table tbody tr:last-child td{border-bottom:0}"
    "div.wb-table-box table.wb-table .wb-num{text-align:right;white-space:nowrap}"
    "div.wb-table-box table.wb-table .wb-chart{white-space:nowrap;vertical-align:middle}"
    # text breaks between words; a word breaks only where it is wider than 32em: a
    # squeezed table keeps "jensenshannon" or consumption_kwh_30d_mean whole, widening
    # its column (the box scrolls if the table cannot fit; ``anywhere`` would let the
    # table shrink a column to a letter's width)
    "div.wb-table-box table.wb-table td.wb-text{min-width:6em;max-width:32em;"
    "overflow-wrap:break-word}"
    "div.wb-table-box table.wb-table .wb-missing{color:#8C959F}"
    f".wb-table-box .wb-caption{{padding:0 2px 6px;font:600 14px/20px {FONT};color:{TEXT}}}"
    f".wb-table-box .wb-foot{{padding:4px 2px 0;color:{MUTED};font:12px/16px {FONT}}}"
    "</style>"
)


def sparkline(
    values: Sequence[Any],
    *,
    kind: str = "line",
    width: int = 96,
    height: int = 22,
    color: str = PALETTE[0],
    label: str | None = None,
) -> Html:
    """A small inline SVG chart of ``values`` (gaps where a value is missing).

    Args:
        values: The numbers, in order.
        kind: ``"line"`` (a trend) or ``"bars"`` (a histogram, counts per bin).
        width: Width in pixels.
        height: Height in pixels.
        color: Stroke or fill colour.
        label: What a screen reader says (default: first, last, min and max).

    Raises:
        DataError: ``kind`` is neither ``"line"`` nor ``"bars"``.
    """
    if kind not in ("line", "bars"):
        raise DataError(f"The 'kind' of a sparkline must be 'line' or 'bars'. Got {kind!r}.")
    ys: list[float | None] = []
    for v in values:
        ys.append(None if is_missing(v) or not math.isfinite(float(v)) else float(v))
    known = [y for y in ys if y is not None]
    if not known:
        return Html(f"<span class='wb-missing'>{MISSING}</span>")
    low, high = (min(0.0, *known), max(known)) if kind == "bars" else (min(known), max(known))
    span = (high - low) or 1.0
    pad = 2.0

    def y_of(v: float) -> float:
        return height - pad - (v - low) / span * (height - 2 * pad)

    if label is None:
        label = (
            f"from {fmt_value(known[0])} to {fmt_value(known[-1])}, "
            f"min {fmt_value(min(known))}, max {fmt_value(max(known))}"
        )
    shapes: list[str] = []
    n = len(ys)
    if kind == "bars":
        step = width / n
        for i, v in enumerate(ys):
            if v is None:
                continue
            top = y_of(v) if high != low else pad
            shapes.append(
                f"<rect x='{i * step + 0.5:.1f}' y='{top:.1f}' width='{max(step - 1, 1):.1f}' "
                f"height='{max(height - pad - top, 0.5):.1f}' fill='{color}'/>"
            )
    else:
        step = width / max(n - 1, 1)
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, v in enumerate(ys):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            y = y_of(v) if high != low else height / 2
            segment.append(f"{i * step:.1f},{y:.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                shapes.append(f"<circle cx='{cx}' cy='{cy}' r='1.5' fill='{color}'/>")
            else:
                shapes.append(
                    f"<polyline points='{' '.join(points)}' fill='none' stroke='{color}' "
                    "stroke-width='1.5' stroke-linejoin='round' stroke-linecap='round'/>"
                )
        last = segments[-1][-1].split(",")
        shapes.append(f"<circle cx='{last[0]}' cy='{last[1]}' r='2' fill='{color}'/>")
    return Html(
        f"<svg role='img' aria-label='{text_of(label)}' width='{width}' height='{height}' "
        f"viewBox='-2 0 {width + 4} {height}' "
        # its own width, always: a page's ``svg{max-width:100%}`` (JupyterLab's, in a
        # report) would let the table squeeze the cell below it and the chart spill out
        "style='vertical-align:middle;overflow:visible;max-width:none'>"
        f"<title>{text_of(label)}</title>{''.join(shapes)}</svg>"
    )


def bar(value: Any, maximum: float, *, width: int = 64, color: str = PALETTE[0]) -> Html:
    """A horizontal data bar: ``value`` as a share of ``maximum`` (inline SVG)."""
    if is_missing(value) or not maximum or not math.isfinite(float(value)):
        return Html("")
    share = min(abs(float(value)) / abs(float(maximum)), 1.0)
    return Html(
        f"<svg aria-hidden='true' width='{width}' height='10' "
        "style='vertical-align:middle;max-width:none'>"
        f"<rect width='{width}' height='10' rx='2' fill='#EEF1F4'/>"
        f"<rect width='{share * width:.1f}' height='10' rx='2' fill='{color}'/></svg>"
    )


def _frame_parts(
    data: Any, index: bool | None, limit: int
) -> tuple[list[str], list[list[Any]], int]:
    """Column names, the first ``limit`` rows and the number of rows of ``data``."""
    if hasattr(data, "to_frame") and not hasattr(data, "columns"):  # a Series
        data = data.to_frame()
    if hasattr(data, "columns") and hasattr(data, "itertuples"):  # a DataFrame
        total = len(data)
        head = data.head(limit)
        names = [
            " / ".join(str(p) for p in c) if isinstance(c, tuple) else str(c) for c in head.columns
        ]
        idx = head.index
        default = type(idx).__name__ == "RangeIndex" and idx.start == 0 and idx.step == 1
        show = (not default) if index is None else index
        rows = [list(r) for r in head.itertuples(index=False, name=None)]
        if show:
            index_names = [n for n in idx.names if n is not None]
            names = [" / ".join(str(n) for n in index_names) or "", *names]
            rows = [[k, *r] for k, r in zip(idx.tolist(), rows, strict=True)]
        return names, rows, total
    if isinstance(data, Mapping):
        names = [str(k) for k in data]
        columns = [list(v) for v in data.values()]
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise DataError(
                f"The columns of a table must have one length. Got lengths {sorted(lengths)} "
                f"for {names}."
            )
        total = lengths.pop() if lengths else 0
        return names, [list(r) for r in zip(*columns, strict=True)][:limit], total
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        records = list(data)
        if all(isinstance(r, Mapping) for r in records):
            names = list(dict.fromkeys(str(k) for r in records for k in r))
            rows = [[r.get(n) for n in names] for r in records[:limit]]
            return names, rows, len(records)
    raise DataError(
        "A table takes a pandas DataFrame or Series, a mapping of columns, or a list of "
        f"records (dicts). Got {type(data).__name__} instead."
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not is_bool(v) and not is_missing(v)


def table_html(
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    index: bool | None = None,
    caption: str | None = None,
    max_rows: int = 200,
    max_height: int | None = 480,
    bars: Sequence[str] = (),
    sparklines: Mapping[str, str] | Sequence[str] = (),
    html: Sequence[str] = (),
    empty: str | tuple[str, str] | None = None,
) -> Html:
    """A table a person can read: formatted cells, numbers right-aligned under a
    right-aligned header, single rules between rows, a sticky header, and its own
    scroll box when wider (or taller) than the space it has.

    Args:
        data: A pandas DataFrame or Series, a mapping of column → values, or a list of
            records (dicts). Cells that are :class:`Html` (a traffic light) are kept.
        columns: The columns shown, in this order (default: all).
        labels: Column → header text.
        formats: Column → a format name (``"percent"``, ``"duration"``, ``"count"``, …,
            see :data:`FORMATS`) or a function of the value returning text.
        index: Show a DataFrame's index (default: unless it is the default 0..n-1).
        caption: A title above the table.
        max_rows: Rows shown; a line under the table says how many there are.
        max_height: Height in pixels past which the table scrolls (``None``: no limit).
        bars: Numeric columns drawn with a data bar beside each number.
        sparklines: Columns whose cells are sequences of numbers, drawn as sparklines;
            a mapping gives each its kind (``"line"`` or ``"bars"``).
        html: Columns whose text is markup to keep as is (traffic lights, links); a
            cell that is :class:`Html` is kept in any column (pandas 3 turns a column
            of them into plain strings, hence this).
        empty: What to say when there is no row: a message, or ``(message, action)``.

    Returns:
        The table as :class:`Html` (with a small scoped ``<style>``).

    Raises:
        DataError: ``data`` is not tabular, or a column named in ``columns``, ``formats``,
            ``bars``, ``sparklines`` or ``html`` is not in it.

    Example:
        >>> html = table_html([{"column": "age", "share": 0.1234}], formats={"share": "percent"})
        >>> "12.3%" in html
        True
    """
    if max_rows < 1:
        raise DataError(f"The 'max_rows' parameter must be at least 1. Got {max_rows!r}.")
    names, rows, total = _frame_parts(data, index, max_rows)
    formats = dict(formats or {})
    labels = dict(labels or {})
    kinds = (
        dict(sparklines) if isinstance(sparklines, Mapping) else dict.fromkeys(sparklines, "line")
    )
    for option, named in (("columns", columns or ()), ("formats", formats), ("bars", bars),
                          ("sparklines", kinds), ("html", html)):  # fmt: skip
        unknown = [c for c in named if c not in names]
        if unknown:
            raise DataError(
                f"The table has no column {unknown[0]!r} (named in {option!r}). Columns: {names}."
            )
    keep = [names.index(c) for c in columns] if columns else list(range(len(names)))
    if not rows:
        if isinstance(empty, tuple):
            return empty_state(*empty)
        return empty_state(empty or "Nothing to show here yet.")
    numeric = {
        i
        for i in keep
        if names[i] not in kinds
        and any(_is_number(r[i]) for r in rows)
        and names[i] not in html
        and all(_is_number(r[i]) or is_missing(r[i]) or isinstance(r[i], Html) for r in rows)
    }
    maxima = {
        i: max((abs(float(r[i])) for r in rows if _is_number(r[i])), default=0.0)
        for i in keep
        if names[i] in bars
    }
    for i in maxima:
        if i not in numeric:
            raise DataError(f"The column {names[i]!r} has values that are not numbers: no bars.")

    def cell(i: int, value: Any) -> str:
        name = names[i]
        if isinstance(value, Html) or (name in html and isinstance(value, str)):
            return f"<td class='wb-chart'>{value}</td>"
        if name in kinds:
            if is_missing(value) or not hasattr(value, "__iter__") or isinstance(value, str):
                return f"<td class='wb-chart'><span class='wb-missing'>{MISSING}</span></td>"
            return f"<td class='wb-chart'>{sparkline(list(value), kind=kinds[name])}</td>"
        text = fmt_value(value, formats.get(name)) if name in formats else fmt_value(value)
        shown = f"<span class='wb-missing'>{MISSING}</span>" if text == MISSING else text_of(text)
        if i in numeric:
            if i in maxima:
                shown = f"{bar(value, maxima[i])} {shown}"
            return f"<td class='wb-num'>{shown}</td>"
        return f"<td class='wb-text'>{shown}</td>"

    head = "".join(
        f"<th scope='col'{' class=' + repr('wb-num') if i in numeric else ''}>"
        f"{text_of(labels.get(names[i], names[i]))}</th>"
        for i in keep
    )
    body = "".join("<tr>" + "".join(cell(i, r[i]) for i in keep) + "</tr>" for r in rows)
    cap = f"<div class='wb-caption'>{text_of(caption)}</div>" if caption else ""
    height = f" style='max-height:{int(max_height)}px'" if max_height else ""
    foot = (
        f"<div class='wb-foot'>Showing the first {fmt_count(len(rows))} of "
        f"{fmt_count(total, 'row', compact=False)}.</div>"
        if total > len(rows)
        else ""
    )
    return Html(
        f"<div class='wb-table-box'>{_STYLE}{cap}<div class='wb-table-scroll'{height}>"
        f"<table class='wb-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f"</table></div>{foot}</div>"
    )
