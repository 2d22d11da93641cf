"""The dashboard server's side of :mod:`workbench._visitors`: it writes down who is
signed in to each kernel's page, for the kernel to read.

:class:`VisitorBook` makes the private folder (mode 0700) and names it, and the login
method, to the kernels the server starts (their environment is the server's). Its
:meth:`~VisitorBook.track` wraps the kernels' websocket handler: when a page's websocket
to its kernel opens, the user of the request's session is recorded for that kernel;
when it closes, the record goes; and each message the page sends over it is let through
only while that session still holds (after a logout, a new password, the user's removal
or the session's end, the record goes and the websocket is closed before the message
reaches the kernel). Nothing the browser sends is believed: the user comes from the
identity provider's check of the session, as for every other route.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench._visitors import ENV_FOLDER, ENV_LOGIN, NAMED, forget_visit, record_visit

__all__ = ["VisitorBook"]


class VisitorBook:
    """The visit records of one dashboard server (see the module's docstring).

    Args:
        method: The dashboard's login method (``users``, ``token``, ``proxy``, ``none``).
    """

    def __init__(self, method: str) -> None:
        self.method = method
        self.folder = Path(tempfile.mkdtemp(prefix="workbench-visitors-"))  # mode 0700
        os.environ[ENV_FOLDER] = str(self.folder)  # the kernels inherit the environment
        os.environ[ENV_LOGIN] = method

    def close(self) -> None:
        """Remove the folder (the server has stopped)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        for name in (ENV_FOLDER, ENV_LOGIN):
            if os.environ.get(name) == (str(self.folder) if name == ENV_FOLDER else self.method):
                del os.environ[name]

    def track(self, handlers: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``handlers`` with the kernels' websocket handler recording its visitor."""
        from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

        tracked = []
        for rule in handlers:
            pattern, handler_class, *rest = rule
            if isinstance(handler_class, type) and issubclass(
                handler_class, KernelWebsocketHandler
            ):
                handler_class = self._tracking(handler_class)
            tracked.append((pattern, handler_class, *rest))
        return tracked

    def _tracking(self, handler_class: type[Any]) -> type[Any]:
        book = self

        class Tracked(handler_class):  # type: ignore[misc]
            _visit: str | None = None

            def _user(self) -> str | None:
                user = self.settings["identity_provider"].get_user(self)
                return None if user is None else str(user.username)

            async def open(self, kernel_id: str) -> None:
                user = self._user()
                if user is not None and book.method in NAMED:
                    self._visit = secrets.token_hex(16)
                    record_visit(book.folder, kernel_id, self._visit, user)
                await super().open(kernel_id)

            def _forget(self) -> None:
                if self._visit is not None:
                    with contextlib.suppress(OSError, ValueError):
                        forget_visit(book.folder, self.kernel_id, self._visit)
                    self._visit = None

            def on_message(self, message: Any) -> Any:
                if self._visit is not None and self._user() is None:  # the session ended
                    self._forget()
                    self.close(4001, "signed out")
                    return None
                return super().on_message(message)

            def on_close(self) -> None:
                self._forget()
                super().on_close()

        Tracked.__name__ = Tracked.__qualname__ = f"Visited{handler_class.__name__}"
        return Tracked
