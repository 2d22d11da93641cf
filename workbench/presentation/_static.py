"""A static HTML rendering of ipywidgets: what a live widget shows, kept in a report.

Works on widget *states*, the form a live widget gives with ``get_state()`` and the
form an executed notebook saves under ``metadata.widgets`` (nbclient's
``store_widget_state``), so the same code renders a widget in a kernel
(:func:`widget_html`) and one in a saved notebook (:func:`state_html`). Boxes stack or
wrap their children, every tab is shown under its title, an ``Output`` shows its
outputs (plotly figures drawn by plotly.js, which the page provides once), ``HTML``
its markup, and a control the value it was left at (``feature: age``). Buttons and
progress bars, meaningless on paper, are left out.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import Any

from workbench.presentation._formats import fmt_value
from workbench.presentation._theme import FONT, MUTED, TEXT

__all__ = ["output_html", "state_html", "widget_html", "widget_states"]

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
_PREFIX = "IPY_MODEL_"
_SKIPPED = {
    "ButtonModel",
    "IntProgressModel",
    "FloatProgressModel",
    "PasswordModel",
    "LayoutModel",
    "StyleModel",
    "DescriptionStyleModel",
    "ProgressStyleModel",
    "SliderStyleModel",
    "ButtonStyleModel",
    "ToggleButtonsStyleModel",
    "CheckboxStyleModel",
    "HTMLStyleModel",
    "HTMLMathStyleModel",
    "LabelStyleModel",
    "TextStyleModel",
    "PlayModel",
    "ColorPickerModel",
    "FileUploadModel",
    "ControllerModel",
}
_OPTIONS = {
    "DropdownModel",
    "SelectModel",
    "RadioButtonsModel",
    "ToggleButtonsModel",
    "SelectionSliderModel",
}


def widget_states(widget: Any) -> dict[str, dict[str, Any]]:
    """The states of ``widget`` and every widget it holds, keyed by model id, in the
    form a saved notebook keeps them (``{"model_name": …, "state": {…}}``)."""
    widget_type = _widget_type()
    states: dict[str, dict[str, Any]] = {}
    todo = [widget]
    while todo:
        current = todo.pop()
        if current.model_id in states:
            continue
        state = current.get_state()
        states[current.model_id] = {
            "model_name": state.get("_model_name", ""),
            "model_module": state.get("_model_module", ""),
            "state": state,
        }
        for key in current.keys:
            value = getattr(current, key, None)
            items = value if isinstance(value, list | tuple) else (value,)
            todo += [v for v in items if isinstance(v, widget_type)]
    return states


def _widget_type() -> type:
    from workbench._imports import require

    widget: type = require("ipywidgets", feature="notebook widgets").Widget
    return widget


def widget_html(widget: Any) -> str:
    """What ``widget`` shows now, as static HTML (plotly figures need plotly.js on the
    page: :func:`workbench._display.plotlyjs_once`)."""
    return state_html(widget_states(widget), widget.model_id)


def _ref(value: Any) -> str | None:
    return value[len(_PREFIX) :] if isinstance(value, str) and value.startswith(_PREFIX) else None


def _hidden(states: Mapping[str, Any], state: Mapping[str, Any]) -> bool:
    layout = states.get(_ref(state.get("layout")) or "", {}).get("state", {})
    return bool(layout.get("display") == "none" or layout.get("visibility") == "hidden")


def _control(label: str, value: str) -> str:
    if not value:
        return ""
    shown = (
        f"<span style='color:{MUTED}'>{html.escape(label)}:</span> " if label else ""
    ) + f"<b style='font-weight:600'>{html.escape(value)}</b>"
    return (
        f"<div class='wb-control' style='font:13px/20px {FONT};color:{TEXT};"
        f"overflow-wrap:anywhere'>{shown}</div>"
    )


def _join(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def output_html(output: Mapping[str, Any], states: Mapping[str, Any] | None = None) -> str:
    """One notebook output (``display_data``, ``execute_result``, ``stream``, ``error``)
    as HTML: its ``text/html`` where it has one, else its plotly figure, a widget (from
    ``states``), an image, or its text."""
    kind = output.get("output_type")
    pre = "<pre style='margin:4px 0;white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px'>"
    if kind == "stream":
        return pre + html.escape(_join(output.get("text", ""))) + "</pre>"
    if kind == "error":
        return (
            pre + html.escape(f"{output.get('ename', '')}: {output.get('evalue', '')}") + "</pre>"
        )
    data = output.get("data", {})
    if "text/html" in data:
        return _join(data["text/html"])
    from workbench._display import PLOTLY_MIME, figure_html

    if PLOTLY_MIME in data:
        return figure_html(dict(data[PLOTLY_MIME]))
    if WIDGET_VIEW_MIME in data and states is not None:
        model = data[WIDGET_VIEW_MIME].get("model_id", "")
        if model in states:
            return state_html(states, model)
    for image in ("image/png", "image/jpeg"):
        if image in data:
            payload = _join(data[image]).replace("\n", "")
            return f"<img style='max-width:100%' alt='' src='data:{image};base64,{payload}'>"
    if "image/svg+xml" in data:
        return _join(data["image/svg+xml"])
    if "text/plain" in data:
        return pre + html.escape(_join(data["text/plain"])) + "</pre>"
    return ""


def state_html(states: Mapping[str, Any], model_id: str) -> str:
    """The widget ``model_id`` of ``states`` (model id → ``{"model_name", "state"}``, as
    in a saved notebook's ``metadata.widgets``) as static HTML; ``""`` if unknown."""
    entry = states.get(model_id)
    if entry is None:
        return ""
    state: Mapping[str, Any] = entry.get("state", {})
    name = str(entry.get("model_name") or state.get("_model_name", ""))
    if name in _SKIPPED or _hidden(states, state):
        return ""
    children = [_ref(c) for c in state.get("children", ()) or ()]
    shown = [state_html(states, c) for c in children if c]
    label = str(state.get("description") or "")
    if name in ("TabModel", "AccordionModel"):
        titles = list(state.get("titles") or state.get("_titles", {}).values() or ())
        parts = []
        for i, part in enumerate(shown):
            if not part:
                continue
            title = titles[i] if i < len(titles) and titles[i] else ""
            heading = (
                f"<div class='wb-tab-title' style='font:600 14px/20px {FONT};color:{TEXT};"
                "margin:12px 0 6px;padding-bottom:4px;border-bottom:1px solid #D0D7DE'>"
                f"{html.escape(str(title))}</div>"
                if title
                else ""
            )
            parts.append(f"<section style='min-width:0'>{heading}{part}</section>")
        return f"<div class='wb-tabs' style='min-width:0;max-width:100%'>{''.join(parts)}</div>"
    if name == "StackModel":
        index = state.get("selected_index")
        return shown[index] if isinstance(index, int) and 0 <= index < len(shown) else ""
    if name in ("HBoxModel", "GridBoxModel"):
        inner = "".join(f"<div style='min-width:0;max-width:100%'>{p}</div>" for p in shown if p)
        return (
            "<div class='wb-hbox' style='display:flex;flex-wrap:wrap;gap:8px 16px;"
            f"align-items:flex-start;min-width:0;max-width:100%'>{inner}</div>"
        )
    if children or name in ("VBoxModel", "BoxModel"):
        inner = "".join(f"<div style='min-width:0;max-width:100%'>{p}</div>" for p in shown if p)
        return (
            "<div class='wb-vbox' style='display:flex;flex-direction:column;gap:8px;"
            f"min-width:0;max-width:100%'>{inner}</div>"
        )
    if name in ("HTMLModel", "HTMLMathModel"):
        value = str(state.get("value") or "")
        head = _control(label, " ") if label else ""
        return head + f"<div style='min-width:0;max-width:100%'>{value}</div>" if value else ""
    if name == "LabelModel":
        return _control(label, str(state.get("value") or ""))
    if name == "OutputModel":
        parts = [output_html(o, states) for o in state.get("outputs", ()) or ()]
        return "".join(f"<div style='min-width:0;max-width:100%'>{p}</div>" for p in parts if p)
    if name == "ImageModel":
        image = state.get("value")
        if isinstance(image, bytes | bytearray | memoryview):
            payload = base64.b64encode(bytes(image)).decode()
            fmt = state.get("format", "png")
            return f"<img style='max-width:100%' alt='' src='data:image/{fmt};base64,{payload}'>"
        return ""
    labels = state.get("_options_labels")
    index = state.get("index")
    if name in _OPTIONS and labels is not None:
        return _control(label, str(labels[index]) if isinstance(index, int) else "")
    if name == "SelectionRangeSliderModel" and labels is not None and index:
        return _control(label, f"{labels[index[0]]} – {labels[index[1]]}")
    if name == "SelectMultipleModel" and labels is not None:
        return _control(label, ", ".join(str(labels[i]) for i in index or ()))
    if name == "AnyModel" and "plotly" in str(state.get("_anywidget_id", "")):
        from workbench._display import figure_html

        figure = {"data": state.get("_widget_data", []), "layout": state.get("_widget_layout", {})}
        return figure_html(figure)
    if "value" in state and name.endswith("Model"):
        value = state["value"]
        if isinstance(value, list | tuple) and len(value) == 2:
            return _control(label, f"{fmt_value(value[0])} – {fmt_value(value[1])}")
        if isinstance(value, bool | int | float | str):
            return _control(label, fmt_value(value) if not isinstance(value, str) else value)
    return ""
