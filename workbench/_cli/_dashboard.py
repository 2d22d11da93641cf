"""``workbench dashboard``: a Voilà app of the project, and its login's users."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from workbench._cli._common import AddCommand, project_settings
from workbench._exceptions import ConfigurationError

__all__ = ["APP_EXTENSIONS", "register"]

#: The JupyterLab front-end extensions the Voilà apps use: Voilà's own widget manager
#: (for ipywidgets 8), ipywidgets', anywidget's and plotly's.
APP_EXTENSIONS = (
    "@voila-dashboards/widgets-manager8",
    "@jupyter-widgets/jupyterlab-manager",
    "anywidget",
    "jupyterlab-plotly",
)


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

    store = UserStore(users_file(project_settings(args)))
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

    s = project_settings(args)
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
    templates = str(Path(__file__).resolve().parents[1] / "_jupyter")
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


def register(add: AddCommand) -> None:
    """Add the command(s) of this module to the ``workbench`` parser."""
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
