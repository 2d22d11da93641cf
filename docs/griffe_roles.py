"""A griffe extension (mkdocs.yml names it): Sphinx roles in docstrings as Markdown.

The package's docstrings name other objects the Sphinx way (``:func:`compute_drift```,
``:class:`ReferenceProfile```), which Markdown would print as it is. Here a role whose
name is a public name of a stage (in its ``__all__``) becomes a link to its API entry,
preferring the stage the docstring belongs to; any other role becomes code.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import griffe

STAGES = (
    "workbench",
    "workbench.data",
    "workbench.explore",
    "workbench.features",
    "workbench.datasets",
    "workbench.tuning",
    "workbench.packaging",
    "workbench.serving",
    "workbench.monitoring",
    "workbench.presentation",
)
ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc|const)+:`~?([^`<>]+)`")


def _public() -> dict[str, list[str]]:
    """Each public name → the stages that export it."""
    where: dict[str, list[str]] = {}
    for stage in STAGES:
        for name in importlib.import_module(stage).__all__:
            where.setdefault(name, []).append(stage)
    return where


class SphinxRoles(griffe.Extension):
    def __init__(self) -> None:
        self._where = _public()

    def _target(self, name: str, path: str) -> str | None:
        """The API entry ``name`` links to, seen from the object at ``path``; ``None``
        for a name that is not a stage's public name (it stays code)."""
        if name.startswith("workbench."):
            module, _, short = name.rpartition(".")
            return name if module in self._where.get(short, []) else None
        stages = self._where.get(name, []) if "." not in name else []
        own = [s for s in stages if path == s or path.startswith(s + ".")]
        if own:
            return f"{max(own, key=len)}.{name}"
        return f"{stages[0]}.{name}" if len(stages) == 1 else None

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None or ":`" not in obj.docstring.value:
            return
        path = obj.path

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            target = self._target(name, path)
            shown = name.rsplit(".", 1)[-1] if name.startswith("workbench.") else name
            return f"[`{shown}`][{target}]" if target else f"`{shown}`"

        obj.docstring.value = ROLE.sub(replace, obj.docstring.value)
