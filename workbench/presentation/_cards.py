"""KPI cards, traffic lights and warning badges, as self-contained HTML.

Styles are inline, so a card looks the same in JupyterLab, under Voilà, in an exported
report and in an e-mail. A status is always said in words and a symbol as well as a
colour (ok ✓, warn !, alert ✕), for readers who do not see the colour.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterable
from typing import Any

from workbench._exceptions import DataError
from workbench.presentation._formats import (
    MISSING,
    fmt_number,
    fmt_percent,
    fmt_value,
    is_bool,
    is_missing,
)
from workbench.presentation._html import Html, text_of
from workbench.presentation._theme import FONT, MUTED, STATUS_COLORS, TEXT

__all__ = ["STATUSES", "kpi_card", "kpi_row", "status_of", "traffic_light", "warning_badge"]


@dataclasses.dataclass(frozen=True)
class _Look:
    color: str
    background: str
    symbol: str
    word: str


_LOOKS = {
    "ok": _Look(STATUS_COLORS["ok"], "#DAFBE1", "✓", "OK"),
    "warn": _Look(STATUS_COLORS["warn"], "#FFF5D1", "!", "Watch"),
    "alert": _Look(STATUS_COLORS["alert"], "#FFE3E0", "✕", "Alert"),
}

#: The statuses, and the other names each is known by.
STATUSES: dict[str, tuple[str, ...]] = {
    "ok": ("ok", "good", "green", "pass", "passed", "stable", "healthy"),
    "warn": ("warn", "warning", "amber", "yellow", "watch", "degraded"),
    "alert": ("alert", "bad", "red", "fail", "failed", "error", "critical", "drift"),
}
_ALIASES = {alias: status for status, names in STATUSES.items() for alias in names}


def status_of(status: Any) -> str:
    """``"ok"``, ``"warn"`` or ``"alert"`` from any of their names (``"green"``,
    ``"amber"``, ``"red"``, ``"fail"``…) or a bool (``True`` is ok).

    Raises:
        DataError: Not a status.
    """
    if isinstance(status, bool):
        return "ok" if status else "alert"
    key = str(status).strip().lower()
    if key not in _ALIASES:
        raise DataError(
            f"The 'status' must be one of 'ok', 'warn' or 'alert' (or {sorted(_ALIASES)}). "
            f"Got {status!r} instead."
        )
    return _ALIASES[key]


def _pill(look: _Look, text: str, *, title: str | None = None) -> Html:
    tip = f" title='{text_of(title)}'" if title else ""
    return Html(
        f"<span role='status'{tip} style='display:inline-flex;align-items:center;gap:4px;"
        f"max-width:100%;padding:1px 8px;border-radius:999px;background:{look.background};"
        f"color:{look.color};font:600 12px/18px {FONT};box-sizing:border-box;"
        "vertical-align:middle'>"
        f"<span aria-hidden='true'>{look.symbol}</span>"
        f"<span style='white-space:normal;overflow-wrap:break-word'>{text_of(text)}</span></span>"
    )


def traffic_light(status: Any, text: str | None = None, *, title: str | None = None) -> Html:
    """A status badge: its symbol and word (``text``, default ``OK``/``Watch``/
    ``Alert``) in the status colour.

    Args:
        status: ``"ok"``, ``"warn"``, ``"alert"`` or another name of one (:data:`STATUSES`).
        text: The word shown (``"stable"``, ``"drift"``).
        title: A tooltip.

    Example:
        >>> "drift" in traffic_light("alert", "drift")
        True
    """
    look = _LOOKS[status_of(status)]
    return _pill(look, look.word if text is None else text, title=title)


def warning_badge(text: str, *, title: str | None = None) -> Html:
    """An amber ``!`` badge saying ``text`` (a caveat next to a number or a title)."""
    return _pill(_LOOKS["warn"], text, title=title)


def _value_text(value: Any, unit: str | None, digits: int) -> str:
    """The card's value as HTML: a float to ``digits`` significant digits, anything else
    as :func:`fmt_value` writes it (integers exact, dates without a 'T'), then its unit."""
    if isinstance(value, Html):
        return str(value)
    real = isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
    if real and not is_bool(value) and not is_missing(value):
        return text_of(fmt_number(value, digits, unit=unit))
    text = fmt_value(value)
    return text_of(f"{text} {unit}" if unit and text != MISSING else text)


def kpi_card(
    label: str,
    value: Any,
    *,
    unit: str | None = None,
    delta: Any = None,
    delta_label: str | None = None,
    delta_format: str | None = None,
    better: str | None = None,
    status: Any = None,
    status_text: str | None = None,
    note: str | None = None,
    digits: int = 3,
) -> Html:
    """One key figure: a label, the value (formatted), an optional change and status.

    Args:
        label: What the number is (``"requests"``).
        value: A number (formatted with ``digits`` significant digits; integers exact),
            a date, text, or :class:`Html`; a missing value shows as an em dash.
        unit: Unit after the value (``"ms"``).
        delta: The change against a comparison: a number (signed, ``▲``/``▼``) or text.
        delta_label: What the change is against (``"vs last week"``).
        delta_format: ``"percent"`` to show a numeric delta as a signed percentage
            (``0.084`` → ``+8.4%``); default: a signed number in ``unit``.
        better: ``"higher"`` or ``"lower"``: colours a numeric delta green when it goes
            the better way, red when not.
        status: A traffic light in the card's corner, and its left edge in that colour.
        status_text: The traffic light's word.
        note: A line of small print under the value.
        digits: Significant digits of a float value.

    Raises:
        DataError: ``better``, ``delta_format`` or ``status`` is not one of the known
            values.

    Example:
        >>> "4,619 ms" in kpi_card("latency p95", 4618.658057, unit="ms")
        True
    """
    if delta_format not in (None, "number", "percent"):
        raise DataError(
            f"The 'delta_format' parameter must be 'number' or 'percent'. Got {delta_format!r}."
        )
    if better not in (None, "higher", "lower"):
        raise DataError(f"The 'better' parameter must be 'higher' or 'lower'. Got {better!r}.")
    edge = _LOOKS[status_of(status)].color if status is not None else "#D0D7DE"
    numeric = isinstance(value, numbers.Real) or (
        isinstance(value, str) and len(value) <= 12  # "12 M", "2 of 11": read as figures
    )
    # a figure stays on one line (the row wraps instead); a name or a sentence wraps
    size, wrap = (
        ("22px/28px", "white-space:nowrap") if numeric else ("16px/22px", "overflow-wrap:anywhere")
    )
    parts = [
        "<div style='display:flex;flex-wrap:wrap;justify-content:space-between;"
        "align-items:flex-start;gap:4px 8px;min-width:0'>"
        f"<div style='font:500 12px/16px {FONT};color:{MUTED};overflow-wrap:anywhere;"
        f"min-width:0'>{text_of(label)}</div>"
        + (traffic_light(status, status_text) if status is not None else "")
        + "</div>",
        f"<div style='font:600 {size} {FONT};color:{TEXT};margin-top:4px;"
        f"font-variant-numeric:tabular-nums;{wrap}'>"
        f"{_value_text(value, unit, digits)}</div>",
    ]
    if delta is not None and not is_missing(delta):
        color, arrow = MUTED, ""
        if isinstance(delta, numbers.Real) and not isinstance(delta, bool):
            delta = float(delta)
            arrow = "▲ " if delta > 0 else ("▼ " if delta < 0 else "")
            if better is not None and delta != 0:
                good = (delta > 0) == (better == "higher")
                color = STATUS_COLORS["ok"] if good else STATUS_COLORS["alert"]
            shown = (
                fmt_percent(delta, digits, sign=True)
                if delta_format == "percent"
                else fmt_number(delta, digits, unit=unit, sign=True)
            )
        else:
            shown = str(delta)
        against = f" {text_of(delta_label)}" if delta_label else ""
        parts.append(
            f"<div style='font:500 12px/16px {FONT};color:{color};margin-top:2px'>"
            f"{arrow}{text_of(shown)}<span style='color:{MUTED}'>{against}</span></div>"
        )
    if note:
        parts.append(
            f"<div style='font:12px/16px {FONT};color:{MUTED};margin-top:4px;"
            f"overflow-wrap:anywhere'>{text_of(note)}</div>"
        )
    return Html(
        "<div class='wb-kpi' style='box-sizing:border-box;flex:1 1 150px;"
        f"max-width:320px;padding:10px 14px;background:#fff;border:1px solid #D0D7DE;"
        f"border-left:4px solid {edge};border-radius:6px'>" + "".join(parts) + "</div>"
    )


def kpi_row(cards: Iterable[str]) -> Html:
    """Cards side by side, wrapping onto more lines in a narrow window."""
    inner = "".join(text_of(c) for c in cards)
    return Html(
        "<div class='wb-kpis' style='display:flex;flex-wrap:wrap;gap:12px;margin:8px 0;"
        f"box-sizing:border-box;max-width:100%'>{inner}</div>"
    )
