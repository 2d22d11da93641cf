"""URLs as they may be shown or stored: never with a password."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["redact_text", "redact_url", "redacted_repr"]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (unchanged when it has none).

    Example:
        >>> redact_url("postgresql://user:secret@db:5432/optuna")
        'postgresql://user:***@db:5432/optuna'
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL at all (an unbalanced '[')
        return url
    if password is None:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def redact_text(text: str, *urls: str) -> str:
    """``text`` (an error message, a log line) with the password of each of ``urls``
    replaced by ``***``, as written in the URL and percent-decoded.

    Example:
        >>> redact_text("API request to http://u:pw@host/api failed", "http://u:pw@host")
        'API request to http://u:***@host/api failed'
    """
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        if password:
            for form in {password, unquote(password)}:
                text = text.replace(form, "***")
    return text


def redacted_repr(instance: Any, fields: Collection[str]) -> str:
    """A dataclass's usual ``repr``, with the URLs in ``fields`` redacted (for classes
    whose repr a notebook shows: settings, a tuning result)."""
    shown = []
    for field in dataclasses.fields(instance):
        if not field.repr:
            continue
        value = getattr(instance, field.name)
        if field.name in fields and isinstance(value, str):
            value = redact_url(value)
        shown.append(f"{field.name}={value!r}")
    return f"{type(instance).__name__}({', '.join(shown)})"
