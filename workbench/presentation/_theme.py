"""One look for every figure: the ``workbench`` plotly template, its colours, and a
small-multiples helper for metrics of different scales.

The palette is Okabe and Ito's, readable with every common colour-vision deficiency; the
status colours (ok, warn, alert) always come with a word or a symbol, never alone.
Figures size to their container (``autosize``, no fixed width), so a figure fits an
800 px window as well as a wide screen. plotly is imported only when a figure is made.

A stage's figures call :func:`apply_theme` on what they build; a plotly express call
takes the template by name once it is registered:
``px.box(frame, x="family", y="value", template=register_template())``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench._imports import require

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "FONT",
    "PALETTE",
    "STATUS_COLORS",
    "TEMPLATE",
    "apply_theme",
    "register_template",
    "small_multiples",
]

#: The name of the template, for ``template=`` in plotly and plotly express calls.
TEMPLATE = "workbench"

#: Qualitative colours (Okabe & Ito, 2008), in the order series get them.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#8C8C8C",  # grey (Okabe & Ito's yellow is too pale on white for a line)
    "#000000",  # black
)

#: Status colours: text and strokes (deep enough for 4.5:1 contrast on white).
STATUS_COLORS = {"ok": "#1A7F37", "warn": "#9A6700", "alert": "#C62828"}

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
TEXT, MUTED, GRID, AXIS = "#1F2328", "#59636E", "#E6E8EB", "#C8CDD3"

# ColorBrewer's Blues and RdBu: ordered by lightness, safe for colour-vision deficiencies
_SEQUENTIAL = ["#F7FBFF", "#DEEBF7", "#C6DBEF", "#9ECAE1", "#6BAED6", "#4292C6", "#2171B5",
               "#08519C", "#08306B"]  # fmt: skip
_DIVERGING = ["#B2182B", "#D6604D", "#F4A582", "#FDDBC7", "#F7F7F7", "#D1E5F0", "#92C5DE",
              "#4393C3", "#2166AC"]  # fmt: skip


def _scale(colors: Sequence[str]) -> list[list[Any]]:
    return [[i / (len(colors) - 1), c] for i, c in enumerate(colors)]


def _build(go_: Any, pio: Any) -> Any:
    template = go_.layout.Template(pio.templates["plotly_white"])
    axis = {
        "automargin": True,
        "gridcolor": GRID,
        "linecolor": AXIS,
        "zerolinecolor": AXIS,
        "ticks": "",
        "title": {"standoff": 8, "font": {"color": MUTED, "size": 12}},
        "tickfont": {"color": MUTED, "size": 11},
    }
    template.layout.update(
        font={"family": FONT, "size": 13, "color": TEXT},
        title={
            "x": 0,
            "xanchor": "left",
            "xref": "paper",
            "y": 1,
            "yanchor": "top",
            "yref": "container",
            "pad": {"t": 12},
            "font": {"size": 15},
        },
        colorway=list(PALETTE),
        colorscale={
            "sequential": _scale(_SEQUENTIAL),
            "sequentialminus": _scale(_SEQUENTIAL[::-1]),
            "diverging": _scale(_DIVERGING),
        },
        autosize=True,
        height=360,
        margin={"l": 16, "r": 16, "t": 64, "b": 16, "pad": 0, "autoexpand": True},
        paper_bgcolor="white",
        plot_bgcolor="white",
        separators=".,",
        hovermode="closest",
        hoverlabel={"bgcolor": "white", "bordercolor": AXIS, "font": {"family": FONT}},
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1.0,
            "yanchor": "bottom",
            "title": {"text": ""},
            "bgcolor": "rgba(0,0,0,0)",
            "font": {"size": 12},
        },
        bargap=0.15,
        xaxis=axis,
        yaxis=axis,
    )
    template.data.bar = [go_.Bar(marker={"line": {"width": 0}})]
    template.data.heatmap = [go_.Heatmap(colorscale=_scale(_SEQUENTIAL))]
    return template


def register_template(*, default: bool = False) -> str:
    """Register the ``workbench`` template with plotly, once (later calls keep it).

    Args:
        default: Also make it plotly's default template in this process.

    Returns:
        The template's name, :data:`TEMPLATE`.

    Example:
        >>> import plotly.io as pio
        >>> register_template() in pio.templates
        True
    """
    pio = require("plotly.io", feature="figures")
    if TEMPLATE not in pio.templates:
        go_ = require("plotly.graph_objects", feature="figures")
        pio.templates[TEMPLATE] = _build(go_, pio)
    if default:
        pio.templates.default = TEMPLATE
    return TEMPLATE


def apply_theme(figure: go.Figure, *, height: int | None = None) -> go.Figure:
    """``figure`` in the workbench template, sized by its container: any fixed width
    is removed (a figure wider than an 800 px window would overflow it).

    Args:
        figure: A plotly figure (changed in place, and returned).
        height: Height in pixels (default: the figure's, else the template's 360).
    """
    figure.update_layout(template=register_template(), autosize=True, width=None)
    if height is not None:
        figure.update_layout(height=height)
    return figure


def small_multiples(
    x: Sequence[Any],
    series: Mapping[str, Sequence[Any]],
    *,
    title: str | None = None,
    units: Mapping[str, str] | None = None,
    thresholds: Mapping[str, tuple[str, float]] | None = None,
    row_height: int = 150,
) -> go.Figure:
    """One small chart per series, stacked on a shared x axis, each with its own y
    scale: metrics of different sizes (latency in ms, error rate in %) side by side
    without one flattening the others.

    Args:
        x: The shared x values (windows, dates).
        series: Name → values, one chart each, in this order.
        title: The figure's title.
        units: Name → unit shown in the chart's title and hover.
        thresholds: Name → ``("max", bound)`` or ``("min", bound)``: a dashed line, and
            the points past it in the alert colour.
        row_height: Height of each chart in pixels.

    Example:
        >>> fig = small_multiples([1, 2, 3], {"mae": [1.0, 1.2, 0.9], "rows": [10, 12, 9]})
        >>> len(fig.data)
        2
    """
    from workbench.presentation._formats import fmt_number, is_missing

    subplots = require("plotly.subplots", feature="figures")
    go_: Any = require("plotly.graph_objects", feature="figures")
    names = list(series)
    units = dict(units or {})
    thresholds = dict(thresholds or {})
    labels = [f"{n} ({units[n]})" if units.get(n) else n for n in names]
    fig = subplots.make_subplots(
        rows=max(len(names), 1),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.08, 0.5 / max(len(names), 1)),
        subplot_titles=labels,
    )
    xs = list(x)
    for row, name in enumerate(names, start=1):
        ys = [None if is_missing(v) else float(v) for v in series[name]]
        color = PALETTE[(row - 1) % len(PALETTE)]
        marker_colors: Any = color
        if name in thresholds:
            direction, bound = thresholds[name]
            marker_colors = [
                STATUS_COLORS["alert"]
                if v is not None and (v > bound if direction == "max" else v < bound)
                else color
                for v in ys
            ]
        fig.add_trace(
            go_.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=name,
                line={"color": color, "width": 2},
                marker={"color": marker_colors, "size": 6},
                customdata=[fmt_number(v, unit=units.get(name)) for v in ys],
                hovertemplate=f"{name}: %{{customdata}}<extra>%{{x}}</extra>",
                showlegend=False,
            ),
            row=row,
            col=1,
        )
        if name in thresholds:  # after the trace: plotly skips a subplot without one
            fig.add_hline(
                y=thresholds[name][1],
                line={"color": STATUS_COLORS["alert"], "dash": "dash", "width": 1},
                row=row,
                col=1,
            )
    for annotation in fig.layout.annotations:  # subplot titles: left, like the title
        annotation.update(x=0, xanchor="left", font={"size": 12, "color": MUTED})
    apply_theme(fig, height=72 + row_height * max(len(names), 1))
    if title:
        fig.update_layout(title=title)
    return fig
