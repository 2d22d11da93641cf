"""The ``workbench`` command: ``init``, ``demo``, ``lab``, ``dashboard``, ``serve``,
``features``, ``package``, ``promote``.

Imports stay inside the subcommands so ``workbench --help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import __version__
from workbench._exceptions import ConfigurationError, WorkbenchError
from workbench._settings import Settings, find_project_dir, resolve_settings

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_parser", "main"]

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
"""


#: The JupyterLab front-end extensions the Voilà apps use: Voilà's own widget manager
#: (for ipywidgets 8), ipywidgets', anywidget's and plotly's.
APP_EXTENSIONS = (
    "@voila-dashboards/widgets-manager8",
    "@jupyter-widgets/jupyterlab-manager",
    "anywidget",
    "jupyterlab-plotly",
)


def _project_dir(args: argparse.Namespace) -> Path:
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


def _settings(args: argparse.Namespace) -> Settings:
    return resolve_settings(_project_dir(args))


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
        _project_dir(args),
        n_factories=args.factories,
        start=args.start,
        change_date=args.change_date,
        end=args.end,
        seed=args.seed,
        report=not args.no_report,
    )
    return 0 if result.n_logged_rows == result.n_scored_rows else 1


def _exec(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` until it ends and return its exit status.

    SIGINT (Ctrl-C), SIGTERM and SIGHUP sent to this process reach the command as SIGTERM,
    which JupyterLab answers by stopping its kernels and exiting; a second one kills it.
    The command runs in its own session, so that Ctrl-C in a terminal reaches it once,
    through here, and on Linux it gets SIGTERM if this process dies without a word
    (SIGKILL): neither leaves it running without us.
    """
    print("running:", shlex.join(cmd), flush=True)
    child = subprocess.Popen(
        cmd, env=env, start_new_session=True, preexec_fn=_terminate_with_parent
    )
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM if len(received) == 1 else signal.SIGKILL)

    stopping = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):
        stopping.append(signal.SIGHUP)
    previous = {signum: signal.signal(signum, forward) for signum in stopping}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code if code >= 0 else 128 - code


def _terminate_with_parent() -> None:
    """In the child, before it runs: SIGTERM when the parent dies (Linux's
    PR_SET_PDEATHSIG); elsewhere nothing."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tool(name: str) -> str:
    """A console script installed beside this Python (the venv's), else on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise WorkbenchError(f"The {name!r} command is not installed; pip install {name}.")
    return found


def _cmd_lab(args: argparse.Namespace) -> int:
    from workbench._jupyter._kernels import ENCRYPTION_ARGUMENT

    s = _settings(args)
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(s.project_dir)}
    cmd = [
        _tool("jupyter"),
        "lab",
        f"--ServerApp.ip={args.host or s.host}",
        f"--ServerApp.port={args.port or s.lab_port}",
        f"--ServerApp.root_dir={s.project_dir}",
        ENCRYPTION_ARGUMENT,  # kernels over encrypted sockets (no plain-TCP warning)
    ]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers often run as root; JupyterLab refuses that unless told.
        cmd.append("--allow-root")
    return _exec(cmd, env)


_USER_COMMANDS = ("add-user", "remove-user", "users")


def _ask_password(args: argparse.Namespace) -> str:
    """The new password: one line of standard input with --password-stdin, else typed twice
    at the terminal (not echoed)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ConfigurationError(
            "workbench dashboard add-user: there is no terminal to type the password in. "
            "Give --password-stdin and send the password on standard input."
        )
    import getpass

    first = getpass.getpass(f"password for {args.user}: ")
    if getpass.getpass("again: ") != first:
        raise ConfigurationError("The two passwords differ. Nothing was changed.")
    return first


def _cmd_dashboard_users(args: argparse.Namespace) -> int:
    """`workbench dashboard add-user NAME | remove-user NAME | users`."""
    from workbench._jupyter._access import UserStore, check_user_name, users_file

    store = UserStore(users_file(_settings(args)))
    if args.app == "users":
        names = store.names()
        print("\n".join(names) if names else f"no dashboard users ({store.path})")
        return 0
    if args.user is None:
        raise ConfigurationError(
            f"workbench dashboard {args.app} NAME: give the user's name, such as "
            f"`workbench dashboard {args.app} anna`."
        )
    name = check_user_name(args.user)
    if args.app == "remove-user":
        if not store.remove(name):
            print(f"no dashboard user {name!r} in {store.path}")
            return 1
        print(f"removed {name!r}: a running dashboard ends their session at their next request")
        return 0
    existed = store.add(name, _ask_password(args))
    print(
        f"{'new password for' if existed else 'added'} {name!r} in {store.path} "
        f"(scrypt with a salt of its own; the file is readable by you only)"
    )
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    if args.app in _USER_COMMANDS:
        return _cmd_dashboard_users(args)
    if args.user is not None:
        raise ConfigurationError(
            f"workbench dashboard serves one app at a time. Got {args.app!r} and then "
            f"{args.user!r}."
        )
    from workbench._jupyter._access import is_loopback, resolve_access
    from workbench._jupyter._apps import find_app
    from workbench._jupyter._voila import http_options, serve

    s = _settings(args)
    app = find_app(args.app, s.project_dir)
    access = resolve_access(s)
    host = args.host or s.host
    http = http_options(s, args.ssl_certfile, args.ssl_keyfile)
    if access.method == "none" and not is_loopback(host) and not args.insecure:
        raise ConfigurationError(
            f"workbench dashboard would listen on {host} without a login: anyone who "
            f"reaches the port would see the dashboard and the data it summarises. Give it "
            f"a login: per-user passwords (`workbench dashboard add-user NAME`), a shared "
            f"token (WORKBENCH_DASHBOARD_TOKEN in the environment), or single sign-on "
            f"through a proxy (the dashboard_user_header and dashboard_trusted_proxy "
            f"settings). Or say --insecure to serve it to anyone who can reach it."
        )
    # Our template (Voilà's lab template without CDN links) is found through JUPYTER_PATH;
    # the kernels inherit this environment (the project's folder included).
    templates = str(Path(__file__).resolve().parent / "_jupyter")
    others = os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [templates, *(p for p in others if p and p != templates)]
    )
    os.environ["WORKBENCH_PROJECT_DIR"] = str(s.project_dir)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a server's log
    argv = [
        str(app),
        "--template=workbench",
        f"--Voila.ip={host}",
        f"--Voila.port={args.port or s.dashboard_port}",
        "--no-browser",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        # Only the front-end extensions the apps draw with: whatever else the environment
        # holds (catboost's 3.5 MB training widget, jupytext's menu built for another
        # JupyterLab) would cost page-load time and warn in the browser's console (one
        # item per option: traitlets deprecates the list syntax)
        *(f"--VoilaConfiguration.extension_allowlist={name}" for name in APP_EXTENSIONS),
        # 'serving at' and 'ready at' say what a person needs; Voilà's INFO lines
        # (connection files, static paths, each kernel) only at -v
        f"--Voila.log_level={'INFO' if args.verbose else 'WARN'}",
    ]
    if not args.no_preheat:
        # A kernel runs the app before anyone asks (imports and the log's summaries
        # included); "ready at URL" is printed once that page is rendered, and a visitor
        # then gets it without waiting for the run. The next kernel is
        # started 5 s after a page is handed out, once the browser has drawn most of it,
        # rather than competing with it for the CPU (a visitor within those 5 s waits
        # for them too).
        argv += [
            "--VoilaConfiguration.preheat_kernel=True",
            "--VoilaConfiguration.default_pool_size=1",
            "--VoilaKernelManager.fill_delay=5",
        ]
    # Voilà runs in this process: SIGTERM and Ctrl-C stop it and its kernels, and its
    # exit status is ours.
    print(f"dashboard {app}", flush=True)
    if access.method != "none":
        print(access.describe(), flush=True)
    if not is_loopback(host):
        if access.method == "none":
            print(f"warning: --insecure: no login, anyone who reaches {host} sees it", flush=True)
        elif access.method != "proxy" and "ssl_options" not in http:
            print(
                "warning: no TLS: passwords and the session cross the network in clear; "
                "give --ssl-certfile and --ssl-keyfile, or put a TLS proxy in front",
                flush=True,
            )
    if args.verbose:
        print("running: voila", shlex.join(argv), flush=True)
    return serve(argv, access=access, http=http)


def _cmd_run_notebooks(args: argparse.Namespace) -> int:
    from workbench._notebooks import find_notebooks, run_notebooks

    s = _settings(args)
    root = Path(args.root).resolve() if args.root else s.project_dir
    notebooks = find_notebooks(root, args.only)
    if not notebooks:
        print(f"no notebook under {root}/notebooks or {root}/apps matches {args.only}")
        return 2
    parameters: dict[str, object] = {"project_dir": str(s.project_dir)}
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


def _cmd_serve(args: argparse.Namespace) -> int:
    # BLAS/OpenMP threads are set before numpy loads: inline prediction on a small machine
    # is fastest single-threaded, and oversubscription makes latency erratic.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    # a server's output is a log: no progress bar of MLflow's artifact downloads in it
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from workbench._imports import require
    from workbench.serving import create_app
    from workbench.serving._app import check_model_uri

    s = _settings(args)
    uvicorn = require("uvicorn", feature="the scoring server")
    # a wrong name or alias: an error, not a traceback
    name, version = check_model_uri(args.model_uri, s)
    token = os.environ.get("WORKBENCH_SERVE_TOKEN") or None
    app = create_app(
        args.model_uri,
        log_dir=args.log_dir,
        settings=s,
        token=token,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        reload_seconds=args.reload_seconds or None,
        inference_log=not args.no_log,
    )
    host, port = args.host or s.host, args.port or s.serve_port
    log_dir = "off (--no-log)" if args.no_log else str(args.log_dir or s.inference_log_dir)
    alias = args.model_uri.removeprefix("models:/").partition("@")[2]
    serving = f"{name} version {version}" + (f" (@{alias})" if alias else "")
    following = (
        f"follows @{alias}: "
        + (f"checks it every {args.reload_seconds:g} s and " if args.reload_seconds else "")
        + "on SIGHUP, and serves the version it moves to"
        if alias
        else ""
    )

    class Server(uvicorn.Server):  # type: ignore[misc,name-defined]
        """uvicorn's server, saying when it listens and when it has stopped."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if not self.started:  # uvicorn has said why (port taken, say)
                return
            url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
            print(
                f"serving {serving} at {url}\n"
                f"  POST {url}/invocations; GET /ping, /health, /version, /metrics"
                + ("; a bearer token is required (WORKBENCH_SERVE_TOKEN)" if token else "")
                + "\n"
                f"  inference log   {log_dir}\n"
                + (f"  model           {following}\n" if following else "")
                + f"  Ctrl-C or SIGTERM stops it{'' if args.verbose else '; -v logs each request'}",
                flush=True,
            )

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets=sockets)
            n = self.server_state.total_requests
            print(
                f"stopped: {n} request{'' if n == 1 else 's'} answered"
                + ("" if args.no_log else f", the inference log flushed to {log_dir}"),
                flush=True,
            )

    server = Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info" if args.verbose else "warning",
            # a line per request at -v; else none (the inference log is the record, and a
            # line per request costs)
            access_log=args.verbose,
            proxy_headers=False,  # client addresses are not used, so do not parse them
            timeout_graceful_shutdown=30,
        )
    )
    server.run()
    return 0 if server.started else 1


def _cmd_features(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.features import FeatureStore

    store = FeatureStore(settings=_settings(args), definitions=args.definitions)
    if args.action == "list":
        views = store.list_views()
        with pd.option_context("display.width", 120, "display.max_columns", None):
            print(views.to_string(index=False) if len(views) else "no feature views registered")
        return 0
    if args.action == "apply":
        for record in store.apply(args.views or None):
            print(
                f"{record['definition']['name']}: version {record['version']} "
                f"({record['reason']}), fingerprint {record['fingerprint'][:12]}"
            )
        return 0
    for name in args.views or sorted(store.views):
        run = store.materialize(name, args.start, args.end)
        print(
            f"{name} v{run['version']}: {run['rows']} rows for {run['start']} .. {run['end']} "
            f"({len(run['months'])} months), {run['rejected']} rejected, "
            f"{run['superseded']} superseded"
            + (f" → {run['rejected_path']}" if run["rejected_path"] else "")
        )
        if args.online:
            loaded = store.materialize_online(name)
            print(f"{name} v{loaded['version']}: {loaded['rows']} keys online")
    return 0


def _read_table(path: str, what: str) -> pd.DataFrame:
    import pandas as pd

    from workbench._exceptions import DataError

    file = Path(path)
    if not file.is_file():
        raise DataError(f"The {what} file {path} does not exist.")
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(file)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(file)
    raise DataError(f"The {what} file {path} must be Parquet (.parquet) or CSV (.csv).")


def _load_model(reference: str) -> Any:
    """An MLflow model URI (scikit-learn flavor), else the user's own joblib/pickle file."""
    from workbench._exceptions import ModelError
    from workbench._imports import require

    if reference.startswith(("runs:/", "models:/")) or "://" in reference:
        mlflow_sklearn = require("mlflow.sklearn", feature="model packaging")
        try:
            return mlflow_sklearn.load_model(reference)
        except Exception as exc:
            raise ModelError(f"Cannot load a scikit-learn model from {reference}: {exc}") from exc
    file = Path(reference)
    if file.is_dir() and (file / "MLmodel").is_file():
        return require("mlflow.sklearn").load_model(str(file))
    if not file.is_file():
        raise ModelError(
            f"{reference} is neither an MLflow model URI (runs:/..., models:/...) nor a file."
        )
    if file.suffix.lower() not in (".joblib", ".pkl", ".pickle"):
        raise ModelError(f"{reference}: a model file must be .joblib, .pkl or .pickle.")
    joblib = require("joblib")
    return joblib.load(file)  # the user's own file, named on their own command line


def _cmd_package(args: argparse.Namespace) -> int:
    from workbench._tracking import mlflow_for
    from workbench.packaging import package_model, promote

    settings = _settings(args)
    if args.promote and (not args.holdout or not args.target):
        raise ConfigurationError("--promote needs --holdout and --target.")
    mlflow_for(settings)
    model = _load_model(args.model)
    data = _read_table(args.data, "data")
    holdout = _read_table(args.holdout, "holdout") if args.holdout else None
    packaged = package_model(
        model,
        data,
        args.name,
        target=args.target,
        alias=args.alias,
        description=args.description or "",
        run_id=args.run_id,
        contract=args.contract,
        holdout=holdout,
        measure_cost=not args.no_cost,
        settings=settings,
    )
    cost = packaged.card.cost
    print(
        f"{packaged.name} version {packaged.version} registered as @{packaged.alias}\n"
        f"  serialization  {packaged.serialization.reason}\n"
        f"  verified       loaded in a fresh process, identical predictions on the example\n"
        + (
            f"  cost           {cost['single_row_ms']:.2f} ms per row, "
            f"{cost['predictions_per_second']:,.0f} predictions/s in 1,000-row batches\n"
            if cost.get("single_row_ms") is not None
            else ""
        )
        + f"  model card     {packaged.card_uri}\n"
        f"  MLflow UI      {packaged.ui_url}"
    )
    if args.promote and holdout is not None and args.target:
        outcome = promote(
            packaged.name,
            holdout,
            target=args.target,
            challenger=args.alias,
            metric=args.metric,
            force=args.force,
            settings=settings,
        )
        print(f"promoted version {outcome.version} to @champion: {outcome.reason}")
    return 0


def _cmd_promote(args: argparse.Namespace) -> int:
    from workbench.packaging import promote

    settings = _settings(args)
    outcome = promote(
        args.name,
        _read_table(args.holdout, "holdout"),
        target=args.target,
        challenger=args.challenger,
        champion=args.champion,
        metric=args.metric,
        force=args.force,
        settings=settings,
    )
    print(f"{args.name}: version {outcome.version} is now @{args.champion} ({outcome.reason})")
    return 0


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

    def add(name: str, help_: str, description: str) -> argparse.ArgumentParser:
        commands.append((name, help_))
        p = sub.add_parser(
            name,
            help=help_,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "--project-dir",
            metavar="DIR",
            help="project folder (default: nearest folder with a pyproject.toml)",
        )
        return p

    init_help = "create a new project (Cookiecutter Data Science layout) wired to the workbench"
    commands.append(("init", init_help))
    init = sub.add_parser(
        "init",
        help=init_help,
        description="Create the folder NAME holding a project laid out like Cookiecutter Data\n"
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
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "monitoring dashboard notebook. Takes about a minute at the default size.",
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
    demo.set_defaults(func=_cmd_demo)

    lab = add(
        "lab",
        "start JupyterLab on 127.0.0.1 in the project folder",
        "Start JupyterLab bound to the loopback interface, rooted at the project.",
    )
    lab.add_argument("--host", help="interface (default: the 'host' setting, 127.0.0.1)")
    lab.add_argument("--port", type=int, help="port (default: the 'lab_port' setting, 8888)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.set_defaults(func=_cmd_lab)

    dash = add(
        "dashboard",
        "serve a dashboard app with Voilà on 127.0.0.1",
        "Serve apps/APP.ipynb with Voilà: no source cells, no tracebacks shown. Apps:\n"
        "monitoring (the served model's log: KPIs, drift, performance, errors, alerts),\n"
        "model_card, experiments, explore. A kernel runs the app ahead of each visit\n"
        "(--no-preheat: on each visit). Prints 'serving at URL' once it listens and\n"
        "'ready at URL' once the first page is computed: from then on a visit gets a\n"
        "page without waiting for the app to run. Ctrl-C or SIGTERM stops it and its\n"
        "kernels.\n\n"
        "Login (one of): per-user passwords, kept hashed in .workbench/secrets/\n"
        "  workbench dashboard add-user NAME       asks for the password (--password-stdin)\n"
        "  workbench dashboard remove-user NAME    and `users` lists them;\n"
        "a shared token in WORKBENCH_DASHBOARD_TOKEN (typed on the login page); or single\n"
        "sign-on through a proxy (settings dashboard_user_header, dashboard_trusted_proxy).\n"
        "Without one it serves only 127.0.0.1 unless told --insecure.",
    )
    dash.add_argument(
        "app",
        nargs="?",
        default="monitoring",
        help="app name in apps/ (default: monitoring), or add-user, remove-user, users",
    )
    dash.add_argument("user", nargs="?", help=argparse.SUPPRESS)  # of add-user/remove-user
    dash.add_argument("--host", help="interface (default: the 'host' setting, 127.0.0.1)")
    dash.add_argument("--port", type=int, help="port (default: the 'dashboard_port' setting, 8866)")
    dash.add_argument(
        "--no-preheat",
        action="store_true",
        help="run the app when a page is opened, not ahead of time (slower pages, always "
        "the latest data)",
    )
    dash.add_argument("--ssl-certfile", metavar="PEM", help="serve HTTPS with this certificate")
    dash.add_argument("--ssl-keyfile", metavar="PEM", help="the certificate's private key")
    dash.add_argument(
        "--insecure",
        action="store_true",
        help="serve beyond 127.0.0.1 without a login (anyone who reaches it sees it)",
    )
    dash.add_argument(
        "--password-stdin",
        action="store_true",
        help="add-user: read the password from standard input (for scripts)",
    )
    dash.set_defaults(func=_cmd_dashboard)

    run_nb = add(
        "run-notebooks",
        "execute the lifecycle notebooks and the apps with papermill",
        "Execute notebooks/*.ipynb, then apps/*.ipynb, each in a fresh kernel, with the\n"
        "project's folder as project_dir and any -p NAME=VALUE the notebook declares in\n"
        "its parameters cell. Each leaves an executed copy and an HTML report in the build\n"
        "folder. A failing notebook does not stop the others; the exit code is 1 if any\n"
        "failed, and the summary names the cell and the error.\n\n"
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

    serve = add(
        "serve",
        "serve a registered model over REST (MLflow scoring protocol)",
        "Serve MODEL_URI with POST /invocations (dataframe_split, dataframe_records,\n"
        "instances, inputs, CSV), GET /ping, /health, /version and /metrics (Prometheus).\n"
        "Every predicted row is appended to the inference log with its request id\n"
        "(X-Request-ID header). SIGTERM finishes in-flight requests and flushes the log\n"
        "before exiting. Bodies over --max-body-mb get 413.\n\n"
        "Authentication: set WORKBENCH_SERVE_TOKEN in the server's environment and every\n"
        "endpoint but /ping and /health needs 'Authorization: Bearer <token>' (401 otherwise).\n"
        "The token is read from the environment, never from the command line (which other\n"
        "users can see), and never logged.",
    )
    serve.add_argument(
        "model_uri",
        metavar="MODEL_URI",
        help="models:/name@alias, models:/name/version or runs:/id/model",
    )
    serve.add_argument("--host", help="interface (default: the 'host' setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: the 'serve_port' setting, 5005)")
    serve.add_argument(
        "--log-dir",
        metavar="DIR",
        help="inference log folder (default: the 'inference_log_dir' setting)",
    )
    serve.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP threads for prediction (default 1)"
    )
    serve.add_argument(
        "--no-log",
        action="store_true",
        help="do not write the inference log (to measure its cost; monitoring needs it)",
    )
    serve.add_argument(
        "--reload-seconds",
        type=float,
        default=10.0,
        help="for models:/name@alias, check the alias this often and serve the version it "
        "moves to without dropping requests; SIGHUP checks at once; 0: only on SIGHUP "
        "(default 10)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=float,
        default=16.0,
        help="largest request body in MiB; larger ones get 413 (default 16)",
    )
    serve.set_defaults(func=_cmd_serve)

    features = add(
        "features",
        "register and materialize the project's feature views",
        "Work with the feature views declared in the project's features.py:\n"
        "  list         registered views: version, runs, online version\n"
        "  apply        register a version of each view (new definition or source data)\n"
        "  materialize  compute and store the views' features for a time range\n"
        "               (rows already stored for the range are replaced, never doubled)",
    )
    features.add_argument("action", choices=("list", "apply", "materialize"))
    features.add_argument("views", nargs="*", metavar="VIEW", help="views (default: all)")
    features.add_argument("--start", help="first event time to materialize (default: earliest)")
    features.add_argument("--end", help="last event time, inclusive (default: latest)")
    features.add_argument(
        "--online", action="store_true", help="also load the latest values into the online store"
    )
    features.add_argument(
        "--definitions",
        metavar="FILE",
        help="feature definitions file (default: features.py in the project folder)",
    )
    features.set_defaults(func=_cmd_features)

    package = add(
        "package",
        "package a fitted model: verify, document, register",
        "Log MODEL to MLflow with a signature, an input example and pinned requirements\n"
        "(skops with the pipeline's scikit-learn types trusted, else cloudpickle with the\n"
        "reason recorded), load it back in a fresh process and check its predictions,\n"
        "measure fit time and prediction latency, and register a new version with a model\n"
        "card, the reference data and the data contract. Nothing is registered if any step\n"
        "fails.\n\n"
        "MODEL is an MLflow URI (runs:/<run>/best_model from `tune`, models:/name/3) or a\n"
        "fitted scikit-learn pipeline saved with joblib (.joblib, .pkl): only load files\n"
        "you trust, a pickle runs code when it is loaded.",
    )
    package.add_argument("model", metavar="MODEL", help="MLflow model URI or .joblib file")
    package.add_argument(
        "--data", required=True, metavar="FILE", help="training rows (.parquet or .csv)"
    )
    package.add_argument("--name", required=True, help="registered model name")
    package.add_argument("--target", help="target column of --data (for fit time and holdout)")
    package.add_argument("--alias", default="challenger", help="alias (default challenger)")
    package.add_argument("--description", help="what the model is for (on the model card)")
    package.add_argument("--holdout", metavar="FILE", help="rows to score the model on")
    package.add_argument("--contract", metavar="YAML", help="data contract to store with it")
    package.add_argument("--run-id", help="MLflow run to log under (default: a new run)")
    package.add_argument(
        "--no-cost", action="store_true", help="skip measuring fit time and latency"
    )
    package.add_argument(
        "--promote",
        action="store_true",
        help="then promote it to @champion if not worse on --holdout",
    )
    package.add_argument("--metric", help="holdout metric for --promote (rmse, mae, accuracy…)")
    package.add_argument("--force", action="store_true", help="promote even if worse")
    package.set_defaults(func=_cmd_package)

    prom = add(
        "promote",
        "move @champion to the @challenger if it is not worse on a holdout",
        "Score the @challenger and @champion versions of NAME on the same holdout rows and\n"
        "move @champion to the challenger unless it scores worse (then nothing changes and\n"
        "the command fails, saying both scores). The old champion keeps @previous_champion.",
    )
    prom.add_argument("name", metavar="NAME", help="registered model name")
    prom.add_argument(
        "--holdout", required=True, metavar="FILE", help="rows with the target (.parquet/.csv)"
    )
    prom.add_argument("--target", required=True, help="target column of the holdout")
    prom.add_argument(
        "--metric",
        help="rmse, mae, mape, r2 (regression); accuracy, f1_macro, f1_binary, "
        "precision_/recall_ binary or macro (classification)",
    )
    prom.add_argument("--challenger", default="challenger", help="alias to promote")
    prom.add_argument("--champion", default="champion", help="alias to move")
    prom.add_argument("--force", action="store_true", help="promote even if worse")
    prom.set_defaults(func=_cmd_promote)
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
