"""Voilà as ``workbench dashboard`` runs it: it says when a visit no longer waits for the app.

With ``preheat_kernel``, Voilà starts a kernel for the app as soon as it starts and runs
the notebook in it (imports, the pass over the inference log, the figures), then hands
that page to the next visitor. Voilà does not tell when that run is over, so a visitor
arriving right after the server started waited for most of it. Here the server prints
``serving at URL`` once it listens (a visit then waits for the run in progress, the
fastest page it can get) and ``ready at URL`` once the run ahead of the first visit is
rendered: from then on a visit is handed that page without waiting. Without
preheating, ``ready at`` comes right after ``serving at``. SIGTERM and Ctrl-C stop the
server and its kernels (exit status 0).

Every route of the server needs the visitor's session when the dashboard has a login
(:mod:`._auth`, on Jupyter Server's identity provider API): the page, the kernels'
websockets and REST routes, and every static and file route; the login page needs no
other file. The HTTP server takes its limits (header size, the time to send headers or a
body, idle keep-alive) and TLS from ``http``, as keyword arguments of tornado's
``HTTPServer``; it never trusts ``X-Forwarded-For`` (no ``xheaders``), so the address a
single sign-on proxy is recognised by is the connection's own.

It starts clean: its kernels talk to it over CurveZMQ-encrypted sockets (ipykernel warns
about plain TCP on every start), the apps are not checked against Jupyter's notebook
signatures (a check for opening a notebook's stored outputs in an editor: Voilà runs the
app and shows only what that run produced, and the check wrote a signing key into the
user's home), and the websocket ping timeout is one tornado accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._network import tls_context

if TYPE_CHECKING:
    from workbench._jupyter._access import DashboardAccess
    from workbench._settings import Settings

__all__ = ["MAX_BODY_BYTES", "READY", "SERVING", "http_options", "serve"]

#: The largest request body the dashboard reads: its forms are a login and a kernel's
#: shutdown (a websocket's messages are not request bodies).
MAX_BODY_BYTES = 1024 * 1024

#: The first words of the line printed (stdout) when a visit is served without waiting.
READY = "ready at"
#: The first words of the line printed when the server listens.
SERVING = "serving at"


def http_options(
    settings: Settings, certfile: str | None = None, keyfile: str | None = None
) -> dict[str, Any]:
    """The HTTP server's limits from ``settings``, and TLS when a certificate is given.

    Raises:
        ConfigurationError: Only one of ``certfile`` and ``keyfile`` is given, or they
            cannot be loaded (missing, not PEM, a key that is not the certificate's).
    """
    options: dict[str, Any] = {
        "max_header_size": settings.dashboard_max_header_kb * 1024,
        "idle_connection_timeout": float(settings.dashboard_idle_timeout),
        "body_timeout": float(settings.dashboard_body_timeout),
        "max_body_size": MAX_BODY_BYTES,
    }
    context = tls_context(certfile, keyfile)
    if context is not None:
        options["ssl_options"] = context
    return options


async def _preheated(kernel_manager: Any) -> None:
    """Wait until every kernel started ahead of a visit has rendered its page.

    Voilà's preheating kernel manager keeps, per notebook, a list of tasks (``_pools``)
    that start a kernel and return the task rendering the notebook in it; a plain kernel
    manager has none, and then there is nothing to wait for. A run that fails still
    renders a page (Voilà shows the error), so failures end the wait too.
    """
    pools: dict[str, list[asyncio.Future[Any]]] = getattr(kernel_manager, "_pools", None) or {}
    for pool in list(pools.values()):
        for started in list(pool):
            with contextlib.suppress(Exception):
                content = await started
                await content["task"]


async def _stop_kernels(kernel_manager: Any) -> None:
    """Stop every kernel at once: a dashboard's kernel holds nothing to save.

    Voilà's own shutdown asks each kernel to stop and waits, and fails on a kernel still
    starting (the one refilling the pool right after a visit, say): jupyter_server does
    not know it yet and answers 404, leaving the kernels after it running. A kernel still
    starting ends by itself once this server is gone (ipykernel watches its parent).
    """
    from jupyter_core.utils import ensure_async

    for kernel_id in kernel_manager.list_kernel_ids():
        with contextlib.suppress(Exception):
            await ensure_async(kernel_manager.shutdown_kernel(kernel_id, now=True))


def _log_request(handler: Any) -> None:
    """tornado's access log line, with the path only: a query string may carry what a
    visitor should not have put there (a token, a password) and stays out of the log."""
    from tornado.log import access_log

    status = handler.get_status()
    log = (
        access_log.info
        if status < 400
        else (access_log.warning if status < 500 else access_log.error)
    )
    request = handler.request
    took = 1000.0 * request.request_time()
    log("%d %s %s (%s) %.2fms", status, request.method, request.path, request.remote_ip, took)


def _logout_link(page_config: dict[str, Any], base_url: str, **_: Any) -> dict[str, Any]:
    """Voilà's page config hook: the template draws a logout link when this names one."""
    return {**page_config, "workbenchLogout": base_url.rstrip("/") + "/logout"}


def serve(
    argv: Sequence[str],
    *,
    access: DashboardAccess | None = None,
    http: Mapping[str, Any] | None = None,
) -> int:
    """Run Voilà with ``argv`` (its command line, without the program name) until it is
    stopped; returns the exit status.

    Args:
        argv: Voilà's command line.
        access: Who may open it (default: anyone who reaches it, for loopback).
        http: Keyword arguments of tornado's ``HTTPServer``: ``ssl_options`` (an
            ``ssl.SSLContext``), ``max_header_size``, ``idle_connection_timeout``,
            ``body_timeout``, ``max_body_size``.
    """
    # jsonschema, which jupyter_events imports, builds rfc3987_syntax's grammar at import
    # (two seconds here) for the "iri" formats, which no schema of this server uses;
    # without it jsonschema leaves those formats unchecked.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from workbench._imports import require
    from workbench._jupyter._kernels import ENCRYPTION_ARGUMENT

    voila: Any = require("voila.app", feature="workbench dashboard")
    from jupyter_core.utils import run_sync
    from jupyter_server.base.websocket import WS_PING_INTERVAL
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
    from tornado.ioloop import IOLoop
    from tornado.web import Application

    from workbench._jupyter._access import DashboardAccess
    from workbench._jupyter._auth import DashboardIdentityProvider, guard
    from workbench._jupyter._visitors import VisitorBook

    who = access or DashboardAccess("none")
    visitors = VisitorBook(who.method)  # who is signed in to each kernel's page, for it
    options = dict(http or {})
    options.pop("xheaders", None)  # the peer's address is the connection's, never a header

    class LimitedApplication(Application):
        """Voilà's tornado application, listening with ``options``."""

        def listen(self, port: int, address: str | None = None, **kwargs: Any) -> Any:
            return super().listen(port, address, **{**options, **kwargs})

    class AppContents(LargeFileManager):
        """Voilà's contents manager, without the notebook-signature check."""

        def mark_trusted_cells(self, nb: Any, path: str = "") -> None:
            """Nothing to mark: Voilà shows no stored output, only what the run produces."""

    class WorkbenchVoila(voila.Voila):  # type: ignore[misc]
        def init_settings(self) -> dict[str, Any]:
            if who.method != "none":
                self.voila_configuration.page_config_hook = _logout_link
            settings: dict[str, Any] = super().init_settings()
            self.contents_manager = settings["contents_manager"] = AppContents(parent=self)
            # jupyter_server's default timeout (three pings) is longer than the interval,
            # which tornado 6.5 refuses, with a warning on the first visit
            self.tornado_settings.setdefault("ws_ping_timeout", WS_PING_INTERVAL)
            title = f"{Path(self.notebook_path).stem} dashboard" if self.notebook_path else ""
            provider = DashboardIdentityProvider(
                who, title=title or "Dashboard", parent=self, log=self.log
            )
            self.identity_provider = settings["identity_provider"] = provider
            self.authorizer = settings["authorizer"] = self.authorizer_class(
                parent=self, log=self.log, identity_provider=provider
            )
            return settings

        def start(self) -> None:  # Voilà's, with the guard on every route and the limits
            self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
            self.app = LimitedApplication(**self.init_settings())
            self.app.settings.update(self.tornado_settings)
            self.app.settings["log_function"] = _log_request
            self.app.add_handlers(".*$", guard(visitors.track(self.init_handlers())))
            self.listen()

        def _url(self, ip: str) -> str:
            scheme = "https" if options.get("ssl_options") else "http"
            return f"{scheme}://{ip}:{self.port}{self.base_url}"

        def listen(self) -> None:  # the kernel pool is set up, the event loop not running
            IOLoop.current().add_callback(self._announce)
            super().listen()

        async def _announce(self) -> None:
            url = self.connection_url
            print(f"{SERVING} {url}", flush=True)
            await _preheated(self.kernel_manager)
            print(f"{READY} {url}", flush=True)

        def stop(self) -> None:  # Voilà's, with _stop_kernels
            run_sync(_stop_kernels)(self.kernel_manager)
            shutil.rmtree(self.connection_dir, ignore_errors=True)

    argv = [ENCRYPTION_ARGUMENT, *argv]
    try:
        WorkbenchVoila.launch_instance(argv=argv)
    except SystemExit as exc:  # Voilà's own exit (a port it cannot bind, bad arguments)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        visitors.close()
        sys.stdout.flush()
    return 0
