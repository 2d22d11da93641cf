"""``POST /invocations`` as a plain ASGI handler: checked, parsed, predicted, logged.

The scoring request is the one that must be fast, so it does not go through Starlette's
middleware and routing stack (about a dozen coroutine layers, 2–3 ms a request on a
small machine): the app hands it straight to :class:`Scorer`, which reads the body,
checks the token and size, parses against the signature, waits for the prediction
thread and appends the log row before it answers. Every other endpoint stays a FastAPI
route, and ``/invocations`` is documented there too (same handler).
"""

from __future__ import annotations

import asyncio
import hmac
import io
import json
import logging
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench._imports import require
from workbench.serving._batch import Loaded
from workbench.serving._log import LoggedError, LoggedRequest
from workbench.serving._payload import Columns, PayloadError

__all__ = ["ERROR_CODES", "Reply", "Scorer", "authorized", "read_body", "unique_keys"]

_log = logging.getLogger(__name__)

JSON = "application/json"
CSV = "text/csv"
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
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


def unauthenticated() -> Reply:
    return Reply.error(
        401, "This server needs 'Authorization: Bearer <token>'.", {"WWW-Authenticate": "Bearer"}
    )


def authorized(value: bytes, token: bytes) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>``.

    The scheme is matched in any case (``bearer``, ``BEARER``: RFC 9110, section 11.1)
    and may be followed by more than one space; the token is compared whole, in
    constant time, and case-sensitively.
    """
    scheme, _, credentials = value.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.lstrip(b" "), token)


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


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice: which value counts is ambiguous
    (Python keeps the last, other parsers the first), and a model input must not be a guess."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        counts = Counter(k for k, _ in pairs)
        twice = sorted(k for k, n in counts.items() if n > 1)
        raise PayloadError(
            f"The JSON body names the key(s) {twice} twice in one object; send each key once."
        )
    return obj


#: The value a refusal quotes (``..., got 'Mario Rossi'.``), withheld from the error log of
#: a model with personal columns.
_QUOTED_VALUE = re.compile(r", got .*$", re.DOTALL)


class Scorer:
    """The ``/invocations`` handler.

    Args:
        state: The app's live state: ``current`` (a :class:`Loaded`), ``name``, ``writer``,
            ``batcher``; read per request, so a reload takes effect between requests.
        metrics: Where each request's status, latency and rows are counted.
        token: The bearer token required, or None.
        max_body_bytes: Largest body accepted.
        inference_log: Append each answered request to the log.
    """

    def __init__(
        self,
        state: dict[str, Any],
        metrics: Any,
        *,
        token: str | None,
        max_body_bytes: int,
        inference_log: bool,
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes
        self.inference_log = inference_log
        self._mlflow_exception: type[Exception] = require("mlflow.exceptions").MlflowException

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry: answer, and count the answer."""
        started = time.perf_counter()
        try:
            reply = await self.reply(scope, receive)
        except Exception as exc:  # a bug of ours: say so, keep serving
            _log.exception("scoring a request failed")
            reply = Reply.error(500, f"The server failed: {type(exc).__name__}: {exc}")
        if reply is None:  # the client went away before it finished sending
            return
        if reply.status >= 400:
            self.log_error(reply)
        await reply.send(send)
        self.metrics.observe(
            "/invocations", reply.status, time.perf_counter() - started, reply.rows
        )

    def log_error(self, reply: Reply) -> None:
        """Record a refused or failed request in ``<log>/errors/`` (monitoring counts them)."""
        errors = self.state.get("errors")
        if errors is None:
            return
        body = json.loads(reply.body)
        request_id = uuid.uuid4().hex
        reply.headers.append((b"x-request-id", request_id.encode()))
        current = self.state.get("current")
        message = str(body.get("message", ""))
        if current is not None and current.personal:
            # the value a refusal quotes may be a person's: the client sees it, the log not
            message = _QUOTED_VALUE.sub(
                ", got (a value, not logged: the model has personal columns).", message
            )
        errors.append(
            LoggedError(
                request_id=request_id,
                timestamp_ns=time.time_ns(),
                status=reply.status,
                error_code=str(body.get("error_code", "")),
                message=message[:1000],
                model_version=current.version if current is not None else "",
            )
        )

    async def reply(self, scope: Any, receive: Any) -> Reply | None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        if self.token is not None and not authorized(
            headers.get(b"authorization", b""), self.token
        ):
            return unauthenticated()
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return too_large(int(declared), self.max_body_bytes)
        mime = media_type(headers)
        if mime not in (JSON, CSV):
            return Reply.error(
                415, f"Content type {mime or '(none)'!r} is not supported; use {JSON!r} or {CSV!r}."
            )
        refusal = unsupported_encoding(headers)
        if refusal is not None:
            return refusal
        received = await read_body(receive, self.max_body_bytes)
        if not isinstance(received, bytes):
            return received
        loaded: Loaded = self.state["current"]  # this request's version, whole
        try:
            data = self.parse(received, mime, loaded)
        except PayloadError as exc:
            return Reply.error(400, str(exc))
        except self._mlflow_exception as exc:
            return Reply.error(400, getattr(exc, "message", str(exc)))
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            return Reply.error(400, f"The request body cannot be read: {exc}")
        rows = data.rows if isinstance(data, Columns) else len(data)
        if rows == 0:
            return Reply.error(400, "The request has no rows to predict.")
        try:
            answer = await asyncio.wrap_future(self.state["batcher"].submit(loaded, data))
        except self._mlflow_exception as exc:
            return Reply.error(400, getattr(exc, "message", str(exc)))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            return Reply.error(
                400, f"The input does not fit the model: {type(exc).__name__}: {exc}"
            )
        except Exception as exc:  # the model itself failed: say so, not as bad input
            _log.exception("the model failed on a request")
            return Reply.error(500, f"The model failed: {type(exc).__name__}: {exc}")
        predictions = answer.predictions
        request_id = uuid.uuid4().hex
        if self.inference_log:  # before the answer: an acknowledged request is logged
            inputs = (
                {**data.arrays, **data.extra}  # extra: the event time, for monitoring
                if isinstance(data, Columns)
                else {str(c): data[c].to_numpy() for c in data.columns}
            )
            self.state["writer"].append(
                LoggedRequest(
                    request_id=request_id,
                    timestamp_ns=time.time_ns(),
                    model_name=self.state["name"],
                    model_version=loaded.version,
                    latency_ms=(time.perf_counter() - started) * 1000.0,
                    inputs=inputs,
                    rows=rows,
                    predictions=predictions,
                    personal=loaded.personal,
                    scores=answer.scores,
                    classes=loaded.classes,
                )
            )
        if isinstance(predictions, np.ndarray):
            body = json.dumps({"predictions": predictions.tolist()})
        else:
            buffer = io.StringIO()
            require("mlflow.pyfunc.scoring_server").predictions_to_json(predictions, buffer)
            body = buffer.getvalue()
        return Reply(
            200,
            body.encode(),
            [(b"x-request-id", request_id.encode()), (b"x-predicted-rows", str(rows).encode())],
            rows,
        )

    def parse(self, body: bytes, mime: str, loaded: Loaded) -> Any:
        """Columns (or MLflow's parse, for signatures the fast parser does not cover)."""
        scoring = require("mlflow.pyfunc.scoring_server")
        if mime == JSON:
            try:
                payload = json.loads(body, object_pairs_hook=unique_keys)
            except PayloadError:
                raise
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise PayloadError(f"The request body is not valid JSON: {exc}.") from None
            except RecursionError:
                raise PayloadError("The request body is JSON nested too deeply.") from None
            except ValueError as exc:  # a number longer than Python reads (4300 digits)
                reason = str(exc).split(";")[0]  # not the advice meant for the server
                raise PayloadError(
                    f"The request body holds a value JSON cannot read: {reason}."
                ) from None
            if not isinstance(payload, dict):
                raise PayloadError(
                    'The JSON body must be an object such as {"dataframe_split": {...}}.'
                )
            if "params" in payload:
                if loaded.model.metadata.get_params_schema() is not None:
                    raise PayloadError("This server does not pass 'params' to the model.")
                payload.pop("params")  # MLflow ignores params a model does not declare
            if loaded.spec.supported:
                return loaded.spec.parse_json(payload)
            return scoring.infer_and_parse_data(payload, loaded.schema)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(f"The CSV body is not UTF-8 text: {exc}.") from None
        if loaded.spec.supported:
            return loaded.spec.parse_csv(text)
        return scoring.parse_csv_input(io.StringIO(text), loaded.schema)
