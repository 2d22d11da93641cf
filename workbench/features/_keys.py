"""Entity keys: the check that a request's keys are of the stored kind, what counts as a
missing key, and the hash that splits rows into buckets by key.

Offline (``get_historical_features``), online (``get_online_features``) and the
engines on a cluster treat keys alike through these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_key", "key_buckets", "missing"]


def key_buckets(frame: pd.DataFrame, keys: Sequence[str], buckets: int) -> np.ndarray:
    """The bucket (``0 .. buckets - 1``) of each row: a hash of its entity key, so that
    every row of one key lands in one bucket, whatever frame it comes in."""
    import pandas as pd

    hashed = pd.util.hash_pandas_object(frame[list(keys)], index=False).to_numpy()
    buckets_of: np.ndarray = (hashed % np.uint64(buckets)).astype(np.int64)
    return buckets_of


def check_key(values: Any, dtype: Any, key: str, view: str, where: str) -> None:
    """Numbers are not text: a key of the other kind could never match. The same
    check for ``get_historical_features`` (``where="entity_df"``, a column) and
    ``get_online_features`` (``"entity_rows"``, a list: no Series is built, as a
    lookup takes microseconds)."""
    import numbers

    import pandas as pd

    if dtype is None:
        return
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty":
        return
    numeric = kind in ("integer", "floating", "mixed-integer-float", "decimal")
    stores_numbers = pd.api.types.is_numeric_dtype(dtype)
    if stores_numbers != numeric:
        odd = (  # the first value of the wrong kind, for the message
            v
            for v in values
            if not missing(v)
            and (isinstance(v, numbers.Number) and not isinstance(v, bool)) != stores_numbers
        )
        raise DataError(
            f"{where}.{key} holds {kind} values ({next(odd, None)!r}) but the feature "
            f"view {view!r} stores {key} as {dtype}; convert the column first."
        )


def missing(value: Any) -> bool:
    """None, NaN, NaT or ``pd.NA`` (a scalar key; anything else is not missing)."""
    if value is None:
        return True
    if type(value) in (int, str):  # the usual keys, without pandas (µs per lookup)
        return False
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # an array-like: not a missing scalar
        return False
