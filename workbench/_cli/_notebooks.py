"""``workbench run-notebooks``: the lifecycle notebooks and the apps, executed with
papermill."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench._cli._common import AddCommand, project_settings

__all__ = ["register"]


def _cmd_run_notebooks(args: argparse.Namespace) -> int:
    from workbench._notebooks import find_notebooks, run_notebooks

    s = project_settings(args)
    root = Path(args.root).resolve() if args.root else s.project_dir
    notebooks = find_notebooks(root, args.only)
    if not notebooks:
        print(f"no notebook under {root}/notebooks or {root}/apps matches {args.only}")
        return 2
    # No project_dir unless -p gives one: each notebook runs with its own default, which
    # for the project's notebooks and the apps is the project (WORKBENCH_PROJECT_DIR, set
    # for the kernels) and for the workbench's tutorials a folder of their own, so that
    # running them never rewrites the project's data or its @champion.
    parameters: dict[str, object] = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"-p needs NAME=VALUE, got {item!r}")
            return 2
        parameters[key] = _literal(value)
    out = Path(args.out).resolve() if args.out else s.home / "build" / "notebooks"
    results = run_notebooks(notebooks, out, root=root, parameters=parameters)
    failed = [r for r in results if not r.ok]
    print(
        f"{len(results) - len(failed)} of {len(results)} notebooks ran; executed copies and "
        f"HTML reports in {out}"
    )
    return 1 if failed else 0


def _literal(text: str) -> object:
    """A -p value: a Python literal when it is one (3, 0.5, [1, 2], True), else the text."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def register(add: AddCommand) -> None:
    """Add the command(s) of this module to the ``workbench`` parser."""
    run_nb = add(
        "run-notebooks",
        "execute the lifecycle notebooks and the apps with papermill",
        "Execute notebooks/*.ipynb, then apps/*.ipynb, each in a fresh kernel started in\n"
        "the project (WORKBENCH_PROJECT_DIR), with any -p NAME=VALUE the notebook declares\n"
        "in its parameters cell; otherwise its defaults hold (the workbench's tutorials\n"
        "work in folders of their own unless given -p project_dir=DIR). Each leaves an\n"
        "executed copy and an HTML report in the build folder. A failing notebook does\n"
        "not stop the others; the exit code is 1 if any failed, and the summary names the\n"
        "cell and the error.\n\n"
        "  workbench run-notebooks\n"
        "  workbench run-notebooks --only 'notebooks/03_*' -p n_factories=2",
    )
    run_nb.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only notebooks matching GLOB (relative to the root; repeatable)",
    )
    run_nb.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter for the notebooks that declare it (repeatable)",
    )
    run_nb.add_argument(
        "--out", metavar="DIR", help="build folder (default: <project>/.workbench/build/notebooks)"
    )
    run_nb.add_argument(
        "--root",
        metavar="DIR",
        help="folder holding notebooks/ and apps/ (default: the project folder)",
    )
    run_nb.set_defaults(func=_cmd_run_notebooks)
