"""Figures drawn from monitoring's records (pure: a snapshot or a frame of metrics per
period in, a plotly figure or an HTML fragment out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench._imports import require
from workbench.monitoring._alerts import shown
from workbench.monitoring._drift import DriftSnapshot

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "distribution_figure",
    "drift_over_time_figure",
    "drift_table_figure",
    "drift_table_html",
    "kpi_cards",
    "metric_figure",
]

RED, GREEN = "#d62728", "#2ca02c"
REFERENCE_COLOR, CURRENT_COLOR = "#1f77b4", "#ff7f0e"


def drift_table_figure(snapshot: DriftSnapshot) -> go.Figure:
    """A table of columns with a traffic light per verdict, drifted columns first; the
    title names the columns left out (datetime)."""
    go_: Any = require("plotly.graph_objects", feature="monitoring figures")
    rows, title, notes = _table_parts(snapshot)
    light = ["● drift" if c.drifted else "● stable" for c in rows]
    colors = [RED if c.drifted else GREEN for c in rows]
    fig = go_.Figure(
        go_.Table(
            header={
                "values": ["column", "status", "test", "value", "threshold", "kind"],
                "fill_color": "#eeeeee",
                "align": "left",
                "height": 28,
            },
            columnwidth=[3.2, 1.2, 1.7, 1, 1, 1.2],  # column names are the long ones
            cells={
                "values": [
                    [c.column for c in rows],
                    light,
                    [c.test for c in rows],
                    [f"{c.statistic:.3g}" for c in rows],
                    [_threshold_text(c.test, c.threshold) for c in rows],
                    [c.kind for c in rows],
                ],
                "font": {"color": ["black", colors, "black", "black", "black", "black"]},
                "align": "left",
                "height": 26,  # plotly's 20 px cut the descenders (column names' underscores)
            },
        )
    )
    fig.update_layout(
        title=title + "".join(f"<br><sup>{note}</sup>" for note in notes),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return _themed(fig, height=80 + 28 * max(len(rows), 1))


def _table_parts(snapshot: DriftSnapshot) -> tuple[list[Any], str, list[str]]:
    """What both drift tables show: the columns, drifted first; the title; the notes
    under it (whose rows were tested against whose reference, the columns left out)."""
    rows = sorted(snapshot.columns, key=lambda c: (not c.drifted, c.column))
    title = (
        f"Drift: {len(snapshot.drifted_columns)} of {len(snapshot.columns)} columns"
        f"{' (dataset drift)' if snapshot.dataset_drift else ''}"
    )
    notes = [_version_note(snapshot, brief=True)]
    if snapshot.skipped:
        why = sorted({reason.split(":")[0] for reason in snapshot.skipped.values()})
        notes.append(f"not tested: {', '.join(sorted(snapshot.skipped))} ({'; '.join(why)})")
    return rows, title, [note for note in notes if note]


def _threshold_text(test: str, threshold: float) -> str:
    return f"p < {threshold:g}" if test in ("ks", "chisquare") else f"≥ {threshold:g}"


def drift_table_html(snapshot: DriftSnapshot) -> str:
    """The drift table as a styled HTML table (the kit's): a traffic light per column,
    drifted columns first, the test's value to three significant digits; above it a title
    with the count of drifted columns, which version's rows were tested against whose
    reference, and the columns left out (datetime). What a dashboard shows: one figure
    less for the browser to lay out than :func:`drift_table_figure`, and the same facts."""
    from workbench.presentation import FONT, fmt_number, table_html, traffic_light
    from workbench.presentation._html import text_of

    rows, title, notes = _table_parts(snapshot)
    records = [
        {
            "column": c.column,
            "status": (
                traffic_light("alert", "drift") if c.drifted else traffic_light("ok", "stable")
            ),
            "test": c.test,
            "value": fmt_number(c.statistic),
            "threshold": _threshold_text(c.test, c.threshold),
            "kind": c.kind,
        }
        for c in rows
    ]
    head = (
        f"<div class='wb-drift-title' style='font:600 15px/1.4 {FONT};color:#1F2328;"
        f"margin:8px 0 2px;overflow-wrap:anywhere'>{text_of(title)}</div>"
        + "".join(
            "<div style='font-size:12px;color:#59636E;margin:0 0 2px;overflow-wrap:anywhere'>"
            f"{text_of(note)}</div>"
            for note in notes
        )
    )
    table = table_html(
        records,
        html=["status"],
        empty="No column was tested: the log has no row in these dates.",
        max_height=None,
    )
    return f"<div class='wb-drift-table'>{head}{table}</div>"


def drift_over_time_figure(
    snapshots: Sequence[DriftSnapshot],
    starts: Sequence[Any],
    *,
    basis: str = "",
    unit: str = "period",
    reference: str | None = None,
) -> go.Figure:
    """Drift per period and column as a grid of cells: red where the column drifted in
    that period, green where it held, the test's value and the reference rows it was
    compared with on hover; drifted columns on top, periods left to right on a date axis.
    The title says what each period was compared with (``Drift per week vs the same days
    of the reference year``, or ``vs the whole reference``). Where periods were compared
    with the reference of the model version that answered them (snapshots of
    ``LogOverview`` by version), the hover names the version and its share of the rows,
    and where several versions answered them, a dashed line marks each change of version
    and a label above names the version compared from there on.

    Args:
        snapshots: One snapshot per period, in time order.
        starts: Each period's start (a time or a row number), as ``snapshots``.
        basis: Which time the periods follow, for the axis title (``event time (date)``).
        unit: What a period is, for the title (``week``).
        reference: What the periods were compared with, for the title (default: as the
            snapshots' ``metadata["reference"]`` say).
    """
    go_: Any = require("plotly.graph_objects", feature="monitoring figures")
    from workbench.presentation import STATUS_COLORS, apply_theme, fmt_number

    names = [c.column for c in snapshots[0].columns] if snapshots else []
    ever = {c.column for snap in snapshots for c in snap.columns if c.drifted}
    names.sort(key=lambda n: (n not in ever, n))
    names.reverse()  # plotly draws the first row at the bottom: drifted ones on top
    z, text = [], []
    for name in names:
        row, hover = [], []
        for snap in snapshots:
            col = next((c for c in snap.columns if c.column == name), None)
            row.append(None if col is None else (1 if col.drifted else 0))
            hover.append(
                "not tested"
                if col is None
                else f"{'drift' if col.drifted else 'stable'}: {col.test} = "
                f"{fmt_number(col.statistic)} ({snap.current_rows:,} rows vs "
                f"{snap.reference_rows:,} of {_compared_with(snap)})"
                + (f"<br>{note}" if (note := _version_note(snap)) else "")
            )
        z.append(row)
        text.append(hover)
    fig = go_.Figure(
        go_.Heatmap(
            x=list(starts),
            y=names,
            z=z,
            text=text,
            hovertemplate="%{y}<br>%{x}<br>%{text}<extra></extra>",
            zmin=0,
            zmax=1,
            colorscale=[[0, STATUS_COLORS["ok"]], [1, STATUS_COLORS["alert"]]],
            showscale=False,
            xgap=1,
            ygap=2,
        )
    )
    apply_theme(fig, height=110 + 26 * max(len(names), 1))
    versions = [
        str(s.metadata["model_version"]) if s.metadata.get("compared_with") else None
        for s in snapshots
    ]
    served = list(dict.fromkeys(v for v in versions if v is not None))
    kinds = {
        v: {_kind(s) for s, w in zip(snapshots, versions, strict=True) if w == v} for v in served
    }
    subtitle = ""
    if reference is None:
        labels = {_kind(snap) for snap in snapshots}
        reference = next(iter(labels)) if len(labels) == 1 else "the reference"
        if len(labels) > 1 and kinds and all(len(k) == 1 for k in kinds.values()):
            # the versions compared differently (one's profile keeps a calendar, one's not)
            reference = "each version's reference"
            said = [f"v{v}: {next(iter(k))}" for v, k in kinds.items()]
            subtitle = f"<br><sup>{' · '.join(said)}</sup>"
    if len(served) > 1:  # which version each run of periods was compared with
        _mark_version(fig, None, starts[0], str(versions[0]))
        for i in range(1, len(versions)):
            if None not in versions[i - 1 : i + 1] and versions[i] != versions[i - 1]:
                _mark_version(fig, starts[i - 1], starts[i], str(versions[i]))
    fig.update_layout(
        title=f"Drift per {unit} vs {reference}{subtitle}",
        xaxis_title=f"{_plural(unit)} by {basis}" if basis else _plural(unit),
        margin={"l": 10, "r": 10, "t": 70 if subtitle else 50, "b": 40},
    )
    fig.update_yaxes(automargin=True, showgrid=False)
    fig.update_xaxes(showgrid=False)
    return fig


def distribution_figure(snapshot: DriftSnapshot, column: str) -> go.Figure:
    """Reference and current distribution of one column, as overlaid bars (beyond the
    reference's range, the current's bars come from its tails' own counts)."""
    go_: Any = require("plotly.graph_objects", feature="monitoring figures")
    col = snapshot.column(column)
    fig = go_.Figure()
    for name, shares, color in (
        ("reference", col.reference, REFERENCE_COLOR),
        ("current", col.current, CURRENT_COLOR),
    ):
        fig.add_bar(
            x=list(col.bins),
            y=list(shares),
            name=name,
            marker_color=color,
            opacity=0.6,
            width=col.bin_width,
            offset=0 if col.bin_width else None,
        )
    verdict = "drift" if col.drifted else "stable"
    fig.update_layout(
        barmode="overlay",
        title=f"{column}: {verdict} ({col.test} = {col.statistic:.3g})",
        xaxis_title=column,
        yaxis_title="share of rows",
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 50, "r": 10, "t": 60, "b": 40},
    )
    return _themed(fig, height=380)


def metric_figure(
    frame: Any,
    metric: str,
    *,
    threshold: tuple[str, float] | tuple[str, float, str] | None = None,
    estimated: Any = None,
    title: str | None = None,
) -> go.Figure:
    """A metric per period (``performance_over_time``, ``drift_over_time().frame()``,
    ``errors_over_time``), its threshold as a dashed line and the periods that cross it in
    red; with ``estimated`` (``CBPE.estimate_over_time``), the estimate beside the realized
    value.

    Args:
        frame: One row per period, with ``window`` (its start) and ``metric`` columns.
        metric: The column to draw.
        threshold: ``("max", bound)`` or ``("min", bound)``, as ``check_thresholds``.
        estimated: A frame of estimates with the same ``window`` and ``metric`` columns.
        title: Figure title (default: the metric's name).
    """
    from workbench.presentation import metric_label

    go_: Any = require("plotly.graph_objects", feature="monitoring figures")
    fig = go_.Figure()
    x, y = list(frame["window"]), [float(v) for v in frame[metric]]
    crossed = [False] * len(y)
    if threshold is not None:
        direction, bound = threshold[0], threshold[1]
        crossed = [(v > bound if direction == "max" else v < bound) for v in y]
    fig.add_trace(
        go_.Scatter(
            x=x,
            y=y,
            mode="lines+markers",
            name=f"{metric} (realized)" if estimated is not None else metric,
            line={"color": REFERENCE_COLOR},
            marker={"color": [RED if c else REFERENCE_COLOR for c in crossed], "size": 8},
        )
    )
    if estimated is not None:
        fig.add_trace(
            go_.Scatter(
                x=list(estimated["window"]),
                y=[float(v) for v in estimated[metric]],
                mode="lines+markers",
                name=f"{metric} (estimated)",
                line={"color": CURRENT_COLOR, "dash": "dot"},
            )
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold[1],
            line={"color": RED, "dash": "dash"},
            annotation_text=f"{threshold[0]} {shown(metric, threshold[1])}"
            + (f" ({threshold[2]})" if len(threshold) > 2 else ""),
            annotation_position="top left",
        )
    fig.update_layout(
        title=title or metric_label(metric),
        xaxis_title="period",
        yaxis_title=metric_label(metric),
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return _themed(fig, height=320)


def _themed(fig: go.Figure, *, height: int) -> go.Figure:
    """``fig`` in the workbench template, as every other stage's figures."""
    from workbench.presentation import apply_theme

    return apply_theme(fig, height=height)


def kpi_cards(cells: Sequence[tuple[str, str, str | None]]) -> str:
    """A row of KPI cards as HTML: ``(label, value, color)`` each (``None``: the value in
    the page's own color; values are HTML, as given)."""
    boxes = "".join(_card(label, value, color) for label, value, color in cells)
    return f"<div style='display:flex;gap:12px;flex-wrap:wrap'>{boxes}</div>"


def _card(label: str, value: str, color: str | None) -> str:
    style = "font-size:18px" + (f";color:{color}" if color else "")
    return (
        f"<div style='padding:8px 16px;border:1px solid #ddd;border-radius:6px'>"
        f"<div style='font-size:11px;color:#666'>{label}</div>"
        f"<div style='{style}'>{value}</div></div>"
    )


def versions_note(snapshots: Sequence[DriftSnapshot], unit: str, *, seasonal: bool) -> str:
    """A sentence for under :func:`drift_over_time_figure` where several model versions
    answered its periods (``""`` where one did): each was compared with its own version's
    reference, and which versions' were compared with the whole of it though the page
    compares ``seasonal``-ly (a profile without a calendar of the dates)."""
    versions = [str(s.metadata.get("model_version")) for s in snapshots]
    served = list(dict.fromkeys(versions))
    if len(served) < 2:
        return ""
    note = (
        f"Versions {', '.join(served)} answered these dates: each {unit} is compared with "
        f"the reference of the version that answered most of its rows (its own training "
        f"data), not all with today's champion's."
    )
    for v in served:
        mine = [s for s, w in zip(snapshots, versions, strict=True) if w == v]
        if seasonal and all(_kind(s) == "the whole reference" for s in mine):
            note += (
                f" Version {v}'s profile keeps no calendar of these dates: its {unit}s are "
                f"compared with the whole of its reference."
            )
    return note


def _version_note(snapshot: DriftSnapshot, *, brief: bool = False) -> str:
    """Which version's rows a snapshot tested, and whose reference it compared them
    with (``""`` for a snapshot of every row against one reference; ``brief``, for a
    title: only where other versions' rows were left out or another's reference used)."""
    meta = snapshot.metadata
    said = meta.get("compared_with")
    if not said:
        return ""
    version = str(meta.get("model_version"))
    answered = {str(k): int(n) for k, n in dict(meta.get("answered", {})).items()}
    total = sum(answered.values())
    note = f"compared with {said}"
    if brief and len(answered) <= 1 and said.startswith("version "):
        return ""  # one version against its own reference: nothing to add to a title
    if len(answered) > 1:
        others = ", ".join(f"v{k}: {n:,}" for k, n in answered.items() if k != version)
        share = f"{answered.get(version, 0):,} of {total:,}"
        note = f"rows of version {version} ({share}; {others} not tested here), {note}"
    elif not brief:
        note = f"rows of version {version}, {note}"
    return note


def _mark_version(fig: go.Figure, before: Any, start: Any, version: str) -> None:
    """A dashed line between the periods ``before`` and ``start`` where ``version``
    took over, labelled at the top (the first period: the label alone)."""
    x = start if before is None else before + (start - before) / 2
    fig.add_annotation(
        x=x,
        y=1,
        yref="paper",
        text=f"version {version} →",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
        font={"size": 11, "color": "#1F2328"},
    )
    if before is None:
        return
    fig.add_shape(
        type="line",
        x0=x,
        x1=x,
        y0=0,
        y1=1,
        yref="paper",
        line={"color": "#1F2328", "width": 1.5, "dash": "dash"},
    )


def _kind(snapshot: DriftSnapshot) -> str:
    """What a period was compared with, less the days added around it."""
    return _compared_with(snapshot).split(" (")[0]


def _compared_with(snapshot: DriftSnapshot) -> str:
    """What a period was compared with (snapshots from before seasonal references: the
    whole reference)."""
    return str(snapshot.metadata.get("reference", "the whole reference"))


def _plural(unit: str) -> str:
    """``weeks`` for ``week``; ``4 days`` as it is."""
    return unit if unit.endswith("s") else f"{unit}s"
