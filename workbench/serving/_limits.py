"""The scoring server's HTTP limits: request-header size and the time to send them.

uvicorn's fast parser (httptools) takes headers of any size and waits for them forever:
an 8 MB header was answered, and connections that send nothing, or half a request, were
held open indefinitely (one file descriptor and its buffers each). uvicorn's own
``timeout_keep_alive`` closes a connection idle *between* requests only, and any byte
received cancels it. :func:`limited_protocol` gives uvicorn a protocol that also

- answers 431 and closes the connection once a request's line and headers pass
  ``max_header_bytes``;
- closes a connection whose request headers have not all come ``header_timeout``
  seconds after it opened, or after the previous answer on it (a request whose headers
  came may take its time over its body: the body's size is bounded by the app).
"""

from __future__ import annotations

from typing import Any

from workbench._imports import require

__all__ = ["limited_protocol"]

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)


def limited_protocol(max_header_bytes: int, header_timeout: float) -> type[Any]:
    """uvicorn's httptools protocol with a header size and a header time limit."""
    base = require("uvicorn.protocols.http.httptools_impl", feature="the scoring server")

    class LimitedProtocol(base.HttpToolsProtocol):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_bytes = 0
            self._headers_seen = 0  # requests whose headers have all come
            self._answered = 0
            self._refused = False
            self._header_timer: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout, self._too_slow)

        def _too_slow(self) -> None:
            """Close the connection if it is still waiting for a request's headers."""
            self._header_timer = None
            if self._headers_seen == self._answered and not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if not self._refused:
                super().data_received(data)

        def on_message_begin(self) -> None:
            self._header_bytes = 0
            super().on_message_begin()

        def _count(self, size: int) -> bool:
            """Count header bytes; refuse the request (431, close) past the limit."""
            if self._refused:
                return False
            self._header_bytes += size
            if self._header_bytes <= max_header_bytes:
                return True
            self._refused = True
            message = f"The request's headers pass {max_header_bytes:,} bytes.".encode()
            self.transport.write(_TOO_LARGE % (len(message), message))
            self.transport.close()
            return False

        def on_url(self, url: bytes) -> None:
            if self._count(len(url)):
                super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            if self._count(len(name) + len(value) + 4):  # ": " and CRLF
                super().on_header(name, value)

        def on_headers_complete(self) -> None:
            if self._refused:
                return
            self._headers_seen += 1
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._refused:
                super().on_message_complete()

        def on_response_complete(self) -> None:
            self._answered += 1
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers must come in time too

    return LimitedProtocol
