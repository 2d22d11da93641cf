"""SQL text for the embedded engines: names and strings quoted as standard SQL, which
DuckDB (offline joins) and SQLite (the online store) read alike."""

from __future__ import annotations

__all__ = ["identifier", "literal"]


def identifier(name: str) -> str:
    """A column or table name, double-quoted (a ``"`` inside doubled)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string constant, single-quoted (a ``'`` inside doubled)."""
    return "'" + text.replace("'", "''") + "'"
