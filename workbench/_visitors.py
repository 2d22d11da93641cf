"""Who is signed in to the page a dashboard kernel serves, as the kernel may know it.

A kernel of ``workbench dashboard`` runs an app for one visitor's page, but nothing the
kernel receives from the page tells it who that is in a way the page could not make up
(a message's header names whatever user the browser writes there). The server knows:
the page's websocket to its kernel passed the dashboard's login. So the server writes it
down (:mod:`workbench._jupyter._visitors`): when a websocket to a kernel opens, the user
of its session goes into a file named after the kernel, in a folder only this account
can read (mode 0700, made by the server for its lifetime and named to its kernels in
``WORKBENCH_DASHBOARD_VISITORS``, beside the login method in
``WORKBENCH_DASHBOARD_LOGIN``); when the websocket closes, or a message comes over it
after its session ended (logout, a new password, the user removed, the session's 12
hours), the entry goes before the message reaches the kernel. The kernel reads its own
file (its id is in its connection file's name) when it needs to know:
:func:`current_visitor`.

Only a person the login names counts: a user of ``workbench dashboard add-user``, or
one a trusted single sign-on proxy names. A shared token names nobody; no login names
nobody.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "ENV_FOLDER",
    "ENV_LOGIN",
    "Visitor",
    "current_visitor",
    "forget_visit",
    "record_visit",
]

#: The folder of visit files, set by ``workbench dashboard`` for its kernels.
ENV_FOLDER = "WORKBENCH_DASHBOARD_VISITORS"
#: The dashboard's login method (``users``, ``token``, ``proxy``, ``none``).
ENV_LOGIN = "WORKBENCH_DASHBOARD_LOGIN"
#: Login methods whose sessions name a person.
NAMED = ("users", "proxy")

_KERNEL_ID = re.compile(r"kernel-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


@dataclasses.dataclass(frozen=True)
class Visitor:
    """The person signed in to this kernel's page, or why there is none.

    Attributes:
        user: Their user name (``None`` when nobody is named).
        reason: Why nobody is named, in a sentence for that person (empty with a user).
    """

    user: str | None
    reason: str = ""


def _visit_file(folder: str | Path, kernel_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f-]{36}", kernel_id):
        raise ValueError(f"A kernel id is a UUID; got {kernel_id!r}.")
    return Path(folder) / f"{kernel_id}.json"


def _read(path: Path) -> dict[str, str]:
    try:
        visits = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in visits.items()} if isinstance(visits, dict) else {}


def _write(path: Path, visits: Mapping[str, str]) -> None:
    """All at once (a reader sees the old file or the new one), readable by us only."""
    if not visits:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    partial = path.with_suffix(".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(dict(visits), handle)
    partial.replace(path)


def record_visit(folder: str | Path, kernel_id: str, connection: str, user: str) -> None:
    """The server's side: ``user``'s websocket ``connection`` to ``kernel_id`` is open."""
    path = _visit_file(folder, kernel_id)
    _write(path, {**_read(path), connection: user})


def forget_visit(folder: str | Path, kernel_id: str, connection: str) -> None:
    """The server's side: websocket ``connection`` closed, or its session ended."""
    path = _visit_file(folder, kernel_id)
    visits = _read(path)
    if visits.pop(connection, None) is not None or not visits:
        _write(path, visits)


def _own_kernel_id() -> str | None:
    """This kernel's id, from its connection file's name (``kernel-<id>.json``)."""
    try:
        from ipykernel.connect import get_connection_file

        found = _KERNEL_ID.search(Path(get_connection_file()).name)
    except Exception:  # not in a kernel (a script, a test): no page, no visitor
        return None
    return found.group(1) if found else None


def current_visitor(
    environ: Mapping[str, str] | None = None, kernel_id: str | None = None
) -> Visitor:
    """Who is signed in to the page this kernel serves (see the module's docstring).

    Args:
        environ: The environment (default: the process's).
        kernel_id: This kernel's id (default: from its connection file).
    """
    env = os.environ if environ is None else environ
    folder, login = env.get(ENV_FOLDER), env.get(ENV_LOGIN, "")
    if not folder:
        return Visitor(
            None,
            "This page is not served by `workbench dashboard`, so nobody is signed in to "
            "it. Open the monitoring app with `workbench dashboard` and sign in, or run "
            "`workbench promote`.",
        )
    if login == "none":
        return Visitor(
            None,
            "This dashboard has no login, so it cannot tell who you are. Add users "
            "with `workbench dashboard add-user NAME` and sign in to promote.",
        )
    if login not in NAMED:
        return Visitor(
            None,
            "This dashboard's login is a shared token, which does not say who you are. "
            "Promotion needs a user of your own: `workbench dashboard add-user NAME`.",
        )
    kernel = kernel_id or _own_kernel_id()
    users = sorted(set(_read(_visit_file(folder, kernel)).values())) if kernel else []
    if not users:
        return Visitor(None, "You are not signed in (or your session ended): sign in again.")
    if len(users) > 1:
        return Visitor(
            None,
            f"More than one person is connected to this page ({', '.join(users)}): "
            f"promotion needs one. Reload the page.",
        )
    return Visitor(users[0])
