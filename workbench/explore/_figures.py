"""Figures from a :class:`Profile` (and, for pairs and time, from a sample of the data)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import DataError
from workbench._imports import require
from workbench.explore._records import ColumnProfile, Profile, set_html_renderer
from workbench.presentation import (
    Html,
    apply_theme,
    bar,
    fmt_count,
    fmt_date_range,
    fmt_number,
    fmt_percent,
    fmt_value,
    kpi_card,
    kpi_row,
    sparkline,
    table_html,
    warning_badge,
)

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = [
    "column_figure",
    "column_stats_html",
    "correlation_figure",
    "missing_figure",
    "overview_html",
    "pair_figure",
    "profile_html",
    "time_figure",
    "time_series",
]

_SAMPLE = 5_000
#: Top values drawn as bars in a category's overview cell.
_TOP_BARS = 8


def _distribution(col: ColumnProfile) -> Html:
    """The overview's small chart of a column: its histogram (numbers), its most
    frequent values as bars (categories, booleans), or how much of its span has data
    (times)."""
    if col.kind == "datetime":
        if col.coverage is None:
            return Html("")
        return Html(
            f"{bar(col.coverage, 1.0, width=56)} "
            f"<span style='font-size:12px'>{fmt_percent(col.coverage)} covered</span>"
        )
    if col.histogram[0]:
        edges, counts = col.histogram
        label = f"histogram of {col.name} from {fmt_number(edges[0])} to {fmt_number(edges[-1])}"
        return sparkline(list(counts), kind="bars", width=96, label=label)
    if col.top and not col.pii:
        tops = [n for _, n in col.top[:_TOP_BARS]]
        names = ", ".join(f"{v} {n:,}" for v, n in col.top[:3])
        return sparkline(tops, kind="bars", width=min(96, 12 * len(tops)), label=names)
    return Html("")


def _summary(col: ColumnProfile) -> str:
    """A column's telling statistics in a few words, formatted for people."""
    if col.pii:
        return "personal: values not shown"
    if col.kind == "numeric" and col.mean is not None:
        return f"mean {fmt_number(col.mean)} · {fmt_number(col.min)} to {fmt_number(col.max)}"
    if col.kind == "datetime":
        span = fmt_date_range(col.min, col.max)
        step = f" · every {_step(col.frequency)}" if col.frequency else ""
        return span + step
    if col.kind == "boolean":
        true = next((n for v, n in col.top if v is True), 0)
        return f"true in {fmt_percent(true / col.count)}" if col.count else ""
    if col.top:
        value, n = col.top[0]
        return f"most often {value} ({fmt_percent(n / col.count)})" if col.count else ""
    return ""


def _step(frequency: str) -> str:
    """``1 days 00:00:00`` → ``day``; ``0 days 01:00:00`` → ``hour``."""
    import pandas as pd

    try:
        seconds = pd.Timedelta(frequency).total_seconds()
    except ValueError:
        return frequency
    for size, name in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds == size:
            return name
        if seconds > size and seconds % size == 0:
            return f"{int(seconds // size)} {name}s"
    return frequency


def _name_cell(col: ColumnProfile, target: bool) -> Html:
    """A column's name, and under it its kind (and whether it is the target)."""
    kind = col.kind + (" · target" if target else "")
    return Html(
        f"<div style='white-space:normal'><div style='font-weight:600'>{html.escape(col.name)}"
        f"</div><div style='color:#59636E;font-size:12px'>{html.escape(kind)}</div></div>"
    )


def _summary_cell(col: ColumnProfile) -> Html:
    """The summary in words, the column's warnings as badges under it."""
    badges = "".join(f"<div style='margin-top:4px'>{warning_badge(w)}</div>" for w in col.warnings)
    return Html(
        "<div style='white-space:normal;min-width:12em;max-width:28em'>"
        f"{html.escape(_summary(col))}{badges}</div>"
    )


def overview_html(result: Profile) -> Html:
    """The profile at a glance: key figures, then a row per column with its type, a
    small chart of its distribution, missing share, distinct values, a summary in
    words and its warnings as badges."""
    cells = sum(c.count + c.missing for c in result.columns) or 1
    missing = sum(c.missing for c in result.columns)
    warnings = result.warnings
    head = kpi_row(
        [
            kpi_card("rows", fmt_count(result.rows, compact=False)),
            kpi_card("columns", len(result.columns)),
            kpi_card("missing cells", fmt_percent(missing / cells)),
            kpi_card(
                "warnings",
                len(warnings),
                status="warn" if warnings else "ok",
                status_text="check" if warnings else "none",
            ),
        ]
    )
    rows = [
        {
            "column": _name_cell(c, c.name == result.target),
            "distribution": _distribution(c),
            "missing": c.missing_share,
            "distinct": c.distinct,
            "summary": _summary_cell(c),
        }
        for c in result.columns
    ]
    table = table_html(
        rows,
        formats={"missing": "percent", "distinct": "count"},
        html=["column", "distribution", "summary"],
        max_height=None,
    )
    return Html(head + table)


def column_stats_html(result: Profile, name: str) -> Html:
    """One column's statistics as a two-column table, every value formatted."""
    col = result.column(name)
    rows: list[tuple[str, str]] = [
        ("type", f"{col.kind} ({col.dtype})"),
        ("values", fmt_count(col.count, compact=False)),
        ("missing", f"{fmt_count(col.missing, compact=False)} ({fmt_percent(col.missing_share)})"),
        ("distinct", fmt_count(col.distinct, compact=False)),
    ]
    if col.kind == "datetime":
        rows.append(("span", fmt_date_range(col.min, col.max)))
        if col.frequency:
            rows.append(("step", _step(col.frequency)))
        if col.coverage is not None:
            rows.append(("coverage", fmt_percent(col.coverage)))
    elif not col.pii:
        for label, value in (("min", col.min), ("max", col.max), ("mean", col.mean),
                             ("std", col.std), ("skew", col.skew)):  # fmt: skip
            if value is not None:
                rows.append((label, fmt_value(value)))
        rows += [(f"{k} quantile", fmt_value(v)) for k, v in col.quantiles.items()]
    if col.kind == "numeric":
        rows += [("zeros", fmt_count(col.zeros, compact=False)),
                 ("outliers (IQR)", fmt_count(col.outliers, compact=False))]  # fmt: skip
    if col.infinite:
        rows.append(("±inf (left out)", fmt_count(col.infinite, compact=False)))
    body = [{"statistic": k, "value": v} for k, v in rows]
    badges = " ".join(warning_badge(w) for w in col.warnings)
    return Html(
        (f"<div style='margin:4px 0 8px'>{badges}</div>" if badges else "")
        + table_html(body, max_height=None)
    )


def _go() -> Any:
    return require("plotly.graph_objects", feature="exploration figures")


def column_figure(result: Profile, name: str) -> go.Figure:
    """Histogram of a numeric column, bar chart of the top values of any other."""
    go_ = _go()
    col = result.column(name)
    fig = go_.Figure()
    if col.histogram[0]:
        edges, counts = col.histogram
        width = edges[1] - edges[0]
        fig.add_bar(x=list(edges[:-1]), y=list(counts), width=width, offset=0, name=name)
        fig.update_layout(xaxis_title=name, yaxis_title="rows", bargap=0.02)
    else:
        fig.add_bar(x=[str(v) for v, _ in col.top], y=[n for _, n in col.top], name=name)
        fig.update_layout(xaxis_title=f"{name} (top {len(col.top)})", yaxis_title="rows")
    apply_theme(fig, height=360)
    fig.update_layout(
        title=f"{name} — {col.kind}, {col.missing:,} missing, {col.distinct:,} distinct",
        margin={"l": 56, "r": 16, "t": 56, "b": 44},
    )
    return fig


def correlation_figure(result: Profile, method: str = "pearson") -> go.Figure:
    """A heatmap of one association matrix (click a cell in the Explorer to see the pair)."""
    go_ = _go()
    if method not in result.correlations:
        raise DataError(f"No {method!r} correlations. Methods: {list(result.correlations)}.")
    matrix = result.correlations[method]
    cols = list(matrix.columns)
    zmin = -1 if method in ("pearson", "spearman") else 0
    fig = go_.Figure(
        go_.Heatmap(
            z=[list(r) for r in matrix.values],
            x=cols,
            y=cols,
            zmin=zmin,
            zmax=1,
            colorscale="RdBu" if zmin < 0 else "Blues",
            reversescale=zmin < 0,
            hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>",
        )
    )
    apply_theme(fig, height=480)
    fig.update_layout(
        title=f"{method.replace('_', ' ')}",
        margin={"l": 16, "r": 16, "t": 56, "b": 16},
        xaxis={"automargin": True},
        yaxis={"automargin": True},
    )
    return fig


def missing_figure(result: Profile) -> go.Figure:
    """Share of missing values per column."""
    go_ = _go()
    cols = sorted(result.columns, key=lambda c: -c.missing_share)
    fig = go_.Figure(go_.Bar(x=[c.name for c in cols], y=[100 * c.missing_share for c in cols]))
    apply_theme(fig, height=360)
    fig.update_layout(
        title="missing values",
        yaxis_title="% of rows",
        margin={"l": 56, "r": 16, "t": 56, "b": 16},
        xaxis={"automargin": True},
    )
    return fig


def _labels(frame: Any, names: list[str]) -> list[Any]:
    """The frame's labels of the columns a profile names (by each label's text)."""
    by_name = {str(label): label for label in frame.columns}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise DataError(f"The frame has no column {missing[0]!r}. Columns: {list(by_name)}.")
    return [by_name[name] for name in names]


def _sample(frame: Any, columns: list[str]) -> pd.DataFrame:
    labels = _labels(frame, columns)
    part: Any = frame[labels]
    if labels != columns:  # plotly and the caller name columns as the profile does
        part = part.rename(columns=dict(zip(labels, columns, strict=True)))
    if hasattr(part, "compute"):  # Dask: a fraction, computed
        n = len(part)
        part = part.sample(frac=min(1.0, _SAMPLE / max(n, 1)), random_state=0).compute()
    elif len(part) > _SAMPLE:
        part = part.sample(_SAMPLE, random_state=0)
    sample: pd.DataFrame = part
    return sample


def pair_figure(frame: Any, x: str, y: str, result: Profile) -> go.Figure:
    """Scatter (number × number), box (category × number) or heat table (category pair)
    of a sample of at most 5,000 rows; statistics come from the profile, not the sample."""
    px = require("plotly.express", feature="exploration figures")
    kx, ky = result.column(x).kind, result.column(y).kind
    numeric = ("numeric",)
    data = _sample(frame, [x, y] if x != y else [x]).dropna()
    if kx in numeric and ky in numeric:
        fig = px.scatter(data, x=x, y=y, opacity=0.4)
    elif kx in numeric or ky in numeric:
        cat, num = (y, x) if kx in numeric else (x, y)
        fig = px.box(data.astype({cat: str}), x=cat, y=num)
    else:
        fig = px.density_heatmap(data.astype(str), x=x, y=y)
    apply_theme(fig, height=420)
    fig.update_layout(
        title=f"{y} vs {x} (sample of {len(data):,} rows)",
        margin={"l": 56, "r": 16, "t": 56, "b": 44},
    )
    return fig


def time_series(frame: Any, time: str, value: str, freq: str = "D") -> pd.DataFrame:
    """Mean of ``value`` per period (``h``, ``D``, ``W``, ``M``) of ``time``; exact, and
    works on Dask too."""

    time_label, value_label = _labels(frame, [time, value])
    stamps = frame[time_label]
    # hours and days are fixed steps; weeks and months start on calendar boundaries
    period = (
        stamps.dt.floor(freq) if freq in ("h", "D") else stamps.dt.to_period(freq).dt.start_time
    )
    grouped = frame.groupby(period.rename(time))[value_label].agg(["mean", "count"])
    out = grouped.compute() if hasattr(grouped, "compute") else grouped
    table: pd.DataFrame = out.sort_index().reset_index().rename(columns={time: "period"})
    return table


def time_figure(series: pd.DataFrame, time: str, value: str) -> go.Figure:
    """A line of the per-period means from :func:`time_series`."""
    go_ = _go()
    fig = go_.Figure(go_.Scatter(x=series["period"], y=series["mean"], mode="lines", name=value))
    apply_theme(fig, height=360)
    fig.update_layout(
        title=f"mean {value} per period of {time}",
        xaxis_title=time,
        yaxis_title=value,
        margin={"l": 56, "r": 16, "t": 56, "b": 44},
    )
    return fig


def profile_html(result: Profile, path: str | Path | None = None) -> str:
    """A self-contained HTML page: overview table, warnings and the main figures, with
    plotly inlined (share it without a kernel); :meth:`Profile.to_html` draws this page.

    Args:
        result: The profile.
        path: Where to write the page as well (UTF-8), if anywhere.

    Returns:
        The page.

    Example:
        >>> import pandas as pd
        >>> from workbench.explore import profile
        >>> page = profile_html(profile(pd.DataFrame({"x": [1.0, 2.0]}), progress=False))
        >>> page.startswith("<!doctype html>")
        True
    """
    figures = [missing_figure(result)]
    if result.correlations["pearson"].columns:
        figures.append(correlation_figure(result, "pearson"))
    figures += [column_figure(result, c.name) for c in result.columns]
    parts = [
        f.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
        for i, f in enumerate(figures)
    ]
    table = result.table().to_html(index=False, na_rep="", border=0)
    title = html.escape(result.source or "data profile")
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse;"
        "font-size:12px}td,th{padding:4px 8px;border-bottom:1px solid #ddd}</style>"
        f"</head><body><h1>{title}</h1><p>{result.rows:,} rows × {len(result.columns)} "
        f"columns, computed {html.escape(result.created_at)}</p>{table}"
        + "".join(parts)
        + "</body></html>"
    )
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


# The record draws itself through this function (Profile.to_html) without importing it.
set_html_renderer(profile_html)
