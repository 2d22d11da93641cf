"""The presentation kit: one look for every stage's figures, widgets, apps and reports.

- formats: numbers with significant digits and separators, percentages, counts,
  durations, dates and ranges; a missing value is an em dash, never ``None``/``nan``;
- theme: the ``workbench`` plotly template (colour-blind-safe palette, sized by its
  container) and small multiples for metrics of different scales;
- cards: KPI cards, traffic lights and warning badges; tables: styled, formatted,
  scrolling in their own box, with sparklines and data bars; empty states that say
  what to do;
- display: figures and widgets that render in JupyterLab, in Voilà, and in an HTML
  report that opens offline (:func:`report_html`).

Compute modules never import this (nor plotly or ipywidgets); each stage's
``_figures.py`` and ``_widgets.py`` build on it. Importing it is light: plotly,
ipywidgets and nbconvert load only when a figure, widget or report is made.

Example:
    >>> from workbench.presentation import kpi_card, fmt_number
    >>> fmt_number(4618.658057)
    '4,619'
"""

from __future__ import annotations

from workbench._display import (
    PLOTLY_MIME,
    figure_bundle,
    figure_html,
    figure_output,
    show_figure,
    widget_bundle,
)
from workbench.presentation._cards import (
    STATUSES,
    kpi_card,
    kpi_row,
    status_of,
    traffic_light,
    warning_badge,
)
from workbench.presentation._empty import empty_state
from workbench.presentation._export import prepare_report, report_html, write_report
from workbench.presentation._formats import (
    FORMATS,
    MISSING,
    fmt_bytes,
    fmt_count,
    fmt_date,
    fmt_date_range,
    fmt_dates,
    fmt_datetime,
    fmt_duration,
    fmt_number,
    fmt_percent,
    fmt_value,
    fmt_when,
    is_missing,
    to_datetime,
)
from workbench.presentation._html import Html, inline_code
from workbench.presentation._labels import family_label, metric_label, param_label
from workbench.presentation._static import state_html, widget_html
from workbench.presentation._tables import bar, sparkline, table_html
from workbench.presentation._theme import (
    FONT,
    PALETTE,
    STATUS_COLORS,
    TEMPLATE,
    apply_theme,
    register_template,
    small_multiples,
)

__all__ = [
    "FONT",
    "FORMATS",
    "MISSING",
    "PALETTE",
    "PLOTLY_MIME",
    "STATUSES",
    "STATUS_COLORS",
    "TEMPLATE",
    "Html",
    "apply_theme",
    "bar",
    "empty_state",
    "family_label",
    "figure_bundle",
    "figure_html",
    "figure_output",
    "fmt_bytes",
    "fmt_count",
    "fmt_date",
    "fmt_date_range",
    "fmt_dates",
    "fmt_datetime",
    "fmt_duration",
    "fmt_number",
    "fmt_percent",
    "fmt_value",
    "fmt_when",
    "inline_code",
    "is_missing",
    "kpi_card",
    "kpi_row",
    "metric_label",
    "param_label",
    "prepare_report",
    "register_template",
    "report_html",
    "show_figure",
    "small_multiples",
    "sparkline",
    "state_html",
    "status_of",
    "table_html",
    "to_datetime",
    "traffic_light",
    "warning_badge",
    "widget_bundle",
    "widget_html",
    "write_report",
]
