"""The monitoring dashboard's Challenger tab: champion and shadowed challenger on the same
requests and actuals (:func:`~workbench.monitoring.compare_shadow`), and the Promote button
a signed-in dashboard user may press (the same check as ``workbench promote``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench._imports import require
from workbench.monitoring._alerts import (
    shown,
)
from workbench.presentation import STATUS_COLORS, metric_label

if TYPE_CHECKING:
    import pandas as pd

    from workbench._visitors import Visitor
    from workbench.packaging import Promotion

__all__ = ["PromoteButton", "comparison_html"]


@dataclasses.dataclass(frozen=True)
class _Verdict:
    """The challenger against the champion on the comparison's first metric."""

    metric: str
    challenger: Any  # the frame's rows
    champion: Any
    outcome: str  # "better", "worse" or "same": the challenger's

    @property
    def words(self) -> str:
        return {
            "better": "challenger better",
            "worse": "champion better",
            "same": "the same",
        }[self.outcome]


def _verdict(frame: pd.DataFrame) -> _Verdict | None:
    """The comparison's verdict (``None`` without both versions or a metric)."""
    from workbench._metrics import METRICS

    metrics = [c for c in frame.columns[4:] if frame[c].notna().any()]
    champion, challenger = frame[frame.role == "champion"], frame[frame.role == "challenger"]
    if not metrics or not len(champion) or not len(challenger):
        return None
    first = metrics[0]
    a, b = challenger.iloc[-1], champion.iloc[-1]
    lower = any(first in m and m[first].direction == "minimize" for m in METRICS.values())
    if a[first] == b[first]:
        outcome = "same"
    else:
        outcome = "better" if (a[first] < b[first]) == lower else "worse"
    return _Verdict(first, a, b, outcome)


def comparison_html(frame: pd.DataFrame) -> str:
    """One line (the challenger against the champion on the first metric) and a table."""
    if not len(frame):
        return (
            "<p>The challenger's answers are logged; no request both versions answered has "
            "an actual yet.</p>"
        )
    metrics = [c for c in frame.columns[4:] if frame[c].notna().any()]
    found = _verdict(frame)
    line = ""
    if found is not None:
        first, a, b, verdict = found.metric, found.challenger, found.champion, found.words
        line = (
            f"<p><b>challenger v{html.escape(a.version)} vs champion "
            f"v{html.escape(b.version)}</b> on the same {int(a.requests):,} requests "
            f"({int(a.rows):,} rows with actuals): {metric_label(first)} "
            f"<b>{shown(first, a[first])}</b> vs {shown(first, b[first])} "
            f"({verdict})</p>"
        )
    cell = "style='padding:3px 12px;text-align:right'"
    head = "".join(f"<th {cell}>{html.escape(metric_label(m))}</th>" for m in metrics)
    rows = "".join(
        f"<tr><td style='padding:3px 12px'>{html.escape(r.role)} v{html.escape(r.version)}"
        f"</td><td {cell}>{int(r.requests):,}</td>"
        + "".join(f"<td {cell}>{shown(m, r[m])}</td>" for m in metrics)
        + "</tr>"
        for _, r in frame.iterrows()
    )
    return (
        f"<div style='font-size:13px;overflow-x:auto'>{line}<table style='border-collapse:"
        f"collapse'><tr><th style='padding:3px 12px;text-align:left'>version</th><th {cell}>"
        f"requests</th>{head}</tr>{rows}</table></div>"
    )


#: How often the Promote button asks who is signed in (seconds): a preheated page is
#: rendered before its visitor arrives, and a visitor may sign out while it is open.
VISITOR_POLL_S = 1.0

_NOTE = "font-size:13px;margin:6px 0;overflow-wrap:anywhere;color:{}"


def _commands(text: str) -> str:
    """``text`` as HTML, a `command` in it as code."""
    import re

    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


class PromoteButton:
    """The Challenger tab's Promote button: moves ``@champion`` to the shadowed
    challenger through ``promote`` (the check ``workbench promote`` makes), for a person
    the dashboard's login names, after asking.

    It is disabled, with the reason beside it, when the challenger is worse on the
    comparison's first metric, when nobody is signed in (or the dashboard's login names
    nobody: none, or a shared token), and once it has promoted. The signed-in user is
    asked for again (``visitor``) when the button is clicked and when the move is
    confirmed; it is what ``promote`` records as ``promoted_by``.

    Args:
        model_name: The registered model (for the question asked).
        comparison: :func:`~workbench.monitoring.compare_shadow`'s frame.
        promote: Called with the user's name; returns the :class:`Promotion`.
        visitor: Who is signed in (default: :func:`workbench._visitors.current_visitor`).
        poll: Seconds between asking ``visitor`` in the background, where the page is
            served by ``workbench dashboard`` (``0``: never; :meth:`refresh` by hand).
    """

    def __init__(
        self,
        model_name: str,
        comparison: pd.DataFrame,
        promote: Callable[[str], Promotion],
        *,
        visitor: Callable[[], Visitor] | None = None,
        poll: float | None = None,
    ) -> None:
        import os

        from workbench._visitors import ENV_FOLDER, current_visitor

        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self.model_name = model_name
        self._promote = promote
        self._visitor = visitor or current_visitor
        self.verdict = _verdict(comparison)
        self.promotion: Promotion | None = None
        self.refused = ""  # why promote() refused, once it has
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._asking: str | None = None  # the user asked to confirm
        challenger = self.verdict.challenger.version if self.verdict else "?"
        self.button = widgets.Button(
            description=f"Promote v{challenger}",
            icon="arrow-up",
            tooltip="Move @champion to the challenger (asks first)",
            layout=widgets.Layout(width="auto"),
        )
        self.note = widgets.HTML()
        self.confirm = widgets.Button(
            description=f"Yes, move @champion to v{challenger}",
            button_style="danger",
            layout=widgets.Layout(width="auto"),
        )
        self.cancel = widgets.Button(description="Cancel", layout=widgets.Layout(width="auto"))
        self.question = widgets.HTML()
        self.dialog = widgets.VBox(
            [self.question, widgets.HBox([self.confirm, self.cancel])],
            layout=widgets.Layout(
                display="none", border="1px solid #C8CDD3", padding="4px 12px", margin="4px 0"
            ),
        )
        self.outcome = widgets.HTML()
        self.button.on_click(lambda _: self._ask())
        self.confirm.on_click(lambda _: self._move())
        self.cancel.on_click(lambda _: self._cancel())
        self.widget = widgets.VBox(
            [widgets.HBox([self.button], layout=widgets.Layout(flex_flow="row wrap")),
             self.note, self.dialog, self.outcome],
            layout=widgets.Layout(width="100%", margin="8px 0 0"),
        )  # fmt: skip
        self.refresh()
        every = VISITOR_POLL_S if poll is None else poll
        if every > 0 and os.environ.get(ENV_FOLDER):  # a dashboard page: who may change
            threading.Thread(target=self._watch, args=(every,), daemon=True).start()

    # ------------------------------------------------------------------ state

    def _blocked(self) -> tuple[str | None, str]:
        """(the signed-in user or ``None``, why the button is disabled or "")."""
        verdict = self.verdict
        if self.promotion is not None or self.refused:
            return None, ""  # the outcome below says it
        if verdict is None:
            return None, (
                "Nothing to promote on yet: no request both versions answered has an "
                "actual. Promote once actuals arrive (POST /actuals)."
            )
        if verdict.outcome == "worse":
            metric = metric_label(verdict.metric)
            return None, (
                f"The challenger is worse: its {metric} is "
                f"{shown(verdict.metric, verdict.challenger[verdict.metric])} against the "
                f"champion's {shown(verdict.metric, verdict.champion[verdict.metric])} on "
                f"the same {int(verdict.challenger.requests):,} requests, so @champion "
                f"stays with v{verdict.champion.version}."
            )
        found = self._visitor()
        return found.user, found.reason

    def refresh(self) -> None:
        """Ask who is signed in, and enable or disable the button (with the reason)."""
        with self._lock:
            if self.promotion is not None:
                return
            user, reason = self._blocked()
            if self._asking is not None and user != self._asking:  # signed out meanwhile
                self._close_dialog()
            self.button.disabled = user is None or self._asking is not None
            if user is None and not reason:
                self.note.value = ""
            elif user is None:
                self.note.value = (
                    f"<div class='wb-promote-reason' style='{_NOTE.format('#59636E')}'>"
                    f"{_commands(reason)}</div>"
                )
            else:
                assert self.verdict is not None
                self.note.value = (
                    f"<div class='wb-promote-reason' style='{_NOTE.format('#59636E')}'>"
                    f"Signed in as <b>{html.escape(user)}</b>. Promoting scores both versions "
                    f"again on these {int(self.verdict.challenger.rows):,} rows with actuals "
                    f"({html.escape(metric_label(self.verdict.metric))}) and moves @champion "
                    f"only if the challenger is not worse.</div>"
                )

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            if self.promotion is not None:
                return
            try:
                self.refresh()
            except Exception:  # the page is gone (comm closed): nothing to update
                return

    def close(self) -> None:
        """Stop asking who is signed in."""
        self._stop.set()

    # ------------------------------------------------------------------ the clicks

    def _ask(self) -> None:
        with self._lock:
            self.refresh()
            user, _ = self._blocked()
            if user is None or self.verdict is None:
                return
            self._asking = user
            v = self.verdict
            self.question.value = (
                f"<p style='font-size:13px;margin:6px 0'>Move <b>@champion</b> of "
                f"<b>{html.escape(self.model_name)}</b> from v{html.escape(v.champion.version)}"
                f" to <b>v{html.escape(v.challenger.version)}</b>, as "
                f"<b>{html.escape(user)}</b>? A server of @champion (<code>workbench serve</code>"
                f") switches to it within seconds; v{html.escape(v.champion.version)} keeps "
                f"@previous_champion for a rollback.</p>"
            )
            self.dialog.layout.display = "flex"
            self.button.disabled = True

    def _cancel(self) -> None:
        self._close_dialog()
        self.refresh()

    def _close_dialog(self) -> None:
        self._asking = None
        self.dialog.layout.display = "none"

    def _move(self) -> None:
        from workbench._exceptions import PromotionRefused, WorkbenchError

        with self._lock:
            user, _ = self._blocked()
            if user is None or user != self._asking:  # signed out, or someone else now
                self._close_dialog()
                self.refresh()
                return
            self.dialog.layout.display = "none"
            self.confirm.disabled = self.cancel.disabled = True
            self.outcome.value = f"<div style='{_NOTE.format('#59636E')}'>Comparing…</div>"
            try:
                done = self._promote(user)
            except WorkbenchError as exc:  # refused by promote's check, or it could not run
                self._asking = None
                self.confirm.disabled = self.cancel.disabled = False
                self.outcome.value = (
                    f"<div class='wb-promote-outcome' role='alert' "
                    f"style='{_NOTE.format(STATUS_COLORS['alert'])}'><b>Not promoted.</b> "
                    f"{html.escape(str(exc))}</div>"
                )
                if isinstance(exc, PromotionRefused):
                    self.refused = str(exc)  # the scores moved since the page was drawn
                self.refresh()
                return
            self.promotion = done
            self._stop.set()
            when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            self.button.disabled = True
            self.note.value = ""
            self.outcome.value = (
                f"<div class='wb-promote-outcome' role='status' "
                f"style='{_NOTE.format(STATUS_COLORS['ok'])}'><b>v{done.version} is "
                f"@champion</b>, promoted by {html.escape(user)} at {when} (it was "
                f"v{done.previous}): {html.escape(done.reason)}.</div>"
            )
