"""Monitoring's records as JSON files: written with their folders, read back with an error
that names the file and what it should have held (a reference profile, a drift snapshot)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench._exceptions import MonitoringError

__all__ = ["read_record", "write_record"]


def write_record(path: str | Path, data: Any, *, indent: int | None = None) -> Path:
    """Write ``data`` as JSON at ``path`` (creating folders; NaN as JSON's ``NaN``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=indent, allow_nan=True))
    return target


def read_record(path: str | Path, what: str) -> Any:
    """The JSON at ``path``, which should hold ``what``.

    Raises:
        MonitoringError: No file at ``path``, or it is not valid JSON.
    """
    source = Path(path)
    if not source.is_file():
        raise MonitoringError(f"No {what} at {source}.")
    try:
        return json.loads(source.read_text())
    except json.JSONDecodeError as exc:
        raise MonitoringError(f"{source} is not valid JSON: {exc}.") from exc
