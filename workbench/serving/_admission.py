"""Who may ask, and how much they may send: one check, before any body is read.

Every request passes :meth:`Admission.check` once: ``POST /invocations`` in the
:class:`~workbench.serving._scoring.Scorer`, which answers it before FastAPI's stack, and
every other path in the app's :class:`Guard` middleware.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Any

from workbench.serving._http import Reply, too_large

if TYPE_CHECKING:
    from workbench.serving._metrics import Metrics

__all__ = ["OPEN_PATHS", "Admission", "Guard", "authorized"]

#: Probes stay open when a token is required (a load balancer has none).
OPEN_PATHS = frozenset({"/ping", "/health"})


def authorized(value: bytes, token: bytes) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>``.

    The scheme is matched in any case (``bearer``, ``BEARER``: RFC 9110, section 11.1)
    and may be followed by more than one space; the token is compared whole, in
    constant time, and case-sensitively.
    """
    scheme, _, credentials = value.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.lstrip(b" "), token)


def unauthenticated() -> Reply:
    return Reply.error(
        401, "This server needs 'Authorization: Bearer <token>'.", {"WWW-Authenticate": "Bearer"}
    )


class Admission:
    """The bearer token (when one is set) and the body's declared size.

    Args:
        token: The token every path but :data:`OPEN_PATHS` needs, or None.
        max_body_bytes: Largest body accepted; a larger declared ``Content-Length`` gets
            413 at once (a body sent in chunks is cut off as it is read).
    """

    def __init__(self, token: str | None, max_body_bytes: int) -> None:
        self._token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes

    def check(self, scope: Any) -> Reply | None:
        """The refusal of the request whose ASGI ``scope`` this is, or None to go on."""
        headers = dict(scope["headers"])
        if (
            self._token is not None
            and scope["path"] not in OPEN_PATHS
            and not authorized(headers.get(b"authorization", b""), self._token)
        ):
            return unauthenticated()
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return too_large(int(declared), self.max_body_bytes)
        return None


class Guard:
    """The admission check for every path FastAPI routes; then metrics.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs a task and a
    stream copy per request, a large share of a one-row prediction.
    """

    def __init__(self, inner: Any, *, admission: Admission, metrics: Metrics) -> None:
        self.inner = inner
        self.admission = admission
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        refusal = self.admission.check(scope)
        if refusal is not None:
            await refusal.send(send)
            self.metrics.observe(path, refusal.status, time.perf_counter() - started)
            return
        seen = {"status": 500, "rows": 0}

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for key, value in message.get("headers", ()):
                    if key == b"x-predicted-rows":
                        seen["rows"] = int(value)
            await send(message)

        try:
            await self.inner(scope, receive, sending)
        finally:
            self.metrics.observe(path, seen["status"], time.perf_counter() - started, seen["rows"])
