"""One ``load`` for CSV, Parquet, a SQL query and a DataFrame; Dask for larger files."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gzip
import io
import logging
import re
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench._exceptions import DataError
from workbench._imports import require
from workbench._progress import compute_with_progress
from workbench._storage import make_dir
from workbench.data._contract import Contract
from workbench.data._validate import check_columns, validate

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LargeValidationResult", "auto_blocksize", "load", "validate_large"]

_log = logging.getLogger(__name__)


def _sniff_delimiter(path: Path, encoding: str) -> str | None:
    try:
        with path.open(encoding=encoding, newline="") as fh:
            sample = fh.read(64 * 1024)
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except (csv.Error, UnicodeDecodeError):
        return None


def _read_csv(path: Path, contract: Contract | None, encoding: str, delimiter: str) -> Any:
    pd = require("pandas")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); expected a header and rows.")

    def parse(longer_rows: Literal["error", "ignore"]) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter(longer_rows, pd.errors.ParserWarning)
            # index_col=False: rows longer than the header must not become an index,
            # which would shift every value one column to the right
            return pd.read_csv(
                path,
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                encoding=encoding,
                index_col=False,
            )

    try:
        try:
            frame = parse("error")
        except pd.errors.ParserWarning:  # rows longer than the header
            _check_row_lengths(path, contract, encoding, delimiter)
            frame = parse("ignore")  # only empty cells (trailing delimiters) were past it
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {_undecodable(path, encoding, exc)}") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file has no header and no rows.") from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a well-formed CSV ({str(exc).strip()}).") from exc
    except LookupError as exc:
        raise DataError(f"{path}: unknown encoding {encoding!r} ({exc}).") from exc
    except (OSError, EOFError, zlib.error) as exc:  # a damaged or mislabelled .gz
        raise DataError(f"{path}: cannot be read or decompressed ({exc}).") from exc
    _check_unique_header(path, list(frame.columns), encoding, delimiter)
    _check_delimiter(path, list(frame.columns), contract, encoding, delimiter)
    return frame


def _check_delimiter(
    path: Path, columns: list[str], contract: Contract | None, encoding: str, delimiter: str
) -> None:
    """Raise when one column was read where the file seems to use another delimiter."""
    expected_many = contract is not None and len(contract.columns) > 1
    if len(columns) == 1 and (expected_many or contract is None):
        sniffed = _sniff_delimiter(path, encoding)
        if sniffed and sniffed != delimiter:
            raise DataError(
                f"{path}: read as a single column {columns[0]!r} with delimiter "
                f"{delimiter!r}; the file seems to use {sniffed!r}. Pass delimiter={sniffed!r}."
            )


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def _undecodable(path: Path, encoding: str, exc: UnicodeDecodeError) -> str:
    """Where the text stops being ``encoding``, and which encoding to pass instead.

    pandas decodes in chunks, so the exception's offset is within a chunk: the file is
    decoded again here, on this rare path, to name the line and byte.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    where, offset, line = exc.reason, 0, 1  # offset: of the first byte not yet decoded
    with _open_binary(path) as fh:
        head = fh.read(4)
        fh.seek(0)
        while True:
            chunk = fh.read(1 << 20)
            pending = decoder.getstate()[0]
            data = pending + chunk  # what the decoder sees, positions included
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as inner:
                line += data[: inner.start].count(b"\n")
                where = (
                    f"{inner.reason}: {data[inner.start : inner.end]!r} at line {line}, "
                    f"byte {offset + inner.start}"
                )
                break
            if not chunk:
                break
            done = len(data) - len(decoder.getstate()[0])
            line += data[:done].count(b"\n")
            offset += done
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        hint = "It starts with a UTF-16 byte-order mark: pass encoding='utf-16'."
    else:
        hint = "Pass the file's encoding, for example encoding='latin-1' or 'cp1252'."
    return f"not readable as {encoding} text ({where}). {hint}"


def _records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each record, as the csv module reads them."""
    limit = csv.field_size_limit(2**31 - 1)  # pandas reads cells of any size: so must this
    try:
        with io.TextIOWrapper(_open_binary(path), encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            for cells in reader:
                yield reader.line_num, cells
    finally:
        csv.field_size_limit(limit)


def _check_row_lengths(
    path: Path, contract: Contract | None, encoding: str, delimiter: str
) -> None:
    """Raise when a row has more (non-empty) cells than the header names columns.

    Empty cells past the header's width are trailing delimiters, and carry nothing.
    """
    records = _records(path, encoding, delimiter)
    _, header = next(records)
    _check_delimiter(path, header, contract, encoding, delimiter)  # the likelier cause
    for line, cells in records:
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            raise DataError(
                f"{path}: line {line} has {len(cells)} fields, but the header names "
                f"{len(header)} columns; the extra values {cells[len(header) :][:5]!r} "
                f"belong to no column. Fix the row or the header."
            )


def _check_unique_header(path: Path, columns: list[str], encoding: str, delimiter: str) -> None:
    """Raise when the header names a column twice (pandas renames the second ``a.1``)."""
    mangled = {c.rsplit(".", 1)[0] for c in columns if re.fullmatch(r".+\.\d+", c)}
    if not mangled & set(columns):
        return
    _, header = next(_records(path, encoding, delimiter))
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise DataError(
            f"{path}: the header names column(s) {twice} more than once; which one holds "
            f"the values is ambiguous. Rename or drop the duplicates."
        )


def load(
    source: str | Path | pd.DataFrame,
    *,
    contract: Contract | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> pd.DataFrame:
    """Read raw rows from a CSV or Parquet file, a SQL query, or a DataFrame.

    CSV cells are read as text, so that :func:`workbench.data.validate` can record each
    cell it cannot convert instead of meeting a silent NaN. With a ``contract``, the
    columns it needs are checked at once, and a header mismatch is named.

    Args:
        source: A path (``.csv``, ``.parquet``), a SQLAlchemy URL (with ``query``), or a
            DataFrame.
        contract: The contract the rows will be validated against.
        query: SQL to run when ``source`` is a database URL.
        encoding: Text encoding of a CSV.
        delimiter: Field delimiter of a CSV (default: a tab for ``.tsv``, else a comma).

    Returns:
        The raw rows.

    Raises:
        DataError: Missing or empty file, undecodable text, wrong delimiter, unknown
            format, failing query, or a column the contract needs is absent.

    Example:
        >>> import pandas as pd
        >>> load(pd.DataFrame({"a": [1]})).shape
        (1, 1)
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame, name = source, "<DataFrame>"
    elif query is not None or (isinstance(source, str) and "://" in source):
        frame, name = _read_sql(str(source), query), f"{source} ({query})"
    else:
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file (working directory: {Path.cwd()}).")
        suffix = "".join(path.suffixes[-2:]).lower()
        if suffix.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
            if delimiter is None:
                delimiter = "\t" if suffix.endswith(".tsv") else ","
            frame = _read_csv(path, contract, encoding, delimiter)
        elif suffix.endswith((".parquet", ".pq")):
            if path.stat().st_size == 0:
                raise DataError(f"{path}: the file is empty (0 bytes).")
            try:
                frame = pd.read_parquet(path)
            except Exception as exc:
                raise DataError(f"{path}: not a readable Parquet file ({exc}).") from exc
        else:
            raise DataError(
                f"{path}: unknown format {path.suffix!r}; load reads .csv, .tsv, .txt and "
                f".parquet files, SQL queries and DataFrames."
            )
    if contract is not None:
        check_columns(list(frame.columns), contract, name)
    return frame


def _read_sql(url: str, query: str | None) -> Any:
    pd = require("pandas")
    sqlalchemy = require("sqlalchemy", feature="loading from SQL")
    if not query:
        raise DataError(f"{url}: a database URL needs a query, e.g. query='SELECT * FROM t'.")
    try:
        engine = sqlalchemy.create_engine(url)
    except Exception as exc:
        raise DataError(f"{url}: not a usable SQLAlchemy URL ({exc}).") from exc
    try:
        with engine.connect() as connection:
            return pd.read_sql_query(sqlalchemy.text(query), connection)
    except Exception as exc:
        raise DataError(f"{url}: the query {query!r} failed: {exc}") from exc
    finally:
        engine.dispose()


@dataclasses.dataclass(frozen=True)
class LargeValidationResult:
    """The outcome of :func:`validate_large`: counts and where the parts were written.

    Attributes:
        n_input: Rows read.
        n_valid: Rows written to ``valid_dir``.
        n_quarantined: Rows written to ``quarantine_dir``.
        valid_dir: Parquet parts of valid rows.
        quarantine_dir: Parquet parts of quarantined rows (with ``_row`` and ``_reasons``).
        summary: Failed rows per column and check, over all partitions.
        warnings: Valid values beyond a column's ``warn_min``/``warn_max``, over all
            partitions (as :attr:`ValidationResult.warnings` words them).
        n_partitions: How many partitions the file was read in.
        blocksize: The bytes per partition used.
    """

    n_input: int
    n_valid: int
    n_quarantined: int
    valid_dir: Path
    quarantine_dir: Path
    summary: pd.DataFrame
    warnings: tuple[str, ...] = ()
    n_partitions: int = 0
    blocksize: int = 0


#: Bytes per partition, at least and at most, when :func:`validate_large` chooses.
MIN_BLOCK = 1 << 20
MAX_BLOCK = 64_000_000


def auto_blocksize(size: int, threads: int) -> int:
    """Bytes per partition for a file of ``size`` bytes on ``threads`` worker threads:
    two partitions per thread (so a slow one does not leave the others idle), each
    between :data:`MIN_BLOCK` (task overhead) and :data:`MAX_BLOCK` (memory).

    Example:
        >>> auto_blocksize(81_000_000, 4)  # 8 partitions rather than 2 of 64 MB
        10125000
    """
    wanted = -(-size // (2 * max(threads, 1)))
    return int(min(max(wanted, MIN_BLOCK), MAX_BLOCK))


def _check_part(frame: Any, contract: Contract, label: str) -> Any:
    """Validate one partition (on a worker); the result stays there until written."""
    return validate(frame, contract, source=label, quarantine_dir=False)


def _rows_in(result: Any) -> int:
    return int(result.n_input)


def _write_part(
    result: Any, number: int, offset: int, valid_dir: str, quarantine_dir: str
) -> tuple[int, int, int, Any, Any]:
    """Write one validated partition's parts, ``_row`` counted from the file's start."""
    from workbench.data._validate import summarize_soft

    valid = result.valid.assign(_row=result.valid["_row"] + offset)
    quarantined = result.quarantine.assign(_row=result.quarantine["_row"] + offset)
    valid.to_parquet(Path(valid_dir) / f"part-{number:05d}.parquet", index=False)
    if len(quarantined):
        quarantined.to_parquet(Path(quarantine_dir) / f"part-{number:05d}.parquet", index=False)
    soft = summarize_soft([result.soft_failures])
    return result.n_input, len(valid), len(quarantined), result.summary(), soft


def _prepare(out: str, token: str) -> None:
    """Make ``out/valid`` and ``out/quarantine``, clear old parts, leave a marker file
    that every worker must then see (run on one worker)."""
    root = Path(out)
    for folder in (root / "valid", root / "quarantine"):
        make_dir(folder, "validated rows")
        for old in folder.glob("part-*.parquet"):
            old.unlink()
    (root / f".validate-large-{token}").write_text(token)


def _forget(out: str, token: str) -> None:
    (Path(out) / f".validate-large-{token}").unlink(missing_ok=True)


def _reach(source: str, out: str, token: str) -> str | None:
    """What this worker cannot do of what :func:`validate_large` needs (None: all)."""
    import os

    problems = []
    if not Path(source).is_file():
        problems.append(f"cannot read the CSV {source}")
    marker = Path(out) / f".validate-large-{token}"
    if not marker.is_file():
        problems.append(
            f"does not see {marker}, which another worker wrote: {out} is not the same folder there"
        )
    for folder in (Path(out) / "valid", Path(out) / "quarantine"):
        if folder.is_dir() and not os.access(folder, os.W_OK):
            problems.append(f"cannot write in {folder}")
    return "; ".join(problems) or None


def _on_cluster(address: str, source: Path, out: Path) -> int:
    """Check the cluster's workers reach the CSV and ``out`` alike and prepare ``out``
    there; the number of worker threads.

    Raises:
        DataError: A worker cannot read the CSV, or cannot write ``out``, or does not
            see what another wrote there.
    """
    import uuid

    from workbench._progress import scheduler_client

    client = scheduler_client(address)
    workers = client.scheduler_info()["workers"]
    shared = (
        f"The workers read {source} and write Parquet parts under {out}: both must be "
        f"on storage every worker (and this machine, to read the parts back) sees at "
        f"the same path, such as a network file system mounted alike on each."
    )
    if not workers:
        raise DataError(f"The Dask cluster at {address} has no workers. {shared}")
    token = uuid.uuid4().hex
    try:
        client.submit(_prepare, str(out), token, pure=False).result()
    except Exception as exc:
        raise DataError(
            f"{out}: a Dask worker of {address} cannot prepare the output folder there "
            f"({type(exc).__name__}: {exc}). {shared}"
        ) from None
    problems = client.run(_reach, str(source), str(out), token)
    bad = {w: p for w, p in problems.items() if p}
    client.submit(_forget, str(out), token, pure=False).result()  # where it was written
    if bad:
        listed = "; ".join(f"worker {w} {p}" for w, p in sorted(bad.items()))
        raise DataError(f"validate_large on the Dask cluster at {address}: {listed}. {shared}")
    return int(sum(w.get("nthreads", 1) for w in workers.values()))


def validate_large(
    path: str | Path,
    contract: Contract,
    out_dir: str | Path,
    *,
    blocksize: str | int | None = None,
    encoding: str = "utf-8",
    delimiter: str = ",",
    progress: bool = True,
) -> LargeValidationResult:
    """Validate a CSV larger than memory, partition by partition, with Dask.

    Each partition is read, coerced and validated like :func:`validate` and written as
    Parquet parts under ``out_dir/valid`` and ``out_dir/quarantine``; only counts and
    summaries come back. ``_row`` is the row's position in the whole file: each
    partition learns its offset from the row counts of those before it, so the file is
    read once. Key uniqueness and duplicate rows are checked within each partition (a
    cross-partition duplicate is not caught here; deduplicate the valid parts
    afterwards when that matters).

    Where: with the ``dask_scheduler`` setting, on that cluster's workers, which then
    read the CSV and write the parts themselves: the CSV and ``out_dir`` must be on
    storage every worker sees at the same path (and this machine too, which reads the
    CSV's header and a sample, and reads the parts back). This is checked before any
    work starts. Without the setting, on threads of this process.

    Args:
        path: The CSV file.
        contract: The contract.
        out_dir: Where the Parquet parts go (old parts there are removed).
        blocksize: Bytes per partition; by default chosen from the file's size and the
            number of worker threads (:func:`auto_blocksize`).
        encoding: Text encoding.
        delimiter: Field delimiter.
        progress: Show a progress bar.

    Raises:
        DataError: The file is missing, a column the contract needs is absent, or a
            cluster's worker cannot read the CSV or write ``out_dir``.
    """
    import operator
    import os

    dd = require("dask.dataframe", feature="validating data larger than memory")
    dask = require("dask")
    pd = require("pandas")
    from dask.utils import parse_bytes

    from workbench._progress import scheduler_address
    from workbench.data._validate import soft_warnings, summarize_soft

    source = Path(path).absolute()  # workers do not share this process's working folder
    if not source.is_file():
        raise DataError(f"{source}: no such file (working directory: {Path.cwd()}).")
    out = Path(out_dir).absolute()
    valid_dir, quarantine_dir = out / "valid", out / "quarantine"
    address = scheduler_address(None)
    if address is not None:
        threads = _on_cluster(address, source, out)
    else:
        threads = os.cpu_count() or 1
        _prepare(str(out), "local")
        _forget(str(out), "local")
    if blocksize is None:
        blocksize = auto_blocksize(source.stat().st_size, threads)
    parts = dd.read_csv(
        str(source),
        sep=delimiter,
        dtype=str,
        keep_default_na=False,
        encoding=encoding,
        blocksize=blocksize,
    )
    check_columns(list(parts.columns), contract, str(source))

    delayed = dask.delayed
    blocks = parts.to_delayed()
    offset: Any = 0
    tasks = []
    for number, block in enumerate(blocks):
        label = f"{source} (partition {number})"
        checked = delayed(_check_part, pure=False)(block, contract, label)
        tasks.append(
            delayed(_write_part, pure=False)(
                checked, number, offset, str(valid_dir), str(quarantine_dir)
            )
        )
        offset = delayed(operator.add, pure=False)(offset, delayed(_rows_in)(checked))
    results = compute_with_progress(tasks, desc=f"validating {source.name}", show=progress)
    summaries = [s for _, _, _, s, _ in results if len(s)]
    summary = (
        pd.concat(summaries)
        .groupby(["column", "check"], as_index=False)
        .agg(rows=("rows", "sum"), example=("example", "first"))
        .sort_values("rows", ascending=False, ignore_index=True)
        if summaries
        else pd.DataFrame(columns=["column", "check", "rows", "example"])
    )
    soft = summarize_soft([s for *_, s in results])
    warns = soft_warnings(soft, contract, str(source))
    for message in warns:
        _log.warning(message)
    return LargeValidationResult(
        n_input=sum(n for n, *_ in results),
        n_valid=sum(v for _, v, *_ in results),
        n_quarantined=sum(q for _, _, q, *_ in results),
        valid_dir=valid_dir,
        quarantine_dir=quarantine_dir,
        summary=summary,
        warnings=tuple(warns),
        n_partitions=len(blocks),
        blocksize=int(parse_bytes(blocksize) if isinstance(blocksize, str) else blocksize),
    )
