"""The scoring server's answers and the HTTP details every endpoint reads alike."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CSV", "ERROR_CODES", "JSON", "Reply", "media_type", "read_body", "too_large"]

JSON = "application/json"
CSV = "text/csv"
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
}


@dataclass
class Reply:
    """A finished response: status, JSON body, extra headers, rows predicted."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    rows: int = 0

    @classmethod
    def error(cls, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(
            {"error_code": ERROR_CODES.get(status, "BAD_REQUEST"), "message": message}
        )
        extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        return cls(status, body.encode(), extra)

    def header_dict(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.headers}

    async def send(self, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", JSON.encode()),
                    (b"content-length", str(len(self.body)).encode()),
                    *self.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def too_large(size: int | None, limit: int) -> Reply:
    """413 for a body of ``size`` bytes (None: sent without a length, cut off at ``limit``)."""
    told = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return Reply.error(
        413,
        f"The request body has {told}; this server takes at most {limit:,}. "
        f"Send fewer rows per request.",
    )


def media_type(headers: dict[bytes, bytes]) -> str:
    """The ``Content-Type`` without its parameters, lower-case ('' when there is none)."""
    return headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()


def unsupported_encoding(headers: dict[bytes, bytes]) -> Reply | None:
    """415 for a compressed (or otherwise encoded) body, naming the encoding."""
    coding = headers.get(b"content-encoding", b"").decode("latin-1").strip()
    if not coding or coding.lower() == "identity":
        return None
    return Reply.error(
        415,
        f"Content-Encoding {coding!r} is not supported: send the body uncompressed "
        f"(without a Content-Encoding header).",
    )


async def read_body(receive: Any, limit: int) -> bytes | Reply | None:
    """The whole request body, or 413 as soon as more than ``limit`` bytes have come
    (a body sent in chunks declares no length), or None if the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return too_large(None, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
