"""URLs as they may be shown or stored: never with a password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url"]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (unchanged when it has none).

    Example:
        >>> redact_url("postgresql://user:secret@db:5432/optuna")
        'postgresql://user:***@db:5432/optuna'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
