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
import io
import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._imports import require
from workbench.serving._http import CSV, JSON, Reply, media_type, read_body, unsupported_encoding
from workbench.serving._log import LoggedError, LoggedRequest
from workbench.serving._payload import Columns, PayloadError, read_json

if TYPE_CHECKING:
    from workbench.serving._admission import Admission
    from workbench.serving._batch import Loaded
    from workbench.serving._metrics import Metrics
    from workbench.serving._model import ServedModel

__all__ = ["Scorer"]

_log = logging.getLogger(__name__)


#: The value a refusal quotes (``..., got 'Mario Rossi'.``), withheld from the error log of
#: a model with personal columns.
_QUOTED_VALUE = re.compile(r", got .*$", re.DOTALL)


class Scorer:
    """The ``/invocations`` handler.

    Args:
        served: The model served; read per request, so that a reload takes effect
            between requests.
        metrics: Where each request's status, latency and rows are counted.
        admission: The token and size check, made before the body is read.
    """

    def __init__(self, served: ServedModel, metrics: Metrics, admission: Admission) -> None:
        self.served = served
        self.metrics = metrics
        self.admission = admission
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
        errors = getattr(self.served, "errors", None)
        if errors is None:
            return
        body = json.loads(reply.body)
        request_id = uuid.uuid4().hex
        reply.headers.append((b"x-request-id", request_id.encode()))
        current: Loaded | None = getattr(self.served, "current", None)
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
        client = self.admission.check(scope)
        if isinstance(client, Reply):
            return client
        headers = dict(scope["headers"])
        mime = media_type(headers)
        if mime not in (JSON, CSV):
            return Reply.error(
                415, f"Content type {mime or '(none)'!r} is not supported; use {JSON!r} or {CSV!r}."
            )
        refusal = unsupported_encoding(headers)
        if refusal is not None:
            return refusal
        received = await read_body(receive, self.admission.max_body_bytes)
        if not isinstance(received, bytes):
            return received
        served = self.served
        request_id = uuid.uuid4().hex
        # this request's version, whole: the one served, or a canary's share of them,
        # chosen by the client's own X-Request-ID where it sends one (a retry lands the same)
        key = headers.get(b"x-request-id", b"")[:256].decode("latin-1") or request_id
        loaded = served.pick(key)
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
            answer = await asyncio.wrap_future(served.batcher.submit(loaded, data))
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
        if served.inference_log:  # before the answer: an acknowledged request is logged
            inputs = (
                {**data.arrays, **data.extra}  # extra: the event time, for monitoring
                if isinstance(data, Columns)
                else {str(c): data[c].to_numpy() for c in data.columns}
            )
            served.mirror(request_id, data, inputs, rows)  # off the request path
            served.writer.append(
                LoggedRequest(
                    request_id=request_id,
                    timestamp_ns=time.time_ns(),
                    model_name=served.name,
                    model_version=loaded.version,
                    latency_ms=(time.perf_counter() - started) * 1000.0,
                    inputs=inputs,
                    rows=rows,
                    predictions=predictions,
                    personal=loaded.personal,
                    scores=answer.scores,
                    classes=loaded.classes,
                    client=client if self.admission.callers.required else None,
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
            [
                (b"x-request-id", request_id.encode()),
                (b"x-predicted-rows", str(rows).encode()),
                (b"x-model-version", loaded.version.encode()),  # which version answered
            ],
            rows,
        )

    def parse(self, body: bytes, mime: str, loaded: Loaded) -> Any:
        """Columns (or MLflow's parse, for signatures the fast parser does not cover)."""
        scoring = require("mlflow.pyfunc.scoring_server")
        if mime == JSON:
            payload = read_json(body)
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
