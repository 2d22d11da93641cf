"""Empty states: what is missing, in the user's words, and what to do about it."""

from __future__ import annotations

from workbench.presentation._html import Html, inline_code, text_of
from workbench.presentation._theme import FONT, MUTED, TEXT

__all__ = ["empty_state"]


def empty_state(message: str, action: str | None = None, *, detail: str | None = None) -> Html:
    """A box that says why nothing is shown and what to do, instead of a blank figure or
    an empty table. Text in `backticks` is shown as a command.

    Args:
        message: What is missing, as the user would say it
            (``"No predictions logged yet"``).
        action: What to do (``"Send requests to `workbench serve` or run `make demo`."``).
        detail: Small print (where the workbench looked, for instance).

    Example:
        >>> box = empty_state("No predictions logged yet", "Run `make demo`.")
        >>> ">make demo</code>" in box
        True
    """
    parts = [f"<div style='font:600 14px/20px {FONT};color:{TEXT}'>{text_of(message)}</div>"]
    if action:
        parts.append(
            f"<div style='font:13px/20px {FONT};color:{TEXT};margin-top:4px'>"
            f"{inline_code(action)}</div>"
        )
    if detail:
        parts.append(
            f"<div style='font:12px/18px {FONT};color:{MUTED};margin-top:6px;"
            f"overflow-wrap:anywhere'>{inline_code(detail)}</div>"
        )
    return Html(
        "<div class='wb-empty' role='note' style='box-sizing:border-box;max-width:100%;"
        "margin:8px 0;padding:20px 24px;border:1px dashed #C8CDD3;border-radius:6px;"
        "background:#F6F8FA;overflow-wrap:anywhere'>" + "".join(parts) + "</div>"
    )
