"""What the commands share: the project they work in, and how a command is added to the
parser."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Protocol

from workbench._exceptions import ConfigurationError
from workbench._settings import Settings, find_project_dir, resolve_settings

__all__ = ["AddCommand", "project_dir", "project_settings"]


class AddCommand(Protocol):
    """Adds a subcommand to ``workbench``: its name, the one line bare ``workbench`` lists
    and ``--help`` shows, and its description; with ``project_dir`` (the default) it takes
    ``--project-dir DIR``."""

    def __call__(
        self, name: str, help_: str, description: str, *, project_dir: bool = True
    ) -> argparse.ArgumentParser: ...


def project_dir(args: argparse.Namespace) -> Path:
    """The project the command works in: --project-dir, else WORKBENCH_PROJECT_DIR, else the
    nearest folder at or above this one with a pyproject.toml.

    Raises:
        ConfigurationError: Outside any project (nothing is created then), or the folder
            named does not exist.
    """
    given = getattr(args, "project_dir", None)
    if given:
        root = Path(given).expanduser().resolve()
        what = f"--project-dir {given}"
    else:
        found = find_project_dir()
        if found is None:
            raise ConfigurationError(
                f"{Path.cwd()} is not inside a project: neither it nor a folder above it "
                f"holds a pyproject.toml. Run the command in the project's folder, or point "
                f"at it with --project-dir DIR or WORKBENCH_PROJECT_DIR=DIR; `workbench init "
                f"NAME` creates a new one. Nothing was created."
            )
        root = found
        what = "WORKBENCH_PROJECT_DIR"
    if not root.is_dir():
        raise ConfigurationError(
            f"The project folder {root} (from {what}) does not exist. Nothing was created."
        )
    # Kernels, notebooks and servers started from here work in the same project.
    os.environ["WORKBENCH_PROJECT_DIR"] = str(root)
    return root


def project_settings(args: argparse.Namespace) -> Settings:
    return resolve_settings(project_dir(args))
