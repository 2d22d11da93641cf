"""Who may ask, and how much they may send: one check, before any body is read.

Every request passes :meth:`Admission.check` once: ``POST /invocations`` in the
:class:`~workbench.serving._scoring.Scorer`, which answers it before FastAPI's stack, and
every other path in the app's :class:`Guard` middleware.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workbench._network import Throttle, retry_after
from workbench.serving._http import Reply, too_large

if TYPE_CHECKING:
    from workbench.serving._metrics import Metrics
    from workbench.serving._tokens import Callers

__all__ = ["OPEN_PATHS", "Admission", "Guard", "credentials"]

#: Probes stay open when a token is required (a load balancer has none).
OPEN_PATHS = frozenset({"/ping", "/health"})


def credentials(value: bytes) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header value (None: another
    scheme). The scheme is matched in any case (``bearer``, ``BEARER``: RFC 9110,
    section 11.1) and may be followed by more than one space."""
    scheme, _, token = value.partition(b" ")
    return token.lstrip(b" ") if scheme.lower() == b"bearer" else None


def unauthenticated() -> Reply:
    return Reply.error(
        401, "This server needs 'Authorization: Bearer <token>'.", {"WWW-Authenticate": "Bearer"}
    )


class Admission:
    """The caller's bearer token (when tokens are configured) and the body's declared size.

    A client address that presented ``free_failures`` wrong (or no) tokens in a row must
    wait before its next try (1 s, then 2, 4, ... up to 15 minutes) and is answered 429
    with ``Retry-After`` until then, its token not looked at; a right token clears its
    count. The address is the connection's own (``X-Forwarded-For`` is never believed).

    Args:
        callers: Who a token names; with no token configured, every request is admitted.
        max_body_bytes: Largest body accepted; a larger declared ``Content-Length`` gets
            413 at once (a body sent in chunks is cut off as it is read).
        free_failures: Wrong tokens an address may send in a row before it must wait.
    """

    def __init__(self, callers: Callers, max_body_bytes: int, free_failures: int = 10) -> None:
        self.callers = callers
        self.max_body_bytes = max_body_bytes
        self.throttle = Throttle({"address": free_failures})

    def check(self, scope: Any) -> Reply | str:
        """The refusal of the request whose ASGI ``scope`` this is, or the name of its
        caller ('' when no token is required, or on an open path)."""
        headers = dict(scope["headers"])
        client = ""
        if self.callers.required and scope["path"] not in OPEN_PATHS:
            address = [("address", str((scope.get("client") or ("?",))[0]))]
            wait = self.throttle.wait(address)
            if wait > 0:
                return Reply.error(
                    429,
                    "Too many requests with a wrong or no token came from this address; "
                    f"try again in {retry_after(wait)} s.",
                    {"Retry-After": str(retry_after(wait))},
                )
            token = credentials(headers.get(b"authorization", b""))
            name = self.callers.identify(token) if token is not None else None
            if name is None:
                self.throttle.failed(address)
                return unauthenticated()
            self.throttle.succeeded(address)
            client = name
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return too_large(int(declared), self.max_body_bytes)
        return client


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
        if isinstance(refusal, Reply):
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
