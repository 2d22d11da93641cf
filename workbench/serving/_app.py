"""The scoring app: MLflow's ``/invocations`` protocol, batched prediction, every row logged."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import math
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import workbench
from workbench._exceptions import ServingError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._tracking import mlflow_for
from workbench.serving._batch import Batcher, Loaded
from workbench.serving._log import LOG_COLUMNS, InferenceLogWriter
from workbench.serving._payload import InputSpec, is_text
from workbench.serving._scoring import CSV as _CSV
from workbench.serving._scoring import JSON as _JSON
from workbench.serving._scoring import (
    Reply,
    Scorer,
    authorized,
    media_type,
    read_body,
    too_large,
    unauthenticated,
    unique_keys,
    unsupported_encoding,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]

_log = logging.getLogger(__name__)

#: Largest request body accepted by default (bytes); larger ones get 413.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Upper bounds (seconds) of the latency histogram buckets on ``/metrics``.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_OPEN = ("/ping", "/health")  # probes stay open when a token is required


#: The ``path`` label of every request to a path the server does not have: one series,
#: however many different paths are tried.
OTHER_PATH = "(other)"


def _label(value: object) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counters and a latency histogram, rendered in Prometheus' text format.

    Args:
        paths: The server's paths; a request to any other is counted under
            :data:`OTHER_PATH`, so that a client cannot add series (or, with a path that
            holds quotes and newlines, lines) to ``/metrics``.
    """

    def __init__(self, paths: frozenset[str] = frozenset()) -> None:
        self.paths = paths
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.rows = 0
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_count = 0
        self.latency_sum = 0.0

    def observe(self, path: str, status: int, seconds: float, rows: int = 0) -> None:
        if path not in self.paths:
            path = OTHER_PATH
        with self._lock:
            self.requests[(path, status)] = self.requests.get((path, status), 0) + 1
            self.rows += rows
            if path == "/invocations":
                self.latency_count += 1
                self.latency_sum += seconds
                for i, bound in enumerate(LATENCY_BUCKETS):
                    if seconds <= bound:
                        self.buckets[i] += 1

    def render(self, name: str, version: str) -> str:
        labels = f'model="{_label(name)}",version="{_label(version)}"'
        lines = [
            "# HELP workbench_requests_total Requests answered, by path and status code.",
            "# TYPE workbench_requests_total counter",
        ]
        with self._lock:
            for (path, status), count in sorted(self.requests.items()):
                lines.append(
                    f'workbench_requests_total{{{labels},path="{_label(path)}",'
                    f'status="{status}"}} {count}'
                )
            errors = sum(c for (_, status), c in self.requests.items() if status >= 400)
            lines += [
                "# HELP workbench_request_errors_total Requests answered with a 4xx or 5xx.",
                "# TYPE workbench_request_errors_total counter",
                f"workbench_request_errors_total{{{labels}}} {errors}",
                "# HELP workbench_predicted_rows_total Rows predicted (and logged).",
                "# TYPE workbench_predicted_rows_total counter",
                f"workbench_predicted_rows_total{{{labels}}} {self.rows}",
                "# HELP workbench_request_latency_seconds Latency of /invocations.",
                "# TYPE workbench_request_latency_seconds histogram",
            ]
            for bound, count in zip(LATENCY_BUCKETS, self.buckets, strict=True):
                lines.append(
                    f'workbench_request_latency_seconds_bucket{{{labels},le="{bound}"}} {count}'
                )
            lines += [
                f'workbench_request_latency_seconds_bucket{{{labels},le="+Inf"}} '
                f"{self.latency_count}",
                f"workbench_request_latency_seconds_sum{{{labels}}} {self.latency_sum:.6f}",
                f"workbench_request_latency_seconds_count{{{labels}}} {self.latency_count}",
            ]
        return "\n".join(lines) + "\n"


def _resolve_version(mlflow: Any, model_uri: str) -> tuple[str, str]:
    """Registered name and version behind ``models:/name@alias`` or ``models:/name/3``."""
    if not model_uri.startswith("models:/"):
        return model_uri, "-"
    name, _, ref = model_uri.removeprefix("models:/").partition("@")
    client = mlflow.MlflowClient()
    if ref:
        return name, str(client.get_model_version_by_alias(name, ref).version)
    name, _, version = name.partition("/")
    return name, version or "-"


def _require_registry_uri(model_uri: str) -> None:
    """Refuse anything but a registry or run URI: a file path, ``file://``, a folder or a
    ``..`` segment would load whatever pickle sits there (loading one runs its code)."""
    if not model_uri.startswith(("models:/", "runs:/")) or ".." in model_uri.split("/"):
        raise ServingError(
            f"The model URI must be a registry or run URI (models:/name@alias, "
            f"models:/name/version, runs:/id/model), without '..'; models load only from "
            f"the registry or a run, never from a file path. Got {model_uri!r}."
        )


def check_model_uri(model_uri: str, settings: Settings | None = None) -> tuple[str, str]:
    """The registered model and version ``model_uri`` points at now, before a server
    starts on it.

    Raises:
        ServingError: Not a registry or run URI, or no such model, version or alias; the
            message names it and what the registry has instead.
    """
    _require_registry_uri(model_uri)
    s = settings or get_settings()
    mlflow = mlflow_for(s)
    try:
        return _resolve_version(mlflow, model_uri)
    except mlflow.exceptions.MlflowException as exc:
        from workbench._urls import redact_text, redact_url

        name = model_uri.removeprefix("models:/").partition("@")[0].partition("/")[0]
        client = mlflow.MlflowClient()
        try:
            aliases = sorted(client.get_registered_model(name).aliases)
            known = f"its aliases: {aliases or 'none'}"
        except mlflow.exceptions.MlflowException:
            models = sorted(m.name for m in client.search_registered_models(max_results=100))
            known = f"no model {name!r} is registered; registered models: {models or 'none'}"
        raise ServingError(
            f"Cannot serve {model_uri} from the registry at {redact_url(s.tracking_uri)}: "
            f"{redact_text(str(getattr(exc, 'message', exc)), s.tracking_uri).rstrip('.')} "
            f"({known})."
        ) from None


def _openapi_body(spec: InputSpec) -> dict[str, Any]:
    """The ``/invocations`` request body as JSON Schema, from the model's signature."""
    kinds = {
        "double": {"type": "number"},
        "float": {"type": "number"},
        "long": {"type": "integer"},
        "integer": {"type": "integer"},
        "boolean": {"type": "boolean"},
        "string": {"type": "string"},
        "datetime": {"type": "string", "format": "date-time"},
    }
    properties: dict[str, Any] = {}
    for name, kind, required in spec.columns:
        one = kinds.get(kind, {})
        nullable = not required or kind == "double"  # a JSON null is a missing double
        properties[name] = {"anyOf": [one, {"type": "null"}]} if nullable else one
    record = {
        "type": "object",
        "properties": properties,
        "required": [n for n, _, required in spec.columns if required],
    }
    records = {"type": "array", "items": record, "minItems": 1}
    split = {
        "type": "object",
        "properties": {
            "columns": {
                "type": "array",
                "items": {"type": "string", "enum": spec.names},
                "uniqueItems": True,
            },
            "data": {"type": "array", "items": {"type": "array"}, "minItems": 1},
        },
        "required": ["columns", "data"],
    }

    def shape(key: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": {key: schema}, "required": [key]}

    return {
        "required": True,
        "content": {
            _JSON: {
                "schema": {
                    "anyOf": [
                        shape("dataframe_split", split),
                        shape("dataframe_records", records),
                        shape("inputs", records),
                        shape("instances", records),
                    ]
                }
            },
            _CSV: {"schema": {"type": "string"}},
        },
    }


_ERROR_RESPONSES = {
    "400": "The body does not fit the model's signature; the message names the field.",
    "401": "A token is required and was missing or wrong.",
    "413": "The body is larger than the server takes.",
    "415": "The content type is neither application/json nor text/csv.",
}


def create_app(
    model_uri: str,
    *,
    log_dir: str | Path | None = None,
    settings: Settings | None = None,
    flush_seconds: float = 1.0,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    reload_seconds: float | None = 10.0,
    inference_log: bool = True,
    max_batch_rows: int = 4096,
) -> FastAPI:
    """Build the scoring app for one registered model.

    Endpoints: ``POST /invocations`` (``dataframe_split``, ``dataframe_records``,
    ``instances``, ``inputs`` as JSON, or CSV), ``POST /actuals``, ``GET /ping``,
    ``GET /health``, ``GET /version``, ``GET /metrics`` (Prometheus text: requests by path
    and status, errors, predicted rows, a latency histogram), ``GET /openapi.json`` (whose
    ``/invocations`` body is the model's signature). Each response to ``/invocations``
    carries an ``X-Request-ID`` header, and each predicted row is appended to the
    inference log under that id before the response is sent. A body over
    ``max_body_bytes`` gets 413 (one sent in chunks, without a length, as soon as it
    passes the limit), an encoded one (``Content-Encoding: gzip``) 415; with a ``token``,
    every endpoint but ``/ping`` and ``/health`` needs ``Authorization: Bearer <token>``
    (the scheme in any case; the token checked in constant time, never logged) or gets
    401. ``POST /actuals`` is checked against an in-memory index of the logged request
    ids, in a worker thread: the event loop never reads the log.

    Requests are parsed straight to the signature's column types (a value that does not
    fit gets a 400 naming the column, row and value), and predicted on one prediction
    thread that merges the requests waiting at that moment into one model call.

    Args:
        model_uri: ``models:/name@alias``, ``models:/name/version`` or ``runs:/id/model``.
        log_dir: Inference log folder or fsspec URL (default: the settings'
            ``inference_log_dir``).
        settings: Settings to use (default: the process-wide ones).
        flush_seconds: Longest time a logged row waits in memory.
        token: Bearer token required by the endpoints (``None``: no authentication).
        max_body_bytes: Largest request body accepted.
        reload_seconds: For ``models:/name@alias``, how often to check where the alias
            points; when it moves (or on SIGHUP), the new version is loaded in the
            background and swapped in between requests, none dropped. ``None``: only
            on SIGHUP.
        inference_log: Log every prediction (turn off only to measure what logging costs).
        max_batch_rows: Most rows merged into one model call.

    Returns:
        A FastAPI app; the model loads and the log writer starts when the app starts.

    Raises:
        ServingError: ``model_uri`` is not a registry or run URI.
    """
    _require_registry_uri(model_uri)
    s = settings or get_settings()
    fastapi = require("fastapi", feature="the scoring server")
    responses = require("fastapi.responses")
    openapi_utils = require("fastapi.openapi.utils")

    folder = str(log_dir) if log_dir is not None else str(s.inference_log_dir)
    state: dict[str, Any] = {}
    metrics = Metrics()
    secret = token.encode() if token else None

    def contract_columns(mlflow: Any, name: str, version: str) -> tuple[list[str], list[str]]:
        """Columns the version's data contract (stored by ``package_model``) marks personal,
        and its event-time column (logged beside the inputs, for monitoring's periods)."""
        if version == "-":
            return [], []
        tags = mlflow.MlflowClient().get_model_version(name, version).tags
        if "contract" not in tags:
            return [], []
        from workbench.data import Contract

        contract = Contract.load(mlflow.artifacts.download_artifacts(tags["contract"]))
        return contract.pii_columns, [contract.event_time] if contract.event_time else []

    def load(mlflow: Any, uri: str, name: str, version: str) -> Loaded:
        pyfunc = require("mlflow.pyfunc")
        model = pyfunc.load_model(uri)
        schema = model.metadata.get_input_schema()
        inputs = schema.input_names() if schema is not None and schema.has_input_names() else []
        clash = sorted(set(inputs) & set(LOG_COLUMNS))
        if clash:
            raise ServingError(
                f"Model inputs {clash} collide with inference-log columns {list(LOG_COLUMNS)}."
            )
        personal, event_time = contract_columns(mlflow, name, version)
        loaded = Loaded.of(model, version, personal)
        extra = tuple(c for c in event_time if c not in inputs)
        return dataclasses.replace(loaded, spec=dataclasses.replace(loaded.spec, extra=extra))

    alias = model_uri.removeprefix("models:/").partition("@")[2]
    wake = threading.Event()
    stop = threading.Event()

    def watch(mlflow: Any, name: str) -> None:
        """Follow the alias: load the version it moves to, then swap it in at once."""
        client = mlflow.MlflowClient()
        while not stop.is_set():
            wake.wait(reload_seconds)
            wake.clear()
            if stop.is_set():
                return
            try:
                moved = str(client.get_model_version_by_alias(name, alias).version)
                if moved == state["current"].version:
                    continue
                # one assignment: a request reads all of it or none of it
                state["current"] = load(mlflow, f"models:/{name}/{moved}", name, moved)
                state["reloads"] += 1
                app.openapi_schema = None  # the new version's signature
                _log.info("@%s moved: now serving %s version %s", alias, name, moved)
            except Exception:  # keep serving the loaded version
                _log.exception(
                    "reloading %s@%s failed; still serving the loaded version", name, alias
                )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        from workbench.serving._actuals import RequestIndex

        mlflow = mlflow_for(s)
        name, version = _resolve_version(mlflow, model_uri)
        # what the log holds, for /actuals: the segments there now are read in the
        # background, the server's own ones are added as they are written
        index = RequestIndex(folder, before_refresh=lambda: state["writer"].flush())

        def indexed(path: str, table: Any) -> None:
            if {"request_id", "row_in_request"} <= set(table.column_names):
                rows = table.column("row_in_request").to_numpy()
                index.add(table.column("request_id"), rows, path)

        state.update(
            current=load(mlflow, model_uri, name, version),
            name=name,
            reloads=0,
            index=index,
            writer=InferenceLogWriter(
                folder, flush_seconds=flush_seconds, journal=inference_log, on_write=indexed
            ),
            errors=InferenceLogWriter(
                folder.rstrip("/") + "/errors", flush_seconds=flush_seconds, prefix="errors"
            )
            if inference_log
            else None,
            batcher=Batcher(max_rows=max_batch_rows),
        )
        threading.Thread(target=index.refresh, name="actuals-index", daemon=True).start()
        watcher = None
        if alias:  # polls every reload_seconds (None: only on SIGHUP)
            watcher = threading.Thread(
                target=watch, args=(mlflow, name), name="alias-watch", daemon=True
            )
            watcher.start()
            with contextlib.suppress(ValueError, AttributeError):  # main thread, POSIX only
                signal.signal(signal.SIGHUP, lambda *_: wake.set())
        # Everything loaded so far (MLflow, scikit-learn, the model) lives as long as the
        # server: moved out of the collector's sight, a full collection stays short
        # instead of pausing every request for a scan of the whole heap.
        gc.collect()
        gc.freeze()
        _log.info("serving %s (version %s), logging to %s", name, version, folder)
        try:
            yield
        finally:  # requests in flight have been answered (and logged) by now
            stop.set()
            wake.set()
            if watcher is not None:
                watcher.join(timeout=30)
            state["batcher"].close()
            state["writer"].close()
            if state["errors"] is not None:
                state["errors"].close()
            _log.info("inference log flushed: %d rows", state["writer"].rows_written)

    class ScoringApp(fastapi.FastAPI):  # type: ignore[misc,name-defined]
        """FastAPI, with ``POST /invocations`` answered before the middleware stack."""

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if (
                scope["type"] == "http"
                and scope["method"] == "POST"
                and scope["path"] == "/invocations"
            ):
                await scorer(scope, receive, send)
                return
            await super().__call__(scope, receive, send)

    app = ScoringApp(
        title="workbench scoring server", version=workbench.__version__, lifespan=lifespan
    )

    def error(reply: Reply) -> Any:
        return responses.Response(
            reply.body, status_code=reply.status, media_type=_JSON, headers=reply.header_dict()
        )

    class Guard:
        """Authentication and request size before any body is read; then metrics.

        A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs a task and a
        stream copy per request, a large share of a one-row prediction.
        """

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.inner(scope, receive, send)
                return
            started = time.perf_counter()
            path = scope["path"]
            headers = dict(scope["headers"])
            refusal = None
            if (
                secret is not None
                and path not in _OPEN
                and not authorized(headers.get(b"authorization", b""), secret)
            ):
                refusal = error(unauthenticated())
            declared = headers.get(b"content-length", b"")
            if refusal is None and declared.isdigit() and int(declared) > max_body_bytes:
                refusal = error(too_large(int(declared), max_body_bytes))
            if refusal is not None:
                await refusal(scope, receive, send)
                metrics.observe(path, refusal.status_code, time.perf_counter() - started)
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
                metrics.observe(path, seen["status"], time.perf_counter() - started, seen["rows"])

    app.add_middleware(Guard)

    async def prometheus() -> Any:
        return responses.PlainTextResponse(
            metrics.render(state["name"], state["current"].version),
            media_type="text/plain; version=0.0.4",
        )

    async def ping() -> Any:
        return responses.PlainTextResponse("\n")

    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model_name": state["name"],
            "model_version": state["current"].version,
            "reloads": state["reloads"],
        }

    async def version() -> dict[str, str]:
        mlflow = require("mlflow")
        return {
            "workbench": workbench.__version__,
            "mlflow": mlflow.__version__,
            "model_uri": model_uri,
            "model_name": state["name"],
            "model_version": state["current"].version,
        }

    scorer = Scorer(
        state, metrics, token=token, max_body_bytes=max_body_bytes, inference_log=inference_log
    )

    async def invocations(request: Any) -> Any:
        # reached only when the app is called with another path prefix (mounted): the
        # app's __call__ hands /invocations to the scorer before any routing
        reply = await scorer.reply(request.scope, request.receive)
        if reply is None:
            return responses.Response(status_code=400)
        return responses.Response(
            reply.body, status_code=reply.status, media_type=_JSON, headers=reply.header_dict()
        )

    # FastAPI injects the request by its annotation, which must be the real class; fastapi
    # is imported lazily, so the annotation is set here before the route is added.
    invocations.__annotations__["request"] = fastapi.Request
    app.add_api_route(
        "/invocations",
        invocations,
        methods=["POST"],
        summary="Predict",
        responses={
            "200": {"description": 'Predictions, as {"predictions": [...]}.'},
            **{code: {"description": text} for code, text in _ERROR_RESPONSES.items()},
        },
    )
    app.add_api_route("/ping", ping, methods=["GET"])
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/version", version, methods=["GET"])
    app.add_api_route("/metrics", prometheus, methods=["GET"])

    def record(body: bytes) -> Reply | dict[str, int]:
        """An ``/actuals`` body checked and written (in a worker thread: it may read
        log segments, and a large body takes a while to decode)."""
        from workbench._exceptions import DataError
        from workbench.serving._actuals import log_actuals
        from workbench.serving._payload import PayloadError

        try:
            payload = json.loads(body, object_pairs_hook=unique_keys)
        except PayloadError as exc:
            return Reply.error(400, str(exc))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return Reply.error(400, f"The request body is not valid JSON: {exc}.")
        except RecursionError:
            return Reply.error(400, "The request body is JSON nested too deeply.")
        except ValueError as exc:  # a number longer than Python reads (4300 digits)
            reason = str(exc).split(";")[0]
            return Reply.error(400, f"The request body holds a value JSON cannot read: {reason}.")
        items = payload.get("actuals") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            return Reply.error(
                400, 'The body must be {"actuals": [{"request_id": ..., "actual": ...}]}.'
            )
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "request_id" not in item or "actual" not in item:
                return Reply.error(400, f"actuals[{i}] needs a 'request_id' and an 'actual'.")
            row = item.get("row", 0)
            if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < 2**63:
                return Reply.error(
                    400, f"actuals[{i}].row must be a row number (an integer from 0)."
                )
            actual = item["actual"]
            if isinstance(actual, dict | list):
                return Reply.error(400, f"actuals[{i}].actual must be a single value.")
            if isinstance(actual, float) and not math.isfinite(actual):
                return Reply.error(
                    400,
                    f"actuals[{i}].actual is {actual!r}: an actual must be a finite number, "
                    f"text or true/false (null when not known).",
                )
            texts = [v for v in (item["request_id"], actual) if isinstance(v, str)]
            if not all(is_text(v) for v in texts):
                return Reply.error(400, f"actuals[{i}] holds text that is not valid Unicode.")
        try:
            recorded = log_actuals(
                folder,
                [str(item["request_id"]) for item in items],
                [item["actual"] for item in items],
                rows=[int(item.get("row", 0)) for item in items],
                index=state["index"],
            )
        except DataError as exc:
            return Reply.error(400, str(exc))
        except ServingError as exc:  # the log could not be written: the server's fault
            return Reply.error(500, str(exc))
        return {"recorded": recorded}

    async def actuals(request: Any) -> Any:
        """``{"actuals": [{"request_id": ..., "actual": ..., "row": 0}, ...]}``."""
        headers = dict(request.scope["headers"])
        mime = media_type(headers)
        refusal = (
            Reply.error(415, f"Content type {mime or '(none)'!r} is not supported; use {_JSON!r}.")
            if mime != _JSON
            else unsupported_encoding(headers)
        )
        if refusal is not None:
            return error(refusal)
        body = await read_body(request.receive, max_body_bytes)
        if body is None:  # the client went away
            return responses.Response(status_code=400)
        if isinstance(body, Reply):
            return error(body)
        answer = await asyncio.to_thread(record, body)
        return error(answer) if isinstance(answer, Reply) else answer

    actuals.__annotations__["request"] = fastapi.Request
    app.add_api_route(
        "/actuals",
        actuals,
        methods=["POST"],
        summary="Record ground truth for logged predictions",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    _JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["actuals"],
                            "properties": {
                                "actuals": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["request_id", "actual"],
                                        "properties": {
                                            "request_id": {"type": "string"},
                                            "actual": {"type": ["number", "string", "boolean"]},
                                            "row": {"type": "integer", "minimum": 0},
                                        },
                                    },
                                }
                            },
                        }
                    }
                },
            }
        },
    )

    def openapi() -> dict[str, Any]:
        document: dict[str, Any] | None = app.openapi_schema
        if document is None:
            document = openapi_utils.get_openapi(
                title=app.title, version=app.version, routes=app.routes
            )
            if "current" in state:
                post = document["paths"]["/invocations"]["post"]
                post["requestBody"] = _openapi_body(state["current"].spec)
            app.openapi_schema = document
        return document

    app.openapi = openapi
    metrics.paths = frozenset(getattr(route, "path", "") for route in app.routes)
    return app
