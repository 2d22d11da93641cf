"""Type coercion that records every cell it could not convert, instead of a silent NaN."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from workbench.data._contract import ColumnContract, Contract

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CoercionResult", "coerce", "coerce_column"]

_TRUE = {"true", "t", "yes", "y", "1", "si", "sì", "vero"}
_FALSE = {"false", "f", "no", "n", "0", "falso"}
FAILURE_COLUMNS = ["row", "column", "check", "value"]

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CoercionResult:
    """A typed frame and the cells that did not convert.

    Attributes:
        frame: The input with each contract column in its contract type; cells that did
            not convert are missing here and listed in ``failures``.
        failures: One row per failed cell: ``row`` (position in the input), ``column``,
            ``check`` (``type:<dtype>``), ``value`` (as it was).
    """

    frame: pd.DataFrame
    failures: pd.DataFrame


def _number(s: pd.Series) -> pd.Series:
    """Text to float: dot or comma decimals, either thousands separator, spaces stripped."""
    import pandas as pd

    s = s.str.replace(r"[\s\u00a0']", "", regex=True)
    has_comma = s.str.contains(",", regex=False)
    comma_last = s.str.rfind(",") > s.str.rfind(".")
    # "1.234,5" and "1234,5" use a decimal comma; "1,234.5" uses commas for thousands.
    decimal_comma = has_comma & comma_last
    s = s.where(~decimal_comma, s.str.replace(".", "", regex=False).str.replace(",", "."))
    s = s.where(decimal_comma, s.str.replace(",", "", regex=False))
    return pd.to_numeric(s, errors="coerce")


def _to_contract_number(
    value: pd.Series, present: pd.Series, spec: ColumnContract
) -> tuple[pd.Series, pd.Series]:
    """Floats (NaN where nothing parsed) to the contract's float or int: (value, failed).

    A present cell fails when it is not a number, or for an int column not a whole
    finite one. An infinite float stays: it is a number, beyond every range, and the
    range checks name it so (:meth:`ColumnContract.range_checks`).
    """
    import numpy as np

    bad = present & value.isna()
    if spec.dtype == "int":
        bad = bad | np.isinf(value)
        value = value.where(~bad)
        fractional = value.notna() & (value != value.round())
        return value.where(~fractional).astype("Int64"), bad | fractional
    if bad.any():
        value = value.where(~bad)
    return value, bad


def _parse_text(s: pd.Series, spec: ColumnContract) -> tuple[pd.Series, pd.Series]:
    """Convert stripped text (missing where empty) to the contract type: (value, failed)."""
    import pandas as pd

    present = s.notna()
    value: pd.Series
    if spec.dtype in ("float", "int"):
        return _to_contract_number(_number(s).astype("float64"), present, spec)
    if spec.dtype == "bool":
        key = s.str.lower().str.replace(r"^([01])\.0+$", r"\1", regex=True)
        value = pd.Series(pd.NA, index=s.index, dtype="boolean")
        value[key.isin(_TRUE).fillna(False).to_numpy(dtype=bool)] = True
        value[key.isin(_FALSE).fillna(False).to_numpy(dtype=bool)] = False
        return value, present & value.isna()
    if spec.dtype == "datetime":
        fmt = spec.date_format or "ISO8601"
        try:
            value = pd.to_datetime(s, format=fmt, errors="coerce")
        except ValueError:  # cells in different time zones, or some with one and some not
            return _mixed_zones(s, fmt)
        return value, present & value.isna()
    if spec.dtype == "category":
        lookup = {c.casefold(): c for c in spec.categories}
        lookup.update({a.strip().casefold(): c for a, c in spec.aliases.items()})
        mapped = s.str.casefold().map(lookup)
        # Unknown categories are kept as written, for pandera's category check to report.
        value = mapped.where(mapped.notna(), s).astype("string")
        return value, pd.Series(False, index=s.index)
    return s, pd.Series(False, index=s.index)


def _mixed_zones(s: pd.Series, fmt: str) -> tuple[pd.Series, pd.Series]:
    """Dates whose cells disagree on time zones: (value, failed).

    Offsets that differ between cells (summer and winter time) are one instant each:
    they are converted to UTC. When some cells have a time zone and others do not, the
    column's reading is ambiguous: the kind most cells use is kept, the others fail.
    """
    import pandas as pd

    present = s.notna()
    kinds = []
    for cell, here in zip(s, present, strict=True):
        stamp = pd.to_datetime(cell, format=fmt, errors="coerce") if here else pd.NaT
        zone = getattr(stamp, "tzinfo", None)
        kinds.append("" if stamp is pd.NaT else "aware" if zone is not None else "naive")
    kind = pd.Series(kinds, index=s.index)
    aware, naive = kind == "aware", kind == "naive"
    odd = aware if aware.sum() <= naive.sum() else naive
    if odd.any():
        _log.warning(
            "%d distinct date(s) %s a time zone, unlike most of the column (e.g. %r): "
            "they fail as type:datetime. Write every date with a time zone, or none.",
            int(odd.sum()),
            "with" if odd is aware else "without",
            s[odd].iloc[0],
        )
    kept = s.mask(odd)
    value = pd.to_datetime(kept, format=fmt, errors="coerce", utc=bool((aware & ~odd).any()))
    return value, present & (value.isna() | odd)


def _text(uniques: pd.Index) -> tuple[pd.Series, pd.Series]:
    """Distinct cells as text: (text, failed); bytes that are not UTF-8 fail."""
    import pandas as pd

    try:
        return pd.Series(uniques, dtype="string"), pd.Series(False, index=range(len(uniques)))
    except (TypeError, ValueError):  # bytes cells (Parquet binary) that are not UTF-8
        texts: list[str | None] = []
        for cell in uniques:
            if isinstance(cell, bytes):
                try:
                    cell = cell.decode("utf-8")
                except UnicodeDecodeError:
                    cell = None
            texts.append(None if cell is None else str(cell))
        text = pd.Series(texts, dtype="string")
        return text, text.isna()


def coerce_column(raw: pd.Series, spec: ColumnContract) -> tuple[pd.Series, pd.Series]:
    """Convert one column to its contract type.

    Text is converted once per distinct value (exports repeat values a lot), then spread
    back over the rows.

    Returns:
        The converted column, and a boolean mask of cells that held something but did not
        convert (empty strings count as missing, not as failures).
    """
    import numpy as np
    import pandas as pd

    dtype = raw.dtype
    no_failures = pd.Series(False, index=raw.index)
    # Already in the contract's type (or another numeric one): nothing to parse.
    if spec.dtype == "int" and pd.api.types.is_integer_dtype(dtype):
        return raw.astype("Int64"), no_failures
    if spec.dtype == "bool" and pd.api.types.is_bool_dtype(dtype):
        return raw.astype("boolean"), no_failures
    if spec.dtype == "datetime" and pd.api.types.is_datetime64_any_dtype(dtype):
        return raw, no_failures
    # True/False are not numbers a contract means (a numeric dtype to pandas, though)
    number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if spec.dtype in ("float", "int") and number:
        value = raw.astype("float64")
        return _to_contract_number(value, value.notna(), spec)

    try:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    except TypeError:  # cells holding lists, dicts or arrays (nested Parquet): never a value
        nested = raw.map(lambda cell: not pd.api.types.is_hashable(cell)).astype(bool)
        scalars, bad = coerce_column(raw.mask(nested), spec)
        return scalars, bad | nested
    if len(uniques) == 0:  # every cell missing (or no rows): typed, all missing
        return _parse_text(pd.Series(pd.NA, index=raw.index, dtype="string"), spec)
    text, undecodable = _text(uniques)
    text = text.str.strip()
    text = text.mask(text == "")
    value_u, bad_u = _parse_text(text, spec)
    bad_u = bad_u | undecodable  # both indexed by the distinct values
    safe = np.where(codes < 0, 0, codes)
    missing = codes < 0
    value = value_u.take(safe).mask(missing)
    failed = bad_u.to_numpy(dtype=bool)[safe] & ~missing
    value.index = raw.index
    return value, pd.Series(failed, index=raw.index)


def _checks(cells: pd.Series, spec: ColumnContract) -> Any:
    """The check each failed cell is reported under: ``type:<dtype>``, except an
    infinite number in an int column, which is beyond the range (``must be <= 10``)."""
    import numpy as np
    import pandas as pd

    checks = np.full(len(cells), f"type:{spec.dtype}", dtype=object)
    if spec.dtype != "int":
        return checks
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        numbers = cells.astype("float64")
    else:
        numbers = _number(cells.astype(str).str.strip()).astype("float64")
    checks[(numbers == np.inf).to_numpy()] = spec.reason("max")
    checks[(numbers == -np.inf).to_numpy()] = spec.reason("min")
    return checks


def coerce(frame: pd.DataFrame, contract: Contract) -> CoercionResult:
    """Convert each contract column of ``frame`` to its type, recording failed cells.

    Columns outside the contract are left as they are. Category values are normalised
    (case, spaces, aliases); unknown categories stay as written so the category check
    reports them.

    Example:
        >>> import pandas as pd
        >>> from workbench.data import ColumnContract, Contract
        >>> c = Contract((ColumnContract("kwh", "float"),))
        >>> r = coerce(pd.DataFrame({"kwh": ["1,5", "abc", ""]}), c)
        >>> r.frame["kwh"].tolist()[:1], r.failures[["row", "value"]].values.tolist()
        ([1.5], [[1, 'abc']])
    """
    import numpy as np
    import pandas as pd

    out = frame.copy(deep=False)  # columns are replaced, never changed in place
    failures: list[pd.DataFrame] = []
    for spec in contract.columns:
        if spec.name not in frame.columns:
            continue
        value, bad = coerce_column(frame[spec.name], spec)
        out[spec.name] = value
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy(dtype=bool))
            cells = frame[spec.name].iloc[rows]
            failures.append(
                pd.DataFrame(
                    {
                        "row": rows,
                        "column": spec.name,
                        "check": _checks(cells, spec),
                        "value": cells.astype(object).to_numpy(),
                    }
                )
            )
    table = (
        pd.concat(failures, ignore_index=True)
        if failures
        else pd.DataFrame({c: pd.Series(dtype=object) for c in FAILURE_COLUMNS})
    )
    return CoercionResult(frame=out, failures=table)
