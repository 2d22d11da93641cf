"""The scoring app: MLflow's ``/invocations`` protocol, batched prediction, every row logged.

The app is assembled from parts with one job each: the served model
(:mod:`._model`), the admission check (:mod:`._admission`), the scorer that answers
``POST /invocations`` before FastAPI's stack (:mod:`._scoring`), the other routes
(:mod:`._routes`), ``/metrics`` (:mod:`._metrics`) and the OpenAPI document
(:mod:`._openapi`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import workbench
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench.serving._admission import Admission, Guard
from workbench.serving._metrics import Metrics
from workbench.serving._model import ServedModel, check_model_uri
from workbench.serving._openapi import document
from workbench.serving._routes import add_routes
from workbench.serving._scoring import Scorer
from workbench.serving._tokens import Callers

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["MAX_BODY_BYTES", "check_model_uri", "create_app"]

#: Largest request body accepted by default (bytes); larger ones get 413.
MAX_BODY_BYTES = 16 * 1024 * 1024


@functools.cache
def _scoring_app_class() -> type[Any]:
    fastapi = require("fastapi", feature="the scoring server")

    class ScoringApp(fastapi.FastAPI):  # type: ignore[misc,name-defined]
        """FastAPI, with ``POST /invocations`` handed to the scorer before the middleware
        stack (about a dozen coroutine layers, 2–3 ms of a one-row prediction)."""

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if (
                scope["type"] == "http"
                and scope["method"] == "POST"
                and scope["path"] == "/invocations"
            ):
                await self.state.scorer(scope, receive, send)
                return
            await super().__call__(scope, receive, send)

    return ScoringApp


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
    callers: Callers | None = None,
    shadow: str | None = None,
    canary: str | None = None,
    canary_share: float = 0.1,
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
    401, and 429 once an address has sent ten wrong tokens in a row. ``POST /actuals``
    is checked against an in-memory index of the logged request ids, in a worker
    thread: the event loop never reads the log.

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
        callers: Named tokens (with ``token`` as the caller ``shared``); the inference
            log's ``client`` column names the caller of each request.
        shadow: Another alias of the model (``challenger``) sent every request too, off
            the request path: logged under its version in ``<log>/shadow/``, never
            returned.
        canary: Another alias of the model (``challenger``) that answers ``canary_share``
            of the requests, chosen by the client's ``X-Request-ID`` where it sends one
            (a retry lands on the same version), else at random; every answer carries
            ``X-Model-Version``, and the log records the version of each row. Not with
            ``shadow``.
        canary_share: The canary's share of requests, strictly between 0 and 1.
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
        ServingError: ``model_uri`` is not a registry or run URI; a canary with a shadow,
            or a share outside (0, 1).
    """
    s = settings or get_settings()
    served = ServedModel(
        model_uri,
        log_dir=str(log_dir) if log_dir is not None else str(s.inference_log_dir),
        settings=s,
        flush_seconds=flush_seconds,
        reload_seconds=reload_seconds,
        inference_log=inference_log,
        max_batch_rows=max_batch_rows,
        shadow=shadow,
        canary=canary,
        canary_share=canary_share,
    )
    metrics = Metrics()
    admission = Admission(callers or Callers(token), max_body_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        served.start()
        try:
            yield
        finally:  # requests in flight have been answered (and logged) by now
            served.close()

    app = _scoring_app_class()(
        title="workbench scoring server", version=workbench.__version__, lifespan=lifespan
    )
    app.state.served = served
    app.state.metrics = metrics
    app.state.scorer = Scorer(served, metrics, admission)
    served.on_reload = lambda: setattr(app, "openapi_schema", None)  # the new signature
    app.add_middleware(Guard, admission=admission, metrics=metrics)
    add_routes(app)
    app.openapi = functools.partial(document, app, served)
    metrics.paths = frozenset(getattr(route, "path", "") for route in app.routes)
    return app  # type: ignore[no-any-return]
