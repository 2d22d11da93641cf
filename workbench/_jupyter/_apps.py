"""The Voilà apps (``monitoring``, ``model_card``, ``experiments``, ``explore``): where they
ship, and which one ``workbench dashboard APP`` serves.

The repository's top-level ``apps/`` is their only source. A wheel carries a copy inside
the package (``workbench/_apps``, hatch's ``force-include``), so an installed workbench
has them in any project; a checkout (an editable install) reads ``apps/`` in place.
A project's own ``apps/`` (``workbench init`` copies the packaged ones there, for the team
to edit) comes first.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from workbench._exceptions import WorkbenchError
from workbench._paths import check_name

__all__ = ["find_app", "packaged_apps_dir"]

_PACKAGE = Path(__file__).resolve().parents[1]


def packaged_apps_dir() -> Path:
    """The apps that come with this workbench: the wheel's ``workbench/_apps``, else the
    checkout's ``apps/`` beside the package.

    Raises:
        WorkbenchError: Neither exists (a broken installation).
    """
    for folder in (_PACKAGE / "_apps", _PACKAGE.parent / "apps"):
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder
    raise WorkbenchError(
        f"This workbench has no apps: neither {_PACKAGE / '_apps'} nor {_PACKAGE.parent / 'apps'}"
        f" holds a notebook. Reinstall the workbench."
    )


def find_app(name: str, project_dir: Path) -> Path:
    """``apps/<name>.ipynb`` of the project, else the one that comes with the workbench.

    Raises:
        ConfigurationError: ``name`` is not a plain name (``../x``, ``/etc/x``): an app is
            a notebook in ``apps/``, never a path.
        WorkbenchError: Neither folder has the app; the message lists the apps there are.
    """
    check_name(
        name,
        "The app name",
        hint="Name a notebook of apps/ without '.ipynb' (monitoring, model_card, "
        "experiments, explore).",
    )
    folders = [project_dir / "apps"]
    with contextlib.suppress(WorkbenchError):  # a broken installation: the project's only
        folders.append(packaged_apps_dir())
    for folder in folders:
        candidate = folder / f"{name}.ipynb"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for folder in folders for p in folder.glob("*.ipynb")})
    raise WorkbenchError(
        f"No app {name!r}: looked for {name}.ipynb in {' and '.join(map(str, folders))}. "
        f"Apps there are: {', '.join(known) or 'none'}."
    )
