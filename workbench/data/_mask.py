"""Masking of personal columns: every display shows a stable pseudonym, never the value.

The pseudonym is a short hash, so a person can still see that two rows hold the same
value without seeing the value itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MASK_PREFIX", "mask_frame", "mask_value"]

MASK_PREFIX = "•••"


def mask_value(value: Any, *, salt: str = "") -> Any:
    """A stable pseudonym for ``value`` (missing values stay missing).

    Example:
        >>> mask_value("Mario Rossi") == mask_value("Mario Rossi") != mask_value("Anna")
        True
        >>> mask_value("Mario Rossi").startswith("•••")
        True
    """
    if value is None or (isinstance(value, float) and value != value):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return value
    except (TypeError, ValueError):
        pass
    digest = hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()[:6]
    return f"{MASK_PREFIX}{digest}"


def mask_frame(frame: pd.DataFrame, columns: Iterable[str], *, salt: str = "") -> pd.DataFrame:
    """A copy of ``frame`` with each of ``columns`` (those present) masked."""
    out = frame.copy()
    for column in columns:
        if column in out.columns:
            out[column] = out[column].astype(object).map(lambda v: mask_value(v, salt=salt))
    return out
