"""Ground truth recorded after the fact, joined to the inference log by request id.

Layout: ``<log folder>/actuals/actuals-<UTC time>-<random>.parquet`` with ``request_id``,
``row_in_request``, ``actual`` and ``recorded_at``; written to a hidden name and renamed
into place like the log's segments. A later actual for the same row replaces an earlier
one when joined.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import DataError, ServingError
from workbench.serving._log import LogFolder

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["join_actuals", "log_actuals", "read_actuals"]

ACTUALS = "actuals"


def log_actuals(
    log_dir: str | Path,
    request_ids: Sequence[str],
    values: Sequence[Any],
    *,
    rows: Sequence[int] | None = None,
    check: bool = True,
) -> int:
    """Record the true outcome of logged predictions.

    Args:
        log_dir: The inference log folder the predictions were logged to.
        request_ids: The ``X-Request-ID`` of each prediction's request.
        values: The actual value for each.
        rows: The row within its request (default 0: single-row requests).
        check: Refuse request ids (or rows) the inference log does not hold.

    Returns:
        How many actuals were recorded.

    Raises:
        DataError: Lengths differ, an id is empty, or (with ``check``) unknown; the message
            names the first offending ids. Nothing is written then.
        ServingError: The log folder does not exist.
    """
    import pandas as pd

    folder = LogFolder(log_dir)
    if not folder.exists():
        raise ServingError(f"No inference log at {folder}: the folder does not exist.")
    ids = [str(r) if r is not None else "" for r in request_ids]
    positions = list(rows) if rows is not None else [0] * len(ids)
    if not (len(ids) == len(values) == len(positions)):
        raise DataError(
            f"log_actuals needs one value and one row per request id; got {len(ids)} ids, "
            f"{len(values)} values and {len(positions)} rows."
        )
    empty = [i for i, r in enumerate(ids) if not r.strip()]
    if empty:
        raise DataError(f"Request ids at positions {empty[:5]} are empty.")
    kinds = {_kind(v) for v in values}
    if len(kinds - {"missing"}) > 1:
        first = next(i for i, v in enumerate(values) if _kind(v) != _kind(values[0]))
        raise DataError(
            f"Actuals must all be numbers, all text or all true/false; value {first} is "
            f"{values[first]!r} after {values[0]!r}."
        )
    frame = pd.DataFrame(
        {
            "request_id": ids,
            "row_in_request": pd.array(positions, dtype="int64"),
            "actual": list(values),
            "recorded_at": pd.Timestamp.now(tz="UTC"),
        }
    )
    if check and len(frame):
        known = _logged_keys(folder)
        keys = list(zip(frame["request_id"], frame["row_in_request"], strict=True))
        unknown = [f"{r}#{n}" for r, n in keys if (r, n) not in known]
        if unknown:
            raise DataError(
                f"{len(unknown)} of {len(keys)} actuals name a request id (#row) the inference "
                f"log at {folder} does not hold, e.g. {unknown[:5]}; nothing was recorded."
            )
    if frame.empty:
        return 0
    out = folder.child(ACTUALS)
    out.mkdir()
    out.write(frame, "actuals")
    return len(frame)


def _kind(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Real):
        return "number"
    return type(value).__name__


def _logged_keys(folder: LogFolder) -> set[tuple[str, int]]:
    keys: set[tuple[str, int]] = set()
    for segment in folder.glob("segment-*.parquet"):
        part = folder.read(segment, columns=["request_id", "row_in_request"])
        keys.update(zip(part["request_id"], part["row_in_request"].astype(int), strict=True))
    return keys


def read_actuals(log_dir: str | Path) -> pd.DataFrame:
    """Every recorded actual, the latest per (request id, row) only."""
    import pandas as pd

    place = LogFolder(log_dir).child(ACTUALS)
    files = place.glob("actuals-*.parquet") if place.exists() else []
    if not files:
        return pd.DataFrame(columns=["request_id", "row_in_request", "actual", "recorded_at"])
    frame = pd.concat([place.read(f) for f in files], ignore_index=True)
    frame = frame.sort_values("recorded_at", kind="stable")
    latest = frame.drop_duplicates(["request_id", "row_in_request"], keep="last")
    return latest.reset_index(drop=True)


def join_actuals(log: pd.DataFrame, log_dir: str | Path) -> pd.DataFrame:
    """``log`` with an ``actual`` column (missing where none was recorded yet)."""
    actuals = read_actuals(log_dir)[["request_id", "row_in_request", "actual"]]
    joined = log.merge(
        actuals.astype({"row_in_request": log["row_in_request"].dtype}),
        on=["request_id", "row_in_request"],
        how="left",
    )
    return joined
