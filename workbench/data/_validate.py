"""Validate a frame against its contract: valid rows, quarantined rows with every reason."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench._exceptions import DataError
from workbench._imports import require
from workbench.data._coerce import FAILURE_COLUMNS, coerce
from workbench.data._contract import Contract
from workbench.data._mask import mask_frame, mask_value

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ValidationResult", "check_columns", "soft_warnings", "summarize_soft", "validate"]

_log = logging.getLogger(__name__)

#: Longest cell text shown in a quarantined row's reasons (``failures`` keeps it whole).
_SHOWN = 80

_PANDERA_CHECKS = {
    "not_nullable": "missing value",
    "field_uniqueness": "duplicate value",
}


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """What :func:`validate` found.

    ``len(valid) + len(quarantine) == n_input`` always: every input row is in exactly one.

    Attributes:
        valid: Rows that passed, in their contract types, with a ``_row`` column (the
            row's position in the input).
        quarantine: Rows that failed, as they were in the input (personal columns
            masked), with ``_row`` and ``_reasons`` (every failing check).
        failures: One row per failed check: ``row``, ``column``, ``check``, ``value``
            (masked for personal columns).
        n_input: Number of input rows.
        source: Where the rows came from.
        contract: The contract they were checked against.
        errors: Dataset-level problems (row-count bounds).
        warnings: Dataset-level warnings: class balance, and valid values beyond a
            column's ``warn_min``/``warn_max`` (for an inferred contract: beyond the
            range seen in the reference data, within the margin).
        quarantine_path: Where the quarantine was written, if it was.
        soft_failures: Valid rows kept with a warning: one row per value beyond a
            ``warn_min``/``warn_max``, laid out like ``failures`` (``row``, ``column``,
            ``check``, ``value``; masked for personal columns).
    """

    valid: pd.DataFrame
    quarantine: pd.DataFrame
    failures: pd.DataFrame
    n_input: int
    source: str
    contract: Contract
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    quarantine_path: Path | None = None
    soft_failures: pd.DataFrame = dataclasses.field(default_factory=lambda: _no_failures())

    @property
    def ok(self) -> bool:
        """No row failed and no dataset-level error."""
        return self.quarantine.empty and not self.errors

    def summary(self) -> pd.DataFrame:
        """Failed rows per column and check, most frequent first, with an example value."""
        import pandas as pd

        if self.failures.empty:
            return pd.DataFrame(columns=["column", "check", "rows", "example"])
        grouped = self.failures.groupby(["column", "check"], sort=False)
        table = grouped.agg(rows=("row", "nunique"), example=("value", "first")).reset_index()
        return table.sort_values(["rows", "column"], ascending=[False, True]).reset_index(drop=True)


def _no_failures() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=object) for c in FAILURE_COLUMNS})


def _soft_failures(valid: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Valid values beyond a column's ``warn_min``/``warn_max``, one row each."""
    import pandas as pd

    parts = []
    sides: tuple[Literal["min", "max"], ...] = ("min", "max")
    for spec in contract.columns:
        for side in sides:
            if getattr(spec, f"warn_{side}") is None:
                continue
            beyond = spec.beyond(valid[spec.name], side, soft=True).to_numpy(dtype=bool)
            if beyond.any():
                values = valid[spec.name][beyond].astype(object)
                if spec.pii:
                    values = values.map(mask_value)
                parts.append(
                    pd.DataFrame(
                        {
                            "row": valid["_row"].to_numpy()[beyond],
                            "column": spec.name,
                            "check": spec.warning(side),
                            "value": values.to_numpy(),
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True) if parts else _no_failures()


def summarize_soft(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Soft failures per column and check: ``rows`` and the ``extreme`` value (largest
    above a ``warn_max``, smallest below a ``warn_min``).

    Each part is either ``soft_failures`` rows or an earlier summary, so summaries of
    partitions add up (:func:`workbench.data.validate_large`).
    """
    import pandas as pd

    columns = ["column", "check", "rows", "extreme"]
    tables = []
    for part in parts:
        if not len(part):
            continue
        if "extreme" not in part.columns:
            part = part.assign(rows=1, extreme=part["value"])[columns]
        tables.append(part[columns])
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    rows = []
    for (column, check), group in pd.concat(tables).groupby(["column", "check"], sort=False):
        values = [v for v in group["extreme"] if not pd.isna(v)]
        pick = max if str(check).startswith("above") else min
        try:
            extreme = pick(values) if values else None
        except TypeError:  # masked (personal) values: text, not comparable to numbers
            extreme = values[0]
        rows.append((column, check, int(group["rows"].sum()), extreme))
    return pd.DataFrame(rows, columns=columns)


def soft_warnings(summary: pd.DataFrame, contract: Contract, source: str) -> list[str]:
    """One warning per column and soft check of :func:`summarize_soft`'s summary."""
    from workbench.data._contract import show_bound

    messages = []
    for column, check, rows, extreme in summary.itertuples(index=False):
        spec = contract.column(str(column))
        side = "max" if str(check).startswith("above") else "min"
        hard = getattr(spec, side)
        where = (
            "the range seen when the contract was inferred"
            if spec.bounds == "inferred"
            else "the contract's expected range"
        )
        limit = (
            ""
            if hard is None
            else f"; rows {'above' if side == 'max' else 'below'} "
            + (f"{show_bound(hard)} are quarantined")
        )
        shown = extreme if spec.pii else show_bound(extreme) if extreme is not None else "?"
        messages.append(
            f"{source}: {column} is {check} in {rows:,} valid row(s) "
            f"({'up to' if side == 'max' else 'down to'} {shown}): beyond {where}, "
            f"kept as valid{limit}."
        )
    return messages


def _brief(value: Any) -> str:
    """A cell as shown in a reason: a megabyte cell must not become a megabyte reason."""
    text = str(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 30]}... ({len(text):,} characters)"


def check_columns(columns: Sequence[str], contract: Contract, source: str) -> None:
    """Raise a :class:`DataError` naming the absent (and unexpected) columns.

    Near-miss names (case, spaces, typos) are suggested, since a header mismatch is
    more often a spelling than a missing column.
    """
    found = [str(c) for c in columns]
    absent = [c for c in contract.names if c not in found]
    extra = [c for c in found if c not in contract.names]
    if absent:
        hints = []
        for name in absent:
            close = difflib.get_close_matches(name, extra, n=1, cutoff=0.6)
            close = close or [c for c in extra if c.strip().casefold() == name.casefold()]
            if close:
                hints.append(f"{close[0]!r} → {name!r}?")
        hint = f" Did the header change: {', '.join(hints)}" if hints else ""
        blank = [c for c in extra if re.fullmatch(r"Unnamed: \d+", c)]  # pandas' name
        if blank:
            hint += f" The header cell(s) {blank} are empty: name them."
        raise DataError(
            f"{source}: the contract needs column(s) {absent}, which are absent. "
            f"Columns found: {found}.{hint}"
        )
    if contract.strict and extra:
        raise DataError(
            f"{source}: column(s) {extra} are not in the contract, which is strict. "
            f"Add them to the contract or drop them."
        )


def _pandera_failures(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Row-level failures of the pandera schema, one row per (row, check)."""
    import pandas as pd

    pa = require("pandera.pandas", feature="data contracts")
    schema = contract.to_pandera()
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FAILURE_COLUMNS})
    located = cases[cases["index"].notna()]
    unlocated = cases[cases["index"].isna()]
    if not unlocated.empty:  # a column-level failure: a type that coercion did not settle
        first = unlocated.iloc[0]
        raise DataError(
            f"Column {first['column']!r} fails {first['check']!r} as a whole "
            f"({first['failure_case']!r}); check its type in the contract."
        )
    names = contract.names
    checks = located["check"].astype(str)
    rules = {f"rule {r.name}: {r.expr}": r for r in contract.rules}
    key = ", ".join(contract.key) if contract.key else "all columns"
    table = pd.DataFrame(
        {
            "row": located["index"].astype("int64").to_numpy(),
            "column": located["column"].astype(str).to_numpy(),
            "check": checks.map(lambda c: _PANDERA_CHECKS.get(c, c)).to_numpy(),
            "value": located["failure_case"].astype(object).to_numpy(),
        }
    )
    # Checks over several columns (rules, key uniqueness) come back once per column of
    # the row: keep one entry per row, naming the columns and their values.
    multi = table["check"].isin(list(rules)) | (table["check"] == "multiple_fields_uniqueness")
    single = table[~multi]
    merged = []
    for check, group in table[multi].groupby("check", sort=False):
        rule = rules.get(str(check))
        cols = rule.columns(names) if rule else list(contract.key) or names
        rows = group["row"].drop_duplicates().to_numpy()
        values = frame.iloc[rows][cols]
        text = [
            ", ".join(f"{c}={v}" for c, v in zip(cols, vals, strict=True))
            for vals in values.itertuples(index=False)
        ]
        label = str(check) if rule else f"duplicate key ({key})"
        merged.append(
            pd.DataFrame({"row": rows, "column": ", ".join(cols), "check": label, "value": text})
        )
    return pd.concat([single, *merged], ignore_index=True)


def _checked(
    data: pd.DataFrame, contract: Contract, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The typed frame and its row-level failures (``FAILURE_COLUMNS``, sorted by row and
    column): the checks of :func:`validate` without splitting rows or writing reasons."""
    import pandas as pd

    check_columns(list(data.columns), contract, source)
    coerced = coerce(data, contract)
    typed = coerced.frame
    failures = _pandera_failures(typed[contract.names], contract)
    if not coerced.failures.empty:
        # a cell that did not convert is reported once, as a type failure
        seen = set(zip(coerced.failures["row"], coerced.failures["column"], strict=True))
        keep = [
            (r, c) not in seen or k != "missing value"
            for r, c, k in zip(failures["row"], failures["column"], failures["check"], strict=True)
        ]
        failures = pd.concat([coerced.failures, failures[keep]], ignore_index=True)
    failures = failures.sort_values(["row", "column"], kind="stable").reset_index(drop=True)
    return typed, failures


def check_rows(
    frame: pd.DataFrame, contract: Contract, *, source: str = "<DataFrame>"
) -> pd.DataFrame:
    """The row-level failures of ``frame`` against ``contract``, as :func:`validate` finds
    them (coercion with the contract's aliases, types, ranges, categories, missing values,
    rules), without splitting the rows or writing reasons: for counting problems.

    Args:
        frame: Rows to check.
        contract: The contract.
        source: Name used in messages.

    Returns:
        One row per failing (row position, column, check) with the columns ``row``,
        ``column``, ``check`` and ``value``; values of personal columns are not masked,
        so the result is for counting, not for showing.

    Raises:
        DataError: A column the contract needs is absent (or an extra one, when strict).

    Example:
        >>> import pandas as pd
        >>> from workbench.data import ColumnContract, Contract
        >>> c = Contract((ColumnContract("kwh", "float", nullable=False, min=0),))
        >>> found = check_rows(pd.DataFrame({"kwh": ["1,5", "-2", ""]}), c)
        >>> found[["row", "check"]].values.tolist()
        [[1, 'must be >= 0'], [2, 'missing value']]
    """
    return _checked(frame.reset_index(drop=True), contract, source)[1]


def validate(
    frame: pd.DataFrame,
    contract: Contract,
    *,
    source: str = "<DataFrame>",
    quarantine_dir: str | Path | Literal[False] | None = None,
) -> ValidationResult:
    """Check ``frame`` against ``contract`` and split it into valid and quarantined rows.

    Text columns are coerced to their contract types first; a cell that does not convert
    is a failure of its row (``type:<dtype>``), never a silent NaN. Then pandera checks
    nullability, ranges, categories, uniqueness, key duplicates and cross-column rules;
    every failing check of a row is kept. Dataset-level checks (row-count bounds, class
    balance) are reported without moving rows.

    Args:
        frame: Rows to check (text straight from a file, or typed).
        contract: The contract.
        source: Name used in messages and file names.
        quarantine_dir: Where ``<name>_quarantine.csv`` and ``<name>_failures.csv`` are
            written when rows fail; ``None`` means the project's ``data/interim`` (from
            the settings), ``False`` keeps them in memory only.

    Returns:
        A :class:`ValidationResult`.

    Raises:
        DataError: A column the contract needs is absent (or an extra one, when strict).

    Example:
        >>> import pandas as pd
        >>> from workbench.data import ColumnContract, Contract
        >>> c = Contract((ColumnContract("kwh", "float", nullable=False, min=0),))
        >>> r = validate(pd.DataFrame({"kwh": ["1,5", "-2", ""]}), c)
        >>> r.valid["kwh"].tolist(), r.quarantine["_reasons"].tolist()
        ([1.5], ['kwh: must be >= 0 (-2.0)', 'kwh: missing value'])
    """
    import numpy as np
    import pandas as pd

    data = frame.reset_index(drop=True)
    typed, failures = _checked(data, contract, source)
    pii = contract.pii_columns
    if pii and not failures.empty:
        personal = failures["column"].isin(pii)
        failures.loc[personal, "value"] = failures.loc[personal, "value"].map(mask_value)

    bad_rows = np.unique(failures["row"].to_numpy(dtype="int64"))
    is_bad = np.zeros(len(data), dtype=bool)
    is_bad[bad_rows] = True

    valid = typed[~is_bad].copy()
    for spec in contract.columns:
        if spec.dtype == "category":
            valid[spec.name] = valid[spec.name].astype(pd.CategoricalDtype(list(spec.categories)))
    valid.insert(0, "_row", np.flatnonzero(~is_bad))
    valid = valid.reset_index(drop=True)

    quarantine = mask_frame(data[is_bad], pii) if pii else data[is_bad].copy()
    quarantine.insert(0, "_row", bad_rows)
    if len(bad_rows):
        named = failures["column"] + ": " + failures["check"]
        labels = np.where(
            failures["value"].isna(), named, named + " (" + failures["value"].map(_brief) + ")"
        )
        reasons = pd.Series(labels).groupby(failures["row"].to_numpy()).agg("; ".join)
        quarantine["_reasons"] = reasons.reindex(bad_rows).to_numpy()
    else:
        quarantine["_reasons"] = pd.Series(dtype=object)
    quarantine = quarantine.reset_index(drop=True)
    assert len(valid) + len(quarantine) == len(data)  # the stage's promise; never relax it

    errors, warns = _dataset_checks(valid, len(data), contract, source)
    soft = _soft_failures(valid, contract)
    warns += soft_warnings(summarize_soft([soft]), contract, source)
    path = None
    if quarantine_dir is None:
        from workbench._settings import get_settings

        quarantine_dir = get_settings().data_dir / "interim"
    if quarantine_dir is not False and len(quarantine):
        # a file name, never a path: a contract named "../x" writes nothing outside the folder
        stem = Path(source).stem if source != "<DataFrame>" else Path(contract.name).name
        stem = stem if stem not in ("", ".", "..") else "data"
        path = Path(quarantine_dir) / f"{stem}_quarantine.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        quarantine.to_csv(path, index=False)
        failures.to_csv(path.with_name(f"{stem}_failures.csv"), index=False)
    if len(quarantine):
        _log.info("%s: %d of %d rows quarantined", source, len(quarantine), len(data))
    for message in warns:
        _log.warning(message)
    return ValidationResult(
        valid=valid,
        quarantine=quarantine,
        failures=failures,
        n_input=len(data),
        source=source,
        contract=contract,
        errors=tuple(errors),
        warnings=tuple(warns),
        quarantine_path=path,
        soft_failures=soft,
    )


def _dataset_checks(
    valid: pd.DataFrame, n_input: int, contract: Contract, source: str
) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warns: list[str] = []
    n = len(valid)
    if contract.min_rows is not None and n < contract.min_rows:
        errors.append(
            f"{source}: {n} valid rows (of {n_input}); the contract needs at least "
            f"{contract.min_rows}."
        )
    if contract.max_rows is not None and n > contract.max_rows:
        errors.append(f"{source}: {n} valid rows; the contract allows at most {contract.max_rows}.")
    if contract.target and contract.min_class_share is not None and n:
        shares = valid[contract.target].value_counts(normalize=True, dropna=True)
        if len(shares):
            rarest, share = shares.index[-1], float(shares.iloc[-1])
            if share < contract.min_class_share or len(shares) < 2:
                value: Any = rarest if contract.target not in contract.pii_columns else "•••"
                warns.append(
                    f"{source}: class imbalance in {contract.target!r}: the rarest class "
                    f"{value!r} is {share:.1%} of valid rows, under the contract's "
                    f"{contract.min_class_share:.0%}. Consider resampling or class weights."
                )
    return errors, warns
