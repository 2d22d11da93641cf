"""Type coercion and row quarantine for raw tables."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench._exceptions import ConfigurationError, DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Column", "LoadResult", "TableSpec", "clean", "load_csv"]

_log = logging.getLogger(__name__)

Kind = Literal["date", "string", "number", "category"]


@dataclasses.dataclass(frozen=True)
class Column:
    """What one column must hold.

    Attributes:
        name: Column name in the source.
        kind: ``date`` (ISO dates), ``number`` (dot or comma decimals), ``category`` (one
            of ``categories`` after normalisation) or ``string``.
        required: Whether an empty cell sends the row to quarantine.
        min: Smallest allowed number (inclusive), for ``number`` columns.
        categories: Canonical values of a ``category`` column.
        aliases: Extra spellings mapped to a canonical value (``{"N": "Nord"}``); case and
            surrounding spaces are ignored anyway.
    """

    name: str
    kind: Kind = "string"
    required: bool = False
    min: float | None = None
    categories: tuple[str, ...] = ()
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("date", "string", "number", "category"):
            raise ConfigurationError(
                f"Column {self.name!r}: kind must be one of 'date', 'string', 'number', "
                f"'category'. Got {self.kind!r}."
            )
        if self.kind == "category" and not self.categories:
            raise ConfigurationError(
                f"Column {self.name!r} is a category column and needs its categories."
            )
        unknown = sorted(set(self.aliases.values()) - set(self.categories))
        if unknown:
            raise ConfigurationError(
                f"Column {self.name!r}: aliases map to {unknown}, which are not among the "
                f"categories {list(self.categories)}."
            )


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """The columns a table must have, and the key that identifies a row.

    Attributes:
        columns: One :class:`Column` per expected column.
        key: Columns that identify a row; a later row with a key already seen is
            quarantined as a duplicate. Empty: only exact duplicate rows are.
    """

    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        missing = sorted(set(self.key) - set(names))
        if missing:
            raise ConfigurationError(f"TableSpec key columns {missing} are not in {names}.")


@dataclasses.dataclass(frozen=True)
class LoadResult:
    """Valid rows, typed, and quarantined rows, raw, each with the reasons it failed.

    Attributes:
        valid: Rows that passed, with coerced types and a ``source_row`` column.
        quarantine: Rows that failed, as they were in the source, with ``source_row`` and
            ``reasons`` (every failing check, ``; ``-separated).
        source: Where the rows came from (a path or ``<DataFrame>``).
        n_input: Number of input rows.
    """

    valid: pd.DataFrame
    quarantine: pd.DataFrame
    source: str
    n_input: int

    def summary(self) -> pd.DataFrame:
        """Count of quarantined rows per failing check (``column: rule``)."""
        import pandas as pd

        rules = self.quarantine["reasons"].str.split("; ").explode()
        checks = rules.str.replace(r" \(got .*\)$| of source row \d+$", "", regex=True)
        counts = checks.value_counts().rename_axis("check").rename("rows")
        table: pd.DataFrame = pd.DataFrame(counts).reset_index()
        return table


def _coerce_number(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Numbers with dot or comma decimals (and either thousands separator)."""
    import pandas as pd

    s = text.astype("string").str.strip()
    empty = s.isna() | (s == "")
    has_comma = s.str.contains(",", regex=False).fillna(False)
    has_dot = s.str.contains(".", regex=False).fillna(False)
    comma_last = s.str.rfind(",") > s.str.rfind(".")
    # "1.234,5" and "1234,5" are comma-decimal; "1,234.5" uses commas for thousands.
    comma_decimal = has_comma & (~has_dot | comma_last)
    normal = s.where(~comma_decimal, s.str.replace(".", "", regex=False).str.replace(",", "."))
    normal = normal.where(comma_decimal | ~has_comma, normal.str.replace(",", "", regex=False))
    number = pd.to_numeric(normal, errors="coerce").astype("float64")
    finite = number.abs() < float("inf")
    bad = ~empty & (number.isna() | ~finite)
    return number.where(finite), empty, bad


def clean(frame: pd.DataFrame, spec: TableSpec, *, source: str = "<DataFrame>") -> LoadResult:
    """Coerce ``frame`` to ``spec`` and set aside every row that breaks it.

    Args:
        frame: Raw rows; any dtypes (text straight from a CSV is expected).
        spec: The columns and key the table must have.
        source: Name used in messages and in the result.

    Returns:
        A :class:`LoadResult`; ``len(valid) + len(quarantine) == len(frame)``.

    Raises:
        DataError: A column of ``spec`` is absent from ``frame``.

    Example:
        >>> import pandas as pd
        >>> spec = TableSpec((Column("kwh", "number", required=True, min=0),))
        >>> r = clean(pd.DataFrame({"kwh": ["1,5", "-2", ""]}), spec)
        >>> r.valid["kwh"].tolist(), r.quarantine["reasons"].tolist()
        ([1.5], ["kwh: must be >= 0 (got '-2')", 'kwh: required value is missing'])
    """
    import numpy as np
    import pandas as pd

    absent = [c.name for c in spec.columns if c.name not in frame.columns]
    if absent:
        raise DataError(
            f"{source}: the column(s) {absent} required by the table spec are absent. "
            f"Columns found: {list(frame.columns)}. Rename them in the source or the spec."
        )
    n = len(frame)
    raw = frame.reset_index(drop=True)
    reasons: list[list[str]] = [[] for _ in range(n)]
    out = pd.DataFrame(index=raw.index)

    def flag(mask: Any, message: str, column: str | None = None) -> None:
        for i in np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False)):
            got = f" (got {raw.at[i, column]!r})" if column is not None else ""
            reasons[i].append(message + got)

    for col in spec.columns:
        text = raw[col.name]
        if col.kind == "number":
            value, empty, bad = _coerce_number(text)
            flag(bad, f"{col.name}: not a number", col.name)
            if col.min is not None:
                flag(value < col.min, f"{col.name}: must be >= {col.min:g}", col.name)
        elif col.kind == "date":
            s = text.astype("string").str.strip()
            empty = s.isna() | (s == "")
            value = pd.to_datetime(s, format="ISO8601", errors="coerce")
            flag(~empty & value.isna(), f"{col.name}: not an ISO date", col.name)
        elif col.kind == "category":
            s = text.astype("string").str.strip()
            empty = s.isna() | (s == "")
            lookup = {c.casefold(): c for c in col.categories}
            lookup.update({a.strip().casefold(): c for a, c in col.aliases.items()})
            value = s.str.casefold().map(lookup)
            flag(
                ~empty & value.isna(),
                f"{col.name}: not one of {sorted(col.categories)}",
                col.name,
            )
            value = value.astype(pd.CategoricalDtype(sorted(col.categories)))
        else:
            s = text.astype("string").str.strip()
            empty = s.isna() | (s == "")
            value = s.where(~empty)
        if col.required:
            flag(empty, f"{col.name}: required value is missing")
        out[col.name] = value

    failed = np.array([bool(r) for r in reasons], dtype=bool)
    # Duplicates are judged among rows that passed, on coerced values, so "1,5" == "1.5".
    subset = list(spec.key) or [c.name for c in spec.columns]
    passed = out[~failed]
    dup = passed.duplicated(subset=subset, keep="first")
    if dup.any():
        first_of = passed.reset_index().groupby(subset, observed=True, dropna=False)["index"]
        first = first_of.transform("min").to_numpy()
        what = "duplicate key " + "/".join(spec.key) if spec.key else "duplicate row"
        for pos, row in enumerate(passed.index):
            if dup.iloc[pos]:
                reasons[row].append(f"{what} of source row {first[pos]}")
        failed = np.array([bool(r) for r in reasons], dtype=bool)

    valid = out[~failed].copy()
    valid.insert(0, "source_row", valid.index.to_numpy())
    valid = valid.reset_index(drop=True)
    quarantine = raw[failed].copy()
    quarantine.insert(0, "source_row", quarantine.index.to_numpy())
    quarantine["reasons"] = ["; ".join(reasons[i]) for i in np.flatnonzero(failed)]
    quarantine = quarantine.reset_index(drop=True)
    assert len(valid) + len(quarantine) == n  # the stage's promise; never relax it
    if len(quarantine):
        _log.info("%s: %d of %d rows quarantined", source, len(quarantine), n)
    return LoadResult(valid=valid, quarantine=quarantine, source=source, n_input=n)


def load_csv(
    path: str | Path,
    spec: TableSpec,
    *,
    quarantine_dir: str | Path | None = None,
    encoding: str = "utf-8",
) -> LoadResult:
    """Read a raw CSV as text, :func:`clean` it, and write the quarantine beside it.

    Args:
        path: The CSV file.
        spec: The columns and key the table must have.
        quarantine_dir: Where ``<stem>_quarantine.csv`` is written (skipped when ``None``).
        encoding: Text encoding of the file.

    Returns:
        A :class:`LoadResult` whose ``source`` is the path.

    Raises:
        DataError: The file is missing, empty, not decodable, or lacks a spec column.
    """
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such file. Check the path (cwd is {Path.cwd()}).")
    if file.stat().st_size == 0:
        raise DataError(f"{file}: the file is empty; expected a header and rows.")
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{file}: not readable as {encoding} text ({exc.reason} at byte {exc.start}). "
            f"Pass the file's encoding, for example encoding='latin-1'."
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{file}: not a well-formed CSV: {exc}") from exc
    result = clean(frame, spec, source=str(file))
    if quarantine_dir is not None and len(result.quarantine):
        target = Path(quarantine_dir) / f"{file.stem}_quarantine.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        result.quarantine.to_csv(target, index=False)
    return result
