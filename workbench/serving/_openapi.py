"""``GET /openapi.json``: FastAPI's document, with ``/invocations``' body drawn from the
served version's signature (redrawn when a new version is swapped in)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench._imports import require
from workbench.serving._http import CSV, JSON

if TYPE_CHECKING:
    from workbench.serving._model import ServedModel
    from workbench.serving._payload import InputSpec

__all__ = ["ACTUALS_BODY", "INVOCATIONS_RESPONSES", "document", "invocations_body"]

#: The answers of ``POST /invocations``, as the document lists them.
INVOCATIONS_RESPONSES = {
    "200": {"description": 'Predictions, as {"predictions": [...]}.'},
    "400": {
        "description": "The body does not fit the model's signature; the message names the field."
    },
    "401": {"description": "A token is required and was missing or wrong."},
    "413": {"description": "The body is larger than the server takes."},
    "415": {"description": "The content type is neither application/json nor text/csv."},
}

#: ``POST /actuals``' body.
ACTUALS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
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
}

_KINDS = {
    "double": {"type": "number"},
    "float": {"type": "number"},
    "long": {"type": "integer"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time"},
}


def invocations_body(spec: InputSpec) -> dict[str, Any]:
    """The ``/invocations`` request body as JSON Schema, from the model's signature."""
    properties: dict[str, Any] = {}
    for name, kind, required in spec.columns:
        one = _KINDS.get(kind, {})
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
            JSON: {
                "schema": {
                    "anyOf": [
                        shape("dataframe_split", split),
                        shape("dataframe_records", records),
                        shape("inputs", records),
                        shape("instances", records),
                    ]
                }
            },
            CSV: {"schema": {"type": "string"}},
        },
    }


def document(app: Any, served: ServedModel) -> dict[str, Any]:
    """The app's OpenAPI document, made once per served version."""
    made: dict[str, Any] | None = app.openapi_schema
    if made is None:
        get_openapi = require("fastapi.openapi.utils").get_openapi
        made = get_openapi(title=app.title, version=app.version, routes=app.routes)
        current = getattr(served, "current", None)
        if current is not None:
            made["paths"]["/invocations"]["post"]["requestBody"] = invocations_body(current.spec)
        app.openapi_schema = made
    return made
