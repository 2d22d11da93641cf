"""HTML fragments the kit returns: a ``str`` that notebooks show as HTML and tables
embed as is (everything else put in a table is escaped)."""

from __future__ import annotations

import html
import re

__all__ = ["Html", "inline_code", "text_of"]

_CODE = re.compile(r"`([^`]+)`")
CODE_STYLE = (
    "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:0.92em;"
    "padding:1px 5px;border-radius:4px;background:#EAEEF2"
)


class Html(str):
    """Markup made by the kit (or by you, knowingly): shown as HTML by Jupyter, placed
    unescaped in a table cell, card value or empty state. As with ``markupsafe``,
    ``Html + str`` escapes the ``str``: text never becomes markup by accident."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return str(self)

    def __add__(self, other: str) -> Html:
        return Html(str(self) + (other if isinstance(other, Html) else html.escape(other)))


def text_of(value: str) -> str:
    """``value`` escaped for HTML, unless it is already :class:`Html`."""
    return str(value) if isinstance(value, Html) else html.escape(str(value))


def inline_code(text: str) -> Html:
    """``text`` escaped, with `backticks` written as ``<code>`` (commands in messages)."""
    if isinstance(text, Html):
        return text
    return Html(
        _CODE.sub(lambda m: f"<code style='{CODE_STYLE}'>{m.group(1)}</code>", html.escape(text))
    )
