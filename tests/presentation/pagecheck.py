"""Checks of a rendered page (an app under Voilà, a report, a sample of the kit) in
headless Chromium, shared by the tests that look at what people see.

Each check returns what it found wrong (an empty list when all is well), so a test
asserts ``== []`` and its failure message lists the culprits.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
WIDTHS = (1280, 800)


def launch(playwright: Any) -> Any:
    """Headless Chromium: the system's where there is one, else Playwright's own."""
    executable = CHROMIUM if Path(CHROMIUM).exists() else None
    return playwright.chromium.launch(executable_path=executable, args=ARGS)


@dataclasses.dataclass
class Visit:
    """A page opened by :func:`offline_visits`: what it asked for and what went wrong."""

    width: int
    page: Any
    refused: list[str]  # requests that would have left the machine
    errors: list[str]  # the page's script errors
    requests: list[str]  # every URL it asked for

    def problems(self) -> dict[str, list[str]]:
        """Every check of a page a reader opens: an empty dict when all is well."""
        found = {
            "empty figures": empty_figures(self.page),
            "overflowing": overflowing(self.page),
            "text": text_problems(self.page),
            "requests leaving the machine": self.refused,
            "script errors": self.errors,
        }
        return {check: culprits for check, culprits in found.items() if culprits}


def offline_visits(url: str, *, figures: int, height: int = 900) -> Iterator[Visit]:
    """``url`` opened in headless Chromium at each of :data:`WIDTHS` with the network cut
    off, once ``figures`` plotly figures are drawn (the page closes when the next is
    asked for)."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": height})
                visit = Visit(width, page, block_outside(page), [], [])
                page.on("pageerror", lambda e, seen=visit.errors: seen.append(str(e)))
                page.on("request", lambda r, seen=visit.requests: seen.append(r.url))
                page.goto(url, wait_until="load")
                wait_for_figures(page, figures)
                yield visit
                page.close()
        finally:
            browser.close()


def block_outside(page: Any) -> list[str]:
    """Refuse every request that would leave this machine; returns the list the refused
    URLs are appended to as they happen (``file:``, ``data:``, ``blob:`` and loopback
    pass)."""
    refused: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        parsed = urlparse(url)
        local = parsed.scheme in ("file", "data", "blob", "about") or parsed.hostname in (
            "127.0.0.1",
            "localhost",
            "::1",
        )
        if local:
            r.continue_()
        else:
            refused.append(url)
            r.abort()

    page.route("**/*", route)
    return refused


_OVERFLOW_JS = """
(strict) => {
  const found = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    found.push(`the page: ${doc.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (el instanceof SVGElement || el.clientWidth === 0) continue;
    const style = getComputedStyle(el);
    // scrolls in its own box: a table's scroll box always; a widget box only if not strict
    // (ipywidgets' boxes are overflow:auto, so a child 4 px too wide hides behind a bar)
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    if (scrolls && (!strict || el.classList.contains('wb-table-scroll'))) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (typeof el.className === 'string' && el.className.trim()
          ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
      found.push(`${name}: content ${el.scrollWidth} px in ${el.clientWidth} px`);
    }
  }
  return found;
}
"""


def overflowing(page: Any, *, strict: bool = False) -> list[str]:
    """Elements whose content is wider than they are (``scrollWidth > clientWidth``)
    without scrolling in their own box, and the page itself if it scrolls sideways.

    With ``strict``, only a table's own scroll box (``wb-table-scroll``) may scroll
    sideways: a widget box (``overflow: auto`` in ipywidgets) with a child wider than
    itself counts too, since its reader sees a cut edge and a scroll bar.
    """
    found: list[str] = page.evaluate(_OVERFLOW_JS, strict)
    return found


#: A plotly figure: drawn by plotly.js (``js-plotly-plot``) or only placed (``to_html``).
FIGURE = ".js-plotly-plot, .plotly-graph-div"

_FIGURES_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot, .plotly-graph-div'))
  .filter(el => el.checkVisibility())  // a figure in a hidden tab is checked on its tab
  .map((el, i) => {
  const svg = el.querySelector('.main-svg');
  const box = el.getBoundingClientRect();
  const marks = el.querySelectorAll(
    '.trace, .point, .scatterlayer path.js-line, .heatmaplayer image, .table .cell-text'
  ).length;
  const title = (el.querySelector('.gtitle') || {}).textContent || `figure ${i + 1}`;
  return {title, drawn: !!svg, width: box.width, height: box.height, marks};
})
"""


def empty_figures(page: Any) -> list[str]:
    """Plotly figures on view that are not drawn, have no size, or draw nothing."""
    figures: list[dict[str, Any]] = page.evaluate(_FIGURES_JS)
    return [
        f"{f['title']}: drawn={f['drawn']} {f['width']:.0f}x{f['height']:.0f} marks={f['marks']}"
        for f in figures
        if not f["drawn"] or f["width"] < 50 or f["height"] < 50 or f["marks"] == 0
    ]


def wait_for_figures(page: Any, count: int, timeout: float = 60_000) -> None:
    """Wait until ``count`` plotly figures are drawn and no widget is still loading.

    Voilà draws a page twice (as cells run, then again with the widgets' views), so a
    count reached once may drop: it must hold half a second later too.
    """
    ready = (
        "(n) => Array.from(document.querySelectorAll('.js-plotly-plot, .plotly-graph-div'))"
        ".filter(d => d.querySelector('.main-svg')).length >= n"
        " && !document.body.innerText.includes('Loading widget')"
    )
    for _ in range(2):
        page.wait_for_function(ready, arg=count, timeout=timeout)
        page.wait_for_timeout(500)
    page.wait_for_function(ready, arg=count, timeout=timeout)


def figure_count(page: Any) -> int:
    """How many plotly figures the page holds."""
    count: int = page.evaluate(f"document.querySelectorAll({FIGURE!r}).length")
    return count


_PROGRESS = re.compile(r"\d+%\|[^|\n]*\|")  # tqdm: " 40%|████      | 4/10"
_TEXT = {
    "a progress bar": _PROGRESS,
    "a traceback": re.compile(r"Traceback \(most recent call last\)"),
    "a warning": re.compile(r"\bWarning\b"),
}
_CELL = re.compile(r"^(None|nan|NaN|NaT|<NA>|null|undefined)$")


def text_problems(page: Any) -> list[str]:
    """Text no reader should see: a progress bar, a traceback, a ``Warning``, and
    ``None``/``nan`` (or ``NaT``, ``<NA>``) as a table cell."""
    text: str = page.evaluate("document.body.innerText")
    found = [
        f"{what}: {m.group(0)[:80]!r}"
        for what, pattern in _TEXT.items()
        for m in pattern.finditer(text)
    ]
    cells: list[str] = page.evaluate(
        "Array.from(document.querySelectorAll('td, th')).map(c => c.innerText.trim())"
    )
    found += [f"a table cell says {c!r}" for c in cells if _CELL.match(c)]
    return found


_CONTENT_HEIGHT_JS = """
() => Math.max(document.documentElement.scrollHeight, ...Array.from(
  document.querySelectorAll('*'), el => {
    const y = getComputedStyle(el).overflowY;
    return ['auto', 'scroll'].includes(y) && el.clientHeight > 200 ? el.scrollHeight : 0;
  }))
"""


def screenshot(page: Any, path: str | Path, *, most: int = 8000) -> None:
    """The whole page, as tall as its content (Voilà scrolls inside a box, so a plain
    ``full_page`` shot would stop at the window's height); the window keeps its width,
    so nothing is laid out anew but the height."""
    viewport = page.viewport_size
    height = min(int(page.evaluate(_CONTENT_HEIGHT_JS)) + 40, most)
    if height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": height})
        page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)
    if height > viewport["height"]:
        page.set_viewport_size(viewport)
        page.wait_for_timeout(200)
