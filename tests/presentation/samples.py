"""A notebook made of the kit, as a stage's app would be: shared by the report test
(executed and exported) and the Voilà test (served)."""

from __future__ import annotations

from typing import Any

from workbench._display import PLOTLY_MIME

CELLS = [
    "import math\n"
    "import pandas as pd, plotly.graph_objects as go, ipywidgets as w\n"
    "from IPython.display import display\n"
    "from workbench.presentation import *",
    # a figure on its own
    "fig = apply_theme(go.Figure(go.Bar(x=['mon', 'tue', 'wed'], y=[3, 1, 2])))\n"
    "fig.update_layout(title='Requests per day')\n"
    "show_figure(fig)",
    # cards and a table as cell outputs
    "kpi_row([kpi_card('requests', 1_234_567, delta=0.084, delta_format='percent',\n"
    "                  delta_label='vs last week'),\n"
    "         kpi_card('latency p95', 4618.658, unit='ms', status='warn', status_text='slow'),\n"
    "         kpi_card('errors', 0, status='ok', status_text='none')])",
    "table_html(pd.DataFrame({'column': ['age', 'income'], 'share': [0.1234, None]}),\n"
    "           formats={'share': 'percent'}, caption='Missing values')",
    # a widget: cards, and tabs holding a table and a figure, a wide table, an empty state
    "plot = w.Output()\n"
    "inner = apply_theme(go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3])))\n"
    "inner.update_layout(title='MAE per window')\n"
    "figure_output(plot, inner)\n"
    "drift = table_html(pd.DataFrame({\n"
    "    'column': ['temperature', 'hour'],\n"
    "    'status': [traffic_light('alert', 'drift'), traffic_light('ok', 'stable')],\n"
    "    'statistic': [0.000123, 0.93], 'share': [0.43, math.nan],\n"
    "    'trend': [[1, 2, 3, 4], [2, 2, 2, 2]]}),\n"
    "    html=['status'], formats={'share': 'percent'}, bars=['share'], sparklines=['trend'])\n"
    "wide = table_html(pd.DataFrame([{f'parameter_{i}': 10 ** i for i in range(16)}] * 3),\n"
    "                  caption='Trials')\n"
    "picker = w.Dropdown(options=['temperature', 'hour'], description='feature')\n"
    "tabs = w.Tab(children=[w.VBox([w.HTML(drift), picker, plot]), w.HTML(wide),\n"
    "                       w.HTML(empty_state('No alert in these dates',\n"
    "                                          'Set thresholds with `workbench monitor`.'))])\n"
    "for i, title in enumerate(['Drift', 'Tuning', 'Alerts']):\n"
    "    tabs.set_title(i, title)\n"
    "w.VBox([w.HTML(kpi_row([kpi_card('rows', 10)])), tabs])",
    # plotly's own widget, and a bare plotly bundle (what fig.show() leaves)
    "heat = go.FigureWidget(go.Heatmap(z=[[1, 2], [3, 4]]))\nheat",
    "bare = go.Figure(go.Scatter(x=[1, 2], y=[1, 4]))\n"
    f"display({{{PLOTLY_MIME!r}: bare.to_plotly_json(), 'text/plain': 'a figure'}}, raw=True)",
]
#: The figures the notebook shows: on its own, in the widget, the FigureWidget, the bare one.
FIGURES = 4
#: The titles of the widget's tabs.
TABS = ("Drift", "Tuning", "Alerts")


def kit_notebook() -> Any:
    """The notebook, not yet executed."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook
