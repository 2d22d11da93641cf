"""The ``workbench`` parser, put together from each command group's module, and its
entry point."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from workbench import __version__
from workbench._cli import (
    _dashboard,
    _features,
    _lab,
    _loop,
    _notebooks,
    _package,
    _projects,
    _serve,
)
from workbench._exceptions import WorkbenchError

__all__ = ["build_parser", "main", "overview"]

_DESCRIPTION = """\
The workbench: raw data to a monitored production model.

Settings come from WORKBENCH_* environment variables, then [tool.workbench] in the
project's pyproject.toml, then defaults under the project's .workbench/ folder (MLflow on
SQLite, inference log, snapshots). Servers bind 127.0.0.1 unless told otherwise.
"""

_EXAMPLES = """\
examples:
  workbench init churn-model                     a new project, wired to the workbench
  workbench demo                                 the whole lifecycle on generated data
  workbench serve models:/electricity-consumption@champion --port 5005
  workbench dashboard                            the monitoring app in Voilà
  workbench lab                                  JupyterLab on 127.0.0.1
  workbench features materialize --online        store the features.py views
  workbench package runs:/<run>/best_model --data train.parquet --target y --name churn
  workbench promote churn --holdout holdout.parquet --target y
  workbench monitor --threshold mae:max:150       one scheduled monitor run, alerts sent
  workbench retrain --labels rows.parquet --until 2024-10-01 --promote
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``workbench`` command."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description=_DESCRIPTION,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    # Not required: bare `workbench` lists the commands (as git does) instead of an error.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands: list[tuple[str, str]] = []  # (name, one line): what bare `workbench` lists

    def add(
        name: str, help_: str, description: str, *, project_dir: bool = True
    ) -> argparse.ArgumentParser:
        commands.append((name, help_))
        p = sub.add_parser(
            name,
            help=help_,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if not project_dir:
            return p
        p.add_argument(
            "--project-dir",
            metavar="DIR",
            help="project folder (default: nearest folder with a pyproject.toml)",
        )
        return p

    # in the order bare `workbench` and `--help` list them
    for group in (_projects, _lab, _dashboard, _notebooks, _serve, _features, _package, _loop):
        group.register(add)
    parser.set_defaults(commands=tuple(commands))
    return parser


def overview(commands: Sequence[tuple[str, str]]) -> str:
    """What bare ``workbench`` prints: the usage line, each command with its one line, and
    where to read more."""
    width = max(len(name) for name, _ in commands) + 2
    return "\n".join(
        [
            "usage: workbench [--version] [-v] COMMAND [ARGS]",
            "",
            "The workbench: raw data to a monitored production model. Commands:",
            "",
            *(f"  {name:<{width}}{help_}" for name, help_ in commands),
            "",
            "'workbench COMMAND --help' explains one; 'workbench --help' gives examples and "
            "where settings come from.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workbench`` command."""
    args = build_parser().parse_args(argv)
    if args.command is None:  # as git: the commands, and exit status 1
        print(overview(args.commands))
        return 1
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # MLflow logs at INFO on its own handler ("Creating initial MLflow database
    # tables..."), in this process and in the kernels and servers started from it; its
    # warnings and errors still show, its INFO lines at -v.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if args.verbose else "WARNING")
    try:
        return int(args.func(args))
    except WorkbenchError as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
