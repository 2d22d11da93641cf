"""The inference log's segments as the dashboard's pass reads them: their columns and the
model versions that answered their rows, from each segment's Parquet footer (no row is
read for a segment one version wrote, as a server writes them), and each segment's rows
as ``dd.read_parquet`` would give them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.parquet as pq

    from workbench.serving import LogFolder

__all__ = ["VERSION", "in_order", "layout", "logged_versions", "read_like_dask"]

#: The log's column naming the registered version that answered a row.
VERSION = "model_version"


def layout(segments: Sequence[str]) -> tuple[list[str], list[set[str]]]:
    """Every column of the local ``segments`` (a column such as the event time may be in
    later segments only, in first-seen order) and the model versions each one's rows
    name, each footer read once."""
    import pyarrow.parquet as pq

    seen: dict[str, None] = {}
    versions = []
    for segment in segments:
        file = pq.ParquetFile(segment)
        seen.update(dict.fromkeys(_columns_of(file.schema_arrow)))
        versions.append(_versions_of(file))
    return list(seen), versions


def logged_versions(place: LogFolder, segments: Sequence[str]) -> list[str]:
    """The model versions the rows of ``segments`` (in ``place``, local or at a URL)
    name, from their footers (sorted as numbers where they are)."""
    import pyarrow.parquet as pq

    versions: set[str] = set()
    for segment in segments:
        if place.local:
            versions |= _versions_of(pq.ParquetFile(segment))
        else:
            with place.fs.open(segment, "rb") as handle:
                versions |= _versions_of(pq.ParquetFile(handle))
    return in_order(versions)


def in_order(versions: set[str]) -> list[str]:
    """``versions`` sorted as numbers where they are."""
    return sorted(versions, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))


def _versions_of(file: pq.ParquetFile) -> set[str]:
    """The versions one segment's rows name: from each row group's min and max where they
    are one value (a server's segment: one version), else from the column itself."""
    meta = file.metadata
    leaves = [meta.schema.column(i).path for i in range(meta.num_columns)]
    if VERSION not in leaves:
        return set()
    index = leaves.index(VERSION)
    found: set[str] = set()
    for group in range(meta.num_row_groups):
        chunk = meta.row_group(group).column(index)
        stats = chunk.statistics
        if stats is None or not stats.has_min_max or stats.min != stats.max:
            column = file.read(columns=[VERSION], use_threads=False).column(0)
            return {str(v) for v in column.unique().to_pylist() if v is not None}
        found.add(str(stats.min.decode() if isinstance(stats.min, bytes) else stats.min))
    return found


def _columns_of(schema: Any) -> list[str]:
    """The columns ``dd.read_parquet`` gives a segment of ``schema``: its own, less those
    its pandas metadata makes the index."""
    import json

    meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    index = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    return [c for c in schema.names if c not in index]


def read_like_dask(segment: str, columns: list[str]) -> pd.DataFrame:
    """The partition ``dd.read_parquet(segments)[columns]`` would give for the local file
    ``segment``: read and converted to pandas as Dask's pyarrow engine does, strings as
    ``string[pyarrow]`` (Dask's ``dataframe.convert-string``)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pd.StringDtype("pyarrow")
    mapped = {
        pa.string(): text,
        pa.large_string(): text,
        pa.date32(): pd.ArrowDtype(pa.date32()),
        pa.date64(): pd.ArrowDtype(pa.date64()),
    }

    def types_mapper(kind: pa.DataType) -> Any:
        return mapped.get(kind) or (pd.ArrowDtype(kind) if pa.types.is_decimal(kind) else None)

    file = pq.ParquetFile(segment, pre_buffer=True)
    present = set(file.schema_arrow.names)
    table = file.read(
        columns=[c for c in columns if c in present], use_threads=False, use_pandas_metadata=True
    )
    frame: pd.DataFrame = table.to_pandas(
        use_threads=False, ignore_metadata=False, types_mapper=types_mapper
    )
    for name in columns:  # a column later segments have (the event time): missing here
        if name not in frame.columns:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype=text)
    return frame
