"""The scoring app: MLflow's ``/invocations`` protocol, predicting inline, logging rows."""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import workbench
from workbench._exceptions import ServingError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._tracking import mlflow_for
from workbench.data._mask import mask_frame
from workbench.serving._log import LOG_COLUMNS, InferenceLogWriter

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]

_log = logging.getLogger(__name__)

_JSON = "application/json"
_CSV = "text/csv"
#: Largest request body accepted by default (bytes); larger ones get 413.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Upper bounds (seconds) of the latency histogram buckets on ``/metrics``.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_OPEN = ("/ping", "/health")  # probes stay open when a token is required


class Metrics:
    """Request counters and a latency histogram, rendered in Prometheus' text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.rows = 0
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_count = 0
        self.latency_sum = 0.0

    def observe(self, path: str, status: int, seconds: float, rows: int = 0) -> None:
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
        labels = f'model="{name}",version="{version}"'
        lines = [
            "# HELP workbench_requests_total Requests answered, by path and status code.",
            "# TYPE workbench_requests_total counter",
        ]
        with self._lock:
            for (path, status), count in sorted(self.requests.items()):
                lines.append(
                    f'workbench_requests_total{{{labels},path="{path}",status="{status}"}} {count}'
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
) -> FastAPI:
    """Build the scoring app for one registered model.

    Endpoints: ``POST /invocations`` (``dataframe_split``, ``dataframe_records``,
    ``instances``, ``inputs`` as JSON, or CSV), ``GET /ping``, ``GET /health``,
    ``GET /version``, ``GET /metrics`` (Prometheus text: requests by path and status,
    errors, predicted rows, a latency histogram). Each response to ``/invocations``
    carries an ``X-Request-ID`` header, and each predicted row is appended to the
    inference log under that id. A body over ``max_body_bytes`` gets 413; with a
    ``token``, every endpoint but ``/ping`` and ``/health`` needs
    ``Authorization: Bearer <token>`` (checked in constant time, never logged) or gets 401.

    Args:
        model_uri: ``models:/name@alias``, ``models:/name/version`` or ``runs:/id/model``.
        log_dir: Inference log folder (default: the settings' ``inference_log_dir``).
        settings: Settings to use (default: the process-wide ones).
        flush_seconds: Longest time a logged row waits in memory.
        token: Bearer token required by the endpoints (``None``: no authentication).
        max_body_bytes: Largest request body accepted.
        reload_seconds: For ``models:/name@alias``, how often to check where the alias
            points; when it moves (or on SIGHUP), the new version is loaded in the
            background and swapped in between requests, none dropped. ``None``: never.
        inference_log: Log every prediction (turn off only to measure what logging costs).

    Returns:
        A FastAPI app; the model loads and the log writer starts when the app starts.

    Raises:
        ServingError: ``model_uri`` is not a registry or run URI.
    """
    if not model_uri.startswith(("models:/", "runs:/")):
        raise ServingError(
            f"The model URI must be a registry or run URI (models:/name@alias, "
            f"models:/name/version, runs:/id/model). Got {model_uri!r}."
        )
    s = settings or get_settings()
    fastapi = require("fastapi", feature="the scoring server")
    responses = require("fastapi.responses")
    import pandas as pd

    folder = Path(log_dir) if log_dir is not None else Path(s.inference_log_dir)
    state: dict[str, Any] = {}
    metrics = Metrics()
    expected = f"Bearer {token}".encode() if token else None

    def personal_columns(mlflow: Any, name: str, version: str) -> list[str]:
        """Columns the version's data contract (stored by ``package_model``) marks personal."""
        if version == "-":
            return []
        tags = mlflow.MlflowClient().get_model_version(name, version).tags
        if "contract" not in tags:
            return []
        from workbench.data import Contract

        return Contract.load(mlflow.artifacts.download_artifacts(tags["contract"])).pii_columns

    def load(uri: str) -> tuple[Any, Any]:
        pyfunc = require("mlflow.pyfunc")
        model = pyfunc.load_model(uri)
        schema = model.metadata.get_input_schema()
        inputs = schema.input_names() if schema is not None else []
        clash = sorted(set(inputs) & set(LOG_COLUMNS))
        if clash:
            raise ServingError(
                f"Model inputs {clash} collide with inference-log columns {list(LOG_COLUMNS)}."
            )
        return model, schema

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
                if moved == state["current"][2]:
                    continue
                model, schema = load(f"models:/{name}/{moved}")
                personal = personal_columns(mlflow, name, moved)
                # one assignment: a request reads all of it or none of it
                state["current"] = (model, schema, moved, personal)
                state["reloads"] += 1
                _log.info("@%s moved: now serving %s version %s", alias, name, moved)
            except Exception:  # keep serving the loaded version
                _log.exception(
                    "reloading %s@%s failed; still serving the loaded version", name, alias
                )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        mlflow = mlflow_for(s)
        name, version = _resolve_version(mlflow, model_uri)
        model, schema = load(model_uri)
        state.update(
            current=(model, schema, version, personal_columns(mlflow, name, version)),
            name=name,
            reloads=0,
            writer=InferenceLogWriter(folder, flush_seconds=flush_seconds),
        )
        watcher = None
        if alias and reload_seconds is not None:
            watcher = threading.Thread(
                target=watch, args=(mlflow, name), name="alias-watch", daemon=True
            )
            watcher.start()
            with contextlib.suppress(ValueError, AttributeError):  # main thread, POSIX only
                signal.signal(signal.SIGHUP, lambda *_: wake.set())
        _log.info("serving %s (version %s), logging to %s", name, version, folder)
        try:
            yield
        finally:
            stop.set()
            wake.set()
            if watcher is not None:
                watcher.join(timeout=30)
            state["writer"].close()
            _log.info("inference log flushed: %d rows", state["writer"].rows_written)

    app = fastapi.FastAPI(
        title="workbench scoring server", version=workbench.__version__, lifespan=lifespan
    )

    codes = {
        400: "BAD_REQUEST",
        401: "UNAUTHENTICATED",
        413: "REQUEST_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
    }

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Any:
        return responses.JSONResponse(
            {"error_code": codes.get(status, "BAD_REQUEST"), "message": message},
            status_code=status,
            headers=headers,
        )

    def too_large(size: int) -> Any:
        return error(
            413,
            f"The request body has {size:,} bytes; this server takes at most "
            f"{max_body_bytes:,}. Send fewer rows per request.",
        )

    async def guard(request: Any, call_next: Any) -> Any:
        """Authentication and request size, before any body is parsed; then metrics."""
        started = time.perf_counter()
        path = request.url.path
        if expected is not None and path not in _OPEN:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                metrics.observe(path, 401, time.perf_counter() - started)
                return error(
                    401,
                    "This server needs 'Authorization: Bearer <token>'.",
                    {"WWW-Authenticate": "Bearer"},
                )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            metrics.observe(path, 413, time.perf_counter() - started)
            return too_large(int(declared))
        response = await call_next(request)
        rows = int(response.headers.get("x-predicted-rows", 0))
        metrics.observe(path, response.status_code, time.perf_counter() - started, rows)
        return response

    app.middleware("http")(guard)

    async def prometheus() -> Any:
        return responses.PlainTextResponse(
            metrics.render(state["name"], state["current"][2]),
            media_type="text/plain; version=0.0.4",
        )

    async def ping() -> Any:
        return responses.PlainTextResponse("\n")

    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model_name": state["name"],
            "model_version": state["current"][2],
            "reloads": state["reloads"],
        }

    async def version() -> dict[str, str]:
        mlflow = require("mlflow")
        return {
            "workbench": workbench.__version__,
            "mlflow": mlflow.__version__,
            "model_uri": model_uri,
            "model_name": state["name"],
            "model_version": state["current"][2],
        }

    async def invocations(request: Any) -> Any:
        scoring = require("mlflow.pyfunc.scoring_server")
        exceptions = require("mlflow.exceptions")
        started = time.perf_counter()
        mime = request.headers.get("content-type", "").split(";")[0].strip().lower()
        model, schema, model_version, personal = state["current"]  # this request's, whole
        body = await request.body()
        if len(body) > max_body_bytes:  # sent without a Content-Length (chunked)
            return too_large(len(body))
        try:
            if mime == _JSON:
                try:
                    payload = json.loads(body)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    return error(400, f"The request body is not valid JSON: {exc}.")
                if not isinstance(payload, dict):
                    return error(
                        400, 'The JSON body must be an object such as {"dataframe_split": {...}}.'
                    )
                data = scoring.infer_and_parse_data(payload, schema)
            elif mime == _CSV:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return error(400, f"The CSV body is not UTF-8 text: {exc}.")
                data = scoring.parse_csv_input(io.StringIO(text), schema)
            else:
                return error(
                    415,
                    f"Content type {mime or '(none)'!r} is not supported; use "
                    f"{_JSON!r} or {_CSV!r}.",
                )
            predictions = model.predict(data)
        except exceptions.MlflowException as exc:
            return error(400, exc.message)
        except (ValueError, TypeError, KeyError) as exc:
            return error(400, f"The input does not fit the model: {exc}")
        request_id = uuid.uuid4().hex
        latency_ms = (time.perf_counter() - started) * 1000.0
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        rows = len(frame)
        if inference_log:
            log_rows(frame, predictions, request_id, model_version, personal, latency_ms)
        buffer = io.StringIO()
        scoring.predictions_to_json(predictions, buffer)
        return responses.Response(
            buffer.getvalue(),
            media_type=_JSON,
            headers={"X-Request-ID": request_id, "X-Predicted-Rows": str(rows)},
        )

    def log_rows(
        frame: pd.DataFrame,
        predictions: Any,
        request_id: str,
        model_version: str,
        personal: list[str],
        latency_ms: float,
    ) -> None:
        logged = frame.reset_index(drop=True).copy()
        values = predictions.to_numpy() if hasattr(predictions, "to_numpy") else predictions
        logged["prediction"] = list(values) if getattr(values, "ndim", 1) > 1 else values
        logged["request_id"] = request_id
        logged["row_in_request"] = range(len(logged))
        logged["timestamp"] = pd.Timestamp.now(tz="UTC")
        logged["model_name"] = state["name"]
        logged["model_version"] = model_version
        logged["latency_ms"] = latency_ms
        if personal:  # stable pseudonyms, never the values (the contract's pii columns)
            logged = mask_frame(logged, personal)
        state["writer"].append(logged)

    # FastAPI injects the request by its annotation, which must be the real class; fastapi
    # is imported lazily, so the annotation is set here before the route is added.
    invocations.__annotations__["request"] = fastapi.Request
    app.add_api_route("/invocations", invocations, methods=["POST"])
    app.add_api_route("/ping", ping, methods=["GET"])
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/version", version, methods=["GET"])
    app.add_api_route("/metrics", prometheus, methods=["GET"])

    async def actuals(request: Any) -> Any:
        """``{"actuals": [{"request_id": ..., "actual": ..., "row": 0}, ...]}``."""
        from workbench._exceptions import DataError
        from workbench.serving._actuals import log_actuals

        try:
            payload = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return error(400, f"The request body is not valid JSON: {exc}.")
        items = payload.get("actuals") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            return error(400, 'The body must be {"actuals": [{"request_id": ..., "actual": ...}]}.')
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "request_id" not in item or "actual" not in item:
                return error(400, f"actuals[{i}] needs a 'request_id' and an 'actual'.")
            if not isinstance(item.get("row", 0), int):
                return error(400, f"actuals[{i}].row must be an integer.")
        state["writer"].flush()  # requests answered a moment ago are on disk to check
        try:
            recorded = log_actuals(
                folder,
                [str(item["request_id"]) for item in items],
                [item["actual"] for item in items],
                rows=[int(item.get("row", 0)) for item in items],
            )
        except DataError as exc:
            return error(400, str(exc))
        return {"recorded": recorded}

    actuals.__annotations__["request"] = fastapi.Request
    app.add_api_route("/actuals", actuals, methods=["POST"])
    return app  # type: ignore[no-any-return]
