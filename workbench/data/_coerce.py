"""Type coercion that records every cell it could not convert, instead of a silent NaN."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from workbench.data._contract import ColumnContract, Contract

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CoercionResult", "coerce", "coerce_column"]

_TRUE = {"true", "t", "yes", "y", "1", "si", "sì", "vero"}
_FALSE = {"false", "f", "no", "n", "0", "falso"}
FAILURE_COLUMNS = ["row", "column", "check", "value"]


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


def _is_text(series: pd.Series) -> bool:
    import pandas as pd

    return bool(
        pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)
    )


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


def coerce_column(raw: pd.Series, spec: ColumnContract) -> tuple[pd.Series, pd.Series]:
    """Convert one column to its contract type.

    Returns:
        The converted column, and a boolean mask of cells that held something but did not
        convert (empty strings count as missing, not as failures).
    """
    import numpy as np
    import pandas as pd

    text = _is_text(raw)
    if text:
        s = raw.astype("string").str.strip()
        empty = s.isna() | (s == "")
        s = s.mask(empty)
    else:
        s = raw
        empty = raw.isna()

    if spec.dtype in ("float", "int"):
        if text:
            value = _number(s)
        elif pd.api.types.is_bool_dtype(raw.dtype):
            value = raw.astype("float64")
        else:
            value = pd.to_numeric(raw, errors="coerce")
        value = value.astype("float64")
        bad = ~empty & (value.isna() | np.isinf(value))
        value = value.where(~bad)
        if spec.dtype == "int":
            fractional = value.notna() & (value != value.round())
            bad = bad | fractional
            value = value.where(~fractional).astype("Int64")
        return value, bad
    if spec.dtype == "bool":
        if pd.api.types.is_bool_dtype(raw.dtype):
            return raw.astype("boolean"), pd.Series(False, index=raw.index)
        key = s.astype("string").str.lower()
        # numbers 1/0 written as floats ("1.0") are booleans too
        key = key.str.replace(r"^([01])\.0+$", r"\1", regex=True)
        value = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        value[key.isin(_TRUE).fillna(False)] = True
        value[key.isin(_FALSE).fillna(False)] = False
        return value, ~empty & value.isna()
    if spec.dtype == "datetime":
        if pd.api.types.is_datetime64_any_dtype(raw.dtype):
            return raw, pd.Series(False, index=raw.index)
        fmt = spec.date_format or "ISO8601"
        value = pd.to_datetime(s, format=fmt, errors="coerce")
        return value, ~empty & value.isna()
    if spec.dtype == "category":
        lookup = {c.casefold(): c for c in spec.categories}
        lookup.update({a.strip().casefold(): c for a, c in spec.aliases.items()})
        if isinstance(raw.dtype, pd.CategoricalDtype) and list(raw.cat.categories) == list(
            spec.categories
        ):
            return raw, pd.Series(False, index=raw.index)
        keys = s.astype("string").str.casefold()
        mapped = keys.map(lookup)
        # Unknown categories are kept as written, for pandera's category check to report.
        value = mapped.where(mapped.notna(), s.astype("string"))
        return value.astype(object).where(value.notna(), None), pd.Series(False, index=raw.index)
    # str
    if text:
        return s.astype("string"), pd.Series(False, index=raw.index)
    return raw.astype("string"), pd.Series(False, index=raw.index)


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

    out = frame.copy()
    failures: list[pd.DataFrame] = []
    for spec in contract.columns:
        if spec.name not in frame.columns:
            continue
        value, bad = coerce_column(frame[spec.name], spec)
        out[spec.name] = value.to_numpy() if spec.dtype == "category" else value
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy(dtype=bool))
            failures.append(
                pd.DataFrame(
                    {
                        "row": rows,
                        "column": spec.name,
                        "check": f"type:{spec.dtype}",
                        "value": frame[spec.name].iloc[rows].astype(object).to_numpy(),
                    }
                )
            )
    table = (
        pd.concat(failures, ignore_index=True)
        if failures
        else pd.DataFrame({c: pd.Series(dtype=object) for c in FAILURE_COLUMNS})
    )
    return CoercionResult(frame=out, failures=table)
