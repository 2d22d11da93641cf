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
from collections.abc import Sequence
from typing import Any

__all__ = ["READY", "SERVING", "serve"]

#: The first words of the line printed (stdout) when a visit is served without waiting.
READY = "ready at"
#: The first words of the line printed when the server listens.
SERVING = "serving at"


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


def serve(argv: Sequence[str]) -> int:
    """Run Voilà with ``argv`` (its command line, without the program name) until it is
    stopped; returns the exit status."""
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

    class AppContents(LargeFileManager):
        """Voilà's contents manager, without the notebook-signature check."""

        def mark_trusted_cells(self, nb: Any, path: str = "") -> None:
            """Nothing to mark: Voilà shows no stored output, only what the run produces."""

    class WorkbenchVoila(voila.Voila):  # type: ignore[misc]
        def init_settings(self) -> dict[str, Any]:
            settings: dict[str, Any] = super().init_settings()
            self.contents_manager = settings["contents_manager"] = AppContents(parent=self)
            # jupyter_server's default timeout (three pings) is longer than the interval,
            # which tornado 6.5 refuses, with a warning on the first visit
            self.tornado_settings.setdefault("ws_ping_timeout", WS_PING_INTERVAL)
            return settings

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
        sys.stdout.flush()
    return 0
