"""``workbench init`` (a new project) and ``workbench demo`` (the whole lifecycle on
generated data)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from workbench import __version__
from workbench._cli._common import AddCommand, project_dir

__all__ = ["register"]


def _cmd_init(args: argparse.Namespace) -> int:
    from workbench._init import init_project, project_names, workbench_source

    target = Path(args.name).expanduser()
    if target.name in ("", ".", ".."):  # `workbench init .`: this (empty) folder
        target = target.resolve()
    names = project_names(target.name, args.package)
    root = init_project(names.name, target.parent, package=names.package)
    here = Path.cwd()
    shown = root.relative_to(here) if root.is_relative_to(here) else root
    # The project names no path of this machine; one that came from a file or folder here
    # is said here, for this machine's `make`.
    local = workbench_source(__version__).local
    make_args = f" WORKBENCH={shlex.quote(local)}" if local else ""
    print(
        f"created {names.name!r} in {root} (package {names.package}, model {names.distribution})\n"
        f"  pyproject.toml       the package and its [tool.workbench] settings\n"
        f"  data/raw/            the sample export, electricity.csv (data/interim, processed, "
        f"external: empty)\n"
        f"  contracts/           electricity.yaml, the export's data contract\n"
        f"  {names.package + '/':<20} dataset.py, features.py (feature views), modeling.py\n"
        f"  notebooks/           01_explore_and_validate, 02_train_and_package\n"
        f"  apps/                the Voilà dashboards, yours to edit (workbench dashboard APP)\n"
        f"  tests/               the contract, the feature views, the training set\n"
        f"  models/, references/, reports/figures/, Makefile, README.md, "
        f".github/workflows/ci.yml\n"
        f"next:\n"
        + (f"  cd {shlex.quote(str(shown))}\n" if root != here else "")
        + f"  make demo{make_args}    # .venv, then the notebooks: validate, features, train, "
        "package\n"
        f"  make test{make_args}    # ruff and the project's tests"
        + (
            f"\n(this workbench was installed from {local}, a path of this machine only: "
            f"the project does not record it, give it to make as above or set WORKBENCH in "
            f"the environment)"
            if local
            else ""
        )
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench._demo import run_demo

    result = run_demo(
        project_dir(args),
        n_factories=args.factories,
        start=args.start,
        change_date=args.change_date,
        end=args.end,
        seed=args.seed,
        report=not args.no_report,
        loop=not args.no_loop,
    )
    return 0 if result.n_logged_rows == result.n_scored_rows else 1


def register(add: AddCommand) -> None:
    """Add the command(s) of this module to the ``workbench`` parser."""
    init_help = "create a new project (Cookiecutter Data Science layout) wired to the workbench"
    init = add(
        "init",
        init_help,
        "Create the folder NAME holding a project laid out like Cookiecutter Data\n"
        "Science v2 (data/raw, interim, processed, external; notebooks; models;\n"
        "reports/figures; references; a package) and wired to the workbench: a\n"
        "pyproject.toml with [tool.workbench] settings, feature views in\n"
        "<package>/features.py, a data contract in contracts/, a sample export in\n"
        "data/raw (generated, no download), starter notebooks with a parameters cell,\n"
        "tests, a Makefile (make demo, make test, make notebooks) and a GitHub Actions\n"
        "workflow that runs the tests and executes the notebooks with papermill.\n\n"
        "NAME may be a path; its last part names the project, and the package is that\n"
        "name in lower case with '_' for other characters ('My Project' -> my_project).\n"
        "An existing folder is used only if it is empty; nothing is ever overwritten.\n\n"
        "  workbench init churn-model\n"
        "  workbench init ~/projects/'Energy Forecast' --package energy\n"
        "  workbench init .                 # this empty folder",
        project_dir=False,
    )
    init.add_argument("name", metavar="NAME", help="the new project's folder (a name or a path)")
    init.add_argument(
        "--package",
        metavar="PACKAGE",
        help="Python package name (default: derived from NAME)",
    )
    init.set_defaults(func=_cmd_init)

    demo = add(
        "demo",
        "run the whole lifecycle on generated data",
        "Generate a dirty raw export of daily electricity consumption, load it (bad rows\n"
        "quarantined with reasons), store calendar and trailing-mean features in the feature\n"
        "store and take a point-in-time training set from it, train and\n"
        "track a model in MLflow, register it as @champion, serve it over HTTP logging\n"
        "every prediction, compute drift against the training data, and execute the\n"
        "monitoring dashboard notebook. Then close the loop on the last six weeks: the\n"
        "scheduled monitor alerts (to [tool.workbench.alerts] receivers if configured,\n"
        "else only recorded), retrain packages a challenger on post-change data, traffic\n"
        "is served with it shadowed, it is promoted if not worse, and the next monitor\n"
        "run resolves the alert. Takes a few minutes at the default size.",
    )
    demo.add_argument("--factories", type=int, default=20, help="factories (default 20)")
    demo.add_argument("--start", default="2023-07-01", help="first day (default 2023-07-01)")
    demo.add_argument(
        "--change-date",
        default="2024-07-01",
        help="regime change and start of production traffic (default 2024-07-01)",
    )
    demo.add_argument("--end", default="2025-06-30", help="last day (default 2025-06-30)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--no-report", action="store_true", help="skip executing the monitoring notebook"
    )
    demo.add_argument(
        "--no-loop",
        action="store_true",
        help="stop after the dashboard: no monitor run, retraining, shadow or promotion",
    )
    demo.set_defaults(func=_cmd_demo)
