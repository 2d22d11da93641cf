"""The scoring app's FastAPI routes: probes, version, metrics and ``POST /actuals``.

Each handler reads what it serves from ``request.app.state``: ``served`` (the
:class:`~workbench.serving._model.ServedModel`), ``metrics`` and ``scorer``.
``POST /invocations`` is answered by the scorer before any routing; its route here is
what the OpenAPI document shows, and what answers when the app is mounted under a prefix.
"""

from __future__ import annotations

import asyncio
from typing import Any

import workbench
from workbench._exceptions import DataError, ServingError
from workbench._imports import require
from workbench.serving._actuals import log_actuals, parse_actuals
from workbench.serving._http import JSON, Reply, media_type, read_body, unsupported_encoding
from workbench.serving._openapi import ACTUALS_BODY, INVOCATIONS_RESPONSES
from workbench.serving._payload import PayloadError

__all__ = ["add_routes"]


def _response(reply: Reply) -> Any:
    return require("fastapi.responses").Response(
        reply.body, status_code=reply.status, media_type=JSON, headers=reply.header_dict()
    )


async def ping() -> Any:
    return require("fastapi.responses").PlainTextResponse("\n")


async def health(request: Any) -> dict[str, Any]:
    served = request.app.state.served
    answer = {
        "status": "ok",
        "model_name": served.name,
        "model_version": served.version,
        "reloads": served.reloads,
    }
    shadow = served.shadow
    if shadow is not None:
        answer["shadow_alias"] = served.shadow_alias
        answer["shadow_version"] = shadow.version  # None while the alias is unset
        answer["shadow_mirrored"] = shadow.mirrored
        answer["shadow_skipped"] = shadow.skipped
        answer["shadow_failures"] = shadow.failures
    if served.canary_alias is not None:
        answer["canary_alias"] = served.canary_alias
        answer["canary_version"] = served.canary.version if served.canary is not None else None
        answer["canary_share"] = served.canary_share
    if served.problems:  # an alias followed that is unset: what is served meanwhile
        answer["warnings"] = list(served.problems.values())
    return answer


async def version(request: Any) -> dict[str, str]:
    served = request.app.state.served
    return {
        "workbench": workbench.__version__,
        "mlflow": require("mlflow").__version__,
        "model_uri": served.uri,
        "model_name": served.name,
        "model_version": served.version,
    }


async def prometheus(request: Any) -> Any:
    state = request.app.state
    return require("fastapi.responses").PlainTextResponse(
        state.metrics.render(state.served.name, state.served.version, state.served.shadow),
        media_type="text/plain; version=0.0.4",
    )


async def invocations(request: Any) -> Any:
    reply = await request.app.state.scorer.reply(request.scope, request.receive)
    return _response(reply) if reply is not None else _response(Reply(400, b""))


def _record(body: bytes, served: Any) -> Reply | dict[str, int]:
    """An ``/actuals`` body checked and written (in a worker thread: it may read log
    segments, and a large body takes a while to decode)."""
    try:
        request_ids, values, rows = parse_actuals(body)
        recorded = log_actuals(served.folder, request_ids, values, rows=rows, index=served.index)
    except (PayloadError, DataError) as exc:
        return Reply.error(400, str(exc))
    except ServingError as exc:  # the log could not be written: the server's fault
        return Reply.error(500, str(exc))
    return {"recorded": recorded}


async def actuals(request: Any) -> Any:
    """``{"actuals": [{"request_id": ..., "actual": ..., "row": 0}, ...]}``."""
    headers = dict(request.scope["headers"])
    mime = media_type(headers)
    refusal = (
        Reply.error(415, f"Content type {mime or '(none)'!r} is not supported; use {JSON!r}.")
        if mime != JSON
        else unsupported_encoding(headers)
    )
    if refusal is not None:
        return _response(refusal)
    state = request.app.state
    body = await read_body(request.receive, state.scorer.admission.max_body_bytes)
    if body is None:  # the client went away
        return _response(Reply(400, b""))
    if isinstance(body, Reply):
        return _response(body)
    answer = await asyncio.to_thread(_record, body, state.served)
    return _response(answer) if isinstance(answer, Reply) else answer


def add_routes(app: Any) -> None:
    """Add every route but the scorer's fast path to ``app``."""
    # FastAPI injects the request by its annotation, which must be the real class;
    # fastapi is imported lazily, so the annotation is set here.
    request_class = require("fastapi").Request
    for handler in (health, version, prometheus, invocations, actuals):
        handler.__annotations__["request"] = request_class
    app.add_api_route(
        "/invocations",
        invocations,
        methods=["POST"],
        summary="Predict",
        responses=INVOCATIONS_RESPONSES,
    )
    app.add_api_route("/ping", ping, methods=["GET"])
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/version", version, methods=["GET"])
    app.add_api_route("/metrics", prometheus, methods=["GET"])
    app.add_api_route(
        "/actuals",
        actuals,
        methods=["POST"],
        summary="Record ground truth for logged predictions",
        openapi_extra=ACTUALS_BODY,
    )
