"""Masking of personal columns: every display shows a stable pseudonym, never the value.

The pseudonym is a keyed hash, HMAC-SHA-256 under the project's pseudonym key
(:func:`workbench._secrets.pseudonym_key`: ``WORKBENCH_PSEUDONYM_KEY``, or a random key
made once in ``.workbench/secrets/``), cut to 64 bits. A person can still see that two
rows hold the same value without seeing the value. Without the key, nobody can tell which
pseudonym a candidate value (a name, a birth date) would get, so a list of candidates
re-identifies no one; with 64 bits, two of a billion values share a pseudonym with a
chance of about 3 in 100.

The same value gets the same pseudonym everywhere the key is the same: quarantine files
and reports, profiles, the inference log, the monitoring dashboard. A new key gives new
pseudonyms (SECURITY.md says how to rotate it). This is pseudonymisation in the sense of
the GDPR (Art. 4(5)): whoever holds the key can test candidate values, so the masked data
stays personal data.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workbench._secrets import pseudonym_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MASK_PREFIX", "PSEUDONYM_BITS", "mask_frame", "mask_value"]

MASK_PREFIX = "•••"
#: The bits of the HMAC kept in a pseudonym (as hexadecimal digits after the prefix).
PSEUDONYM_BITS = 64


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array: a value, not missing
        return False


def mask_value(value: Any, *, salt: str = "", key: bytes | None = None) -> Any:
    """A stable pseudonym for ``value`` (missing values stay missing).

    Args:
        value: The personal value.
        salt: Separates pseudonym spaces: the same value under another salt gets another
            pseudonym.
        key: The pseudonym key (default: the project's, see the module's docstring).

    Example:
        >>> key = b"an example key of at least 32 characters"
        >>> mask_value("Mario Rossi", key=key) == mask_value("Mario Rossi", key=key)
        True
        >>> mask_value("Mario Rossi", key=key) != mask_value("Anna", key=key)
        True
        >>> mask_value("Mario Rossi", key=key)[:3], len(mask_value("Mario Rossi", key=key))
        ('•••', 19)
    """
    if _missing(value):
        return value
    secret = pseudonym_key() if key is None else key
    message = f"{salt}\x00{value}".encode("utf-8", "surrogatepass")
    digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return f"{MASK_PREFIX}{digest[: PSEUDONYM_BITS // 4]}"


def mask_frame(
    frame: pd.DataFrame, columns: Iterable[str], *, salt: str = "", key: bytes | None = None
) -> pd.DataFrame:
    """A copy of ``frame`` with each of ``columns`` (those present) masked with
    :func:`mask_value`."""
    out = frame.copy()
    present = [column for column in columns if column in out.columns]
    if present:
        secret = pseudonym_key() if key is None else key
        for column in present:
            out[column] = (
                out[column].astype(object).map(lambda v: mask_value(v, salt=salt, key=secret))
            )
    return out
