"""Data contracts: what a table must hold, saved as YAML, checked with pandera."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench._exceptions import ConfigurationError, DataError
from workbench._imports import require

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

__all__ = ["BOUNDS", "DTYPES", "ColumnContract", "Contract", "Rule", "show_bound"]

Dtype = Literal["float", "int", "str", "category", "bool", "datetime"]
DTYPES: tuple[str, ...] = ("float", "int", "str", "category", "bool", "datetime")
#: Where a column's ``min``/``max`` come from: declared by a person, or inferred from data.
BOUNDS: tuple[str, ...] = ("declared", "inferred")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RANGED = ("float", "int", "datetime")
_BOUND_FIELDS = ("min", "max", "warn_min", "warn_max")


def show_bound(value: Any) -> str:
    """A bound as a reason shows it: every digit it has (``1234567.5``, never
    ``1.23457e+06``), a date without a midnight time (``2030-12-31``)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        if number.is_integer() and abs(number) < 1e16:
            return str(int(number))
        return repr(number)
    text = str(value)
    return text[:10] if text.endswith(("T00:00:00", " 00:00:00")) else text


def _number_bound(value: Any, where: str, field: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ConfigurationError(f"{where}: {field} must be a number. Got {value!r}.")
    return value


def _date_bound(value: Any, where: str, field: str) -> str:
    """A date bound as ISO text (what the YAML holds); dates and datetimes accepted."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigurationError(
            f"{where}: {field} must be a date or time (ISO 8601, e.g. '2030-12-31'). "
            f"Got {value!r} ({exc})."
        ) from None
    if pd.isna(stamp):
        raise ConfigurationError(f"{where}: {field} must be a date or time. Got {value!r}.")
    if stamp.tzinfo is None and stamp == stamp.normalize():
        return stamp.date().isoformat()  # a day reads as one: '2030-12-31'
    return stamp.isoformat()


def _ordered(low: Any, high: Any, dtype: str) -> bool:
    if dtype == "datetime":
        import pandas as pd

        low, high = pd.Timestamp(low), pd.Timestamp(high)
        if (low.tzinfo is None) != (high.tzinfo is None):  # naive reads as UTC
            low = low.tz_localize("UTC") if low.tzinfo is None else low
            high = high.tz_localize("UTC") if high.tzinfo is None else high
    return bool(low <= high)


@dataclasses.dataclass(frozen=True)
class ColumnContract:
    """What one column must hold.

    Attributes:
        name: Column name.
        dtype: ``float``, ``int``, ``str``, ``category``, ``bool`` or ``datetime``.
        nullable: Whether missing values are allowed.
        min: Smallest allowed value (inclusive): a number, or for a ``datetime`` column
            a date or time (held as ISO text, e.g. ``"2000-01-01"``). A row below it is
            quarantined.
        max: Largest allowed value (inclusive), like ``min``.
        categories: Allowed values (after normalisation) of a ``category`` column.
        aliases: Other spellings mapped to a category (``{"M": "male"}``); case and
            surrounding spaces never matter.
        unique: Whether every value must be distinct.
        pii: A personal column: shown masked in every display.
        date_format: ``strftime`` format of a ``datetime`` column in text sources
            (``None``: ISO 8601).
        description: Free text.
        warn_min: Below this (and not below ``min``) a value is unusual, not wrong: its
            row stays valid and the validation reports a warning. ``infer_contract``
            sets it to the smallest value it saw.
        warn_max: Above this, like ``warn_min``; ``infer_contract`` sets it to the
            largest value it saw (dates excepted: later dates are the normal course).
        bounds: ``"declared"`` (a person set ``min``/``max``: the default, and what a
            contract file without this field means) or ``"inferred"`` (proposed by
            ``infer_contract`` from what it saw, widened by a margin; reasons say so).
            Either way ``min``/``max`` quarantine; drop ``bounds: inferred`` from the
            YAML once a person has checked them.
    """

    name: str
    dtype: Dtype = "str"
    nullable: bool = True
    min: float | str | None = None
    max: float | str | None = None
    categories: tuple[str, ...] = ()
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    unique: bool = False
    pii: bool = False
    date_format: str | None = None
    description: str = ""
    warn_min: float | str | None = None
    warn_max: float | str | None = None
    bounds: Literal["declared", "inferred"] = "declared"

    def __post_init__(self) -> None:
        where = f"Column {self.name!r} of the contract"
        if self.dtype not in DTYPES:
            raise ConfigurationError(
                f"{where}: dtype must be one of {list(DTYPES)}. Got {self.dtype!r}."
            )
        if self.bounds not in BOUNDS:
            raise ConfigurationError(
                f"{where}: bounds must be one of {list(BOUNDS)}. Got {self.bounds!r}."
            )
        if self.dtype == "category" and not self.categories:
            raise ConfigurationError(f"{where} is a category column and needs its categories.")
        given = [f for f in _BOUND_FIELDS if getattr(self, f) is not None]
        if given and self.dtype not in _RANGED:
            raise ConfigurationError(
                f"{where}: min/max (and warn_min/warn_max) apply to float, int and datetime "
                f"columns only; this {self.dtype} column sets {', '.join(given)}."
            )
        for field in given:
            value = getattr(self, field)
            if self.dtype == "datetime":
                value = _date_bound(value, where, field)
            else:
                value = _number_bound(value, where, field)
            object.__setattr__(self, field, value)
        for low, high in (("min", "max"), ("warn_min", "warn_max")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and not _ordered(a, b, self.dtype):
                raise ConfigurationError(
                    f"{where}: {low} {show_bound(a)} is above {high} {show_bound(b)}."
                )
        unknown = sorted(set(self.aliases.values()) - set(self.categories))
        if unknown:
            raise ConfigurationError(
                f"{where}: aliases map to {unknown}, which are not among the categories "
                f"{list(self.categories)}."
            )
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "aliases", dict(self.aliases))

    def reason(self, side: Literal["min", "max"]) -> str:
        """Why a value beyond the bound on ``side`` fails: ``must be <= 100``, with
        ``(inferred bound)`` when the bound was inferred; ``must be finite`` for an
        infinite number where that side has no bound."""
        bound = getattr(self, side)
        if bound is None:
            return "must be finite"
        text = f"must be {'>=' if side == 'min' else '<='} {show_bound(bound)}"
        return f"{text} (inferred bound)" if self.bounds == "inferred" else text

    def warning(self, side: Literal["min", "max"]) -> str:
        """The soft check a value beyond ``warn_min``/``warn_max`` is reported under."""
        bound = getattr(self, f"warn_{side}")
        where = "below" if side == "min" else "above"
        return f"{where} warn_{side} {show_bound(bound)}"

    def beyond(
        self, values: pd.Series, side: Literal["min", "max"], *, soft: bool = False
    ) -> pd.Series:
        """Where a present value lies beyond this column's bound on ``side``.

        Args:
            values: The column (text is read as numbers or dates; what does not read
                is not beyond anything: that is the type check's business).
            side: ``"min"`` or ``"max"``.
            soft: Use ``warn_min``/``warn_max`` instead of ``min``/``max``.

        Returns:
            A boolean Series, False where the value is missing or the bound is unset.

        Example:
            >>> import pandas as pd
            >>> x = ColumnContract("x", "float", max=10)
            >>> x.beyond(pd.Series([5, 11, None]), "max").tolist()
            [False, True, False]
        """
        import pandas as pd

        bound = getattr(self, f"warn_{side}" if soft else side)
        if bound is None:
            return pd.Series(False, index=values.index)
        if self.dtype == "datetime":
            stamps = values
            if not pd.api.types.is_datetime64_any_dtype(values.dtype):
                stamps = pd.to_datetime(values, errors="coerce", format="ISO8601")
            limit = pd.Timestamp(bound)
            zone = getattr(stamps.dt, "tz", None)
            if zone is not None and limit.tzinfo is None:
                limit = limit.tz_localize(zone)  # a plain date in the column's own zone
            elif zone is None and limit.tzinfo is not None:
                limit = limit.tz_convert("UTC").tz_localize(None)  # plain times are UTC
            out = stamps < limit if side == "min" else stamps > limit
        else:
            numbers = values
            if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
                values.dtype
            ):
                numbers = pd.to_numeric(values, errors="coerce")
            out = numbers < bound if side == "min" else numbers > bound
        return out.fillna(False).astype(bool)

    def range_checks(self) -> list[pa.Check]:
        """The pandera checks of ``min`` and ``max`` (hard: a failing row is quarantined).

        A float column also refuses an infinite number on a side without a bound: it is
        a number, so not a type failure, but beyond any range.
        """
        import numpy as np
        import pandera.pandas as pa

        checks = []
        if self.dtype == "float" and (self.min is None or self.max is None):
            # one check for the unbounded sides (a bounded side refuses inf itself)
            refused = [v for v, b in ((-np.inf, self.min), (np.inf, self.max)) if b is None]
            checks.append(
                pa.Check(
                    lambda s: ~s.isin(refused),
                    name="finite",
                    error=self.reason("min" if self.min is None else "max"),
                )
            )
        sides: tuple[Literal["min", "max"], ...] = ("min", "max")
        for side in sides:
            bound = getattr(self, side)
            if bound is None:
                continue
            if self.dtype == "datetime":
                checks.append(
                    pa.Check(
                        lambda s, side=side: ~self.beyond(s, side),
                        name=side,
                        error=self.reason(side),
                    )
                )
            else:
                make = pa.Check.ge if side == "min" else pa.Check.le
                checks.append(make(bound, name=side, error=self.reason(side)))
        return checks


@dataclasses.dataclass(frozen=True)
class Rule:
    """A rule across columns that every row must satisfy.

    ``expr`` is a pandas ``DataFrame.eval`` expression that is true for a good row, such as
    ``"end >= start"``. As in SQL CHECK constraints, a row where a column of the rule is
    missing passes the rule (nullability is the column's own check).

    Attributes:
        name: Short name used in reports (``end_after_start``).
        expr: The boolean expression.
    """

    name: str
    expr: str

    @classmethod
    def implies(cls, name: str, condition: str, consequence: str) -> Rule:
        """``condition`` implies ``consequence``, e.g. ``gender == 'male'`` ⇒ ``~pregnant``.

        Example:
            >>> Rule.implies("male_not_pregnant", "gender == 'male'", "pregnant == False").expr
            "~(gender == 'male') | (pregnant == False)"
        """
        return cls(name, f"~({condition}) | ({consequence})")

    def columns(self, known: Sequence[str]) -> list[str]:
        """The known column names the expression mentions."""
        quoted = set(re.findall(r"`([^`]+)`", self.expr))  # `names with spaces`
        bare = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"", "", self.expr)
        words = set(_NAME.findall(bare)) | quoted
        return [c for c in known if c in words]

    def evaluate(self, frame: pd.DataFrame, known: Sequence[str]) -> pd.Series:
        """A boolean Series: True where the row satisfies the rule (or misses a column)."""
        try:
            result: Any = frame.eval(self.expr, engine="python")
        except Exception as exc:
            raise ConfigurationError(
                f"Rule {self.name!r} ({self.expr!r}) cannot be evaluated: {exc}"
            ) from exc
        involved = self.columns(known)
        missing = frame[involved].isna().any(axis=1) if involved else False
        ok: pd.Series = result.fillna(False).astype(bool) | missing
        return ok


@dataclasses.dataclass(frozen=True)
class Contract:
    """A table's data contract: columns, cross-column rules and dataset-level checks.

    Attributes:
        columns: One :class:`ColumnContract` per expected column, in order.
        rules: Cross-column :class:`Rule` objects.
        key: Columns that together identify a row (no two rows share a key).
        no_duplicate_rows: Whether fully identical rows are errors (when no ``key``).
        min_rows: Fewest rows a valid dataset may have.
        max_rows: Most rows a valid dataset may have.
        target: The label column, for the class-balance check.
        min_class_share: Warn when the rarest class of ``target`` is below this share.
        strict: Whether columns not in the contract are errors.
        name: The dataset's name.
        event_time: The datetime column that says when a row happened (its event time):
            monitoring cuts a served model's traffic into periods by it, where the
            requests carry it, instead of by when they arrived.
    """

    columns: tuple[ColumnContract, ...]
    rules: tuple[Rule, ...] = ()
    key: tuple[str, ...] = ()
    no_duplicate_rows: bool = True
    min_rows: int | None = None
    max_rows: int | None = None
    target: str | None = None
    min_class_share: float | None = None
    strict: bool = False
    name: str = ""
    event_time: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "key", tuple(self.key))
        names = self.names
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigurationError(f"The contract names columns {duplicated} twice.")
        for label, cols in (("key", self.key), ("target", (self.target,) if self.target else ())):
            absent = [c for c in cols if c not in names]
            if absent:
                raise ConfigurationError(f"The contract's {label} {absent} is not among {names}.")
        if self.event_time is not None and self.event_time not in names:
            raise ConfigurationError(
                f"The contract's event_time {self.event_time!r} is not among {names}."
            )
        if self.event_time is not None and self.column(self.event_time).dtype != "datetime":
            raise ConfigurationError(
                f"The contract's event_time {self.event_time!r} must be a datetime column; "
                f"it is {self.column(self.event_time).dtype!r}."
            )
        if self.min_class_share is not None and not 0 < self.min_class_share < 1:
            raise ConfigurationError(
                f"min_class_share must be in (0, 1). Got {self.min_class_share!r}."
            )

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pii_columns(self) -> list[str]:
        """Columns marked personal, masked in every display."""
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> ColumnContract:
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(f"The contract has no column {name!r}. Columns: {self.names}.")

    # ------------------------------------------------------------------ YAML
    def to_dict(self) -> dict[str, Any]:
        """A plain dict with only the non-default fields (what the YAML shows)."""

        def lean(obj: Any) -> dict[str, Any]:
            out = {}
            for field in dataclasses.fields(obj):
                value = getattr(obj, field.name)
                default = (
                    field.default_factory()
                    if field.default_factory is not dataclasses.MISSING
                    else field.default
                )
                if field.name in ("name",) or value != default:
                    if isinstance(value, tuple):
                        value = list(value)
                    elif isinstance(value, Mapping):
                        value = dict(value)
                    out[field.name] = value
            return out

        doc = lean(self)
        doc["columns"] = [lean(c) for c in self.columns]
        if self.rules:
            doc["rules"] = [dataclasses.asdict(r) for r in self.rules]
        return doc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "contract") -> Contract:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"{source}: unknown contract field(s) {unknown}.")
        try:
            columns = tuple(ColumnContract(**c) for c in data.get("columns", ()))
            rules = tuple(Rule(**r) for r in data.get("rules", ()))
        except TypeError as exc:
            raise ConfigurationError(f"{source}: {exc}") from exc
        rest = {k: v for k, v in data.items() if k not in ("columns", "rules")}
        return cls(columns=columns, rules=rules, **rest)

    def save(self, path: str | Path) -> Path:
        """Write the contract as YAML (editable by hand) and return the path."""
        yaml = require("yaml", feature="data contracts")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))
        return target

    @classmethod
    def load(cls, path: str | Path) -> Contract:
        """Read a contract written by :meth:`save` (or by hand).

        Raises:
            ConfigurationError: The file is missing, not YAML, or not a contract.
        """
        yaml = require("yaml", feature="data contracts")
        source = Path(path)
        if not source.is_file():
            raise ConfigurationError(f"No contract at {source}.")
        try:
            data = yaml.safe_load(source.read_text())
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{source} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigurationError(f"{source} does not hold a contract (a mapping).")
        return cls.from_dict(data, source=str(source))

    # ------------------------------------------------------------------ pandera
    def to_pandera(self) -> pa.DataFrameSchema:
        """The pandera schema that checks typed data against this contract.

        Types are checked, not coerced: coercion (which records each cell it could not
        convert) happens before, in :func:`workbench.data.coerce`.
        """
        import pandas as pd
        import pandera.pandas as pa

        # Types are settled by coercion; pandera checks the numeric ones again. Text,
        # category and datetime columns carry no dtype here: unknown categories stay as
        # written so the category check can name them, and datetime units vary.
        dtypes: dict[str, Any] = {
            "float": "float64",
            "int": pd.Int64Dtype(),
            "bool": pd.BooleanDtype(),
        }
        columns = {}
        for c in self.columns:
            checks = c.range_checks()
            if c.dtype == "category":
                checks.append(
                    pa.Check.isin(
                        list(c.categories),
                        name="category",
                        error=f"not one of {sorted(c.categories)}",
                    )
                )
            dtype = dtypes.get(c.dtype)
            columns[c.name] = pa.Column(
                dtype,
                checks=checks,
                nullable=c.nullable,
                unique=c.unique,
                report_duplicates="exclude_first",
                required=True,
            )
        names = self.names
        frame_checks = [
            pa.Check(
                (lambda df, rule=rule: rule.evaluate(df, names)),
                name=f"rule:{rule.name}",
                error=f"rule {rule.name}: {rule.expr}",
            )
            for rule in self.rules
        ]
        unique = list(self.key) or (names if self.no_duplicate_rows else None)
        schema: pa.DataFrameSchema = pa.DataFrameSchema(
            columns,
            checks=frame_checks,
            unique=unique,
            report_duplicates="exclude_first",
            strict=self.strict,
            name=self.name or None,
        )
        return schema
