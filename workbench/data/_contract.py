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

__all__ = ["DTYPES", "ColumnContract", "Contract", "Rule"]

Dtype = Literal["float", "int", "str", "category", "bool", "datetime"]
DTYPES: tuple[str, ...] = ("float", "int", "str", "category", "bool", "datetime")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class ColumnContract:
    """What one column must hold.

    Attributes:
        name: Column name.
        dtype: ``float``, ``int``, ``str``, ``category``, ``bool`` or ``datetime``.
        nullable: Whether missing values are allowed.
        min: Smallest allowed value (inclusive; numbers).
        max: Largest allowed value (inclusive; numbers).
        categories: Allowed values (after normalisation) of a ``category`` column.
        aliases: Other spellings mapped to a category (``{"M": "male"}``); case and
            surrounding spaces never matter.
        unique: Whether every value must be distinct.
        pii: A personal column: shown masked in every display.
        date_format: ``strftime`` format of a ``datetime`` column in text sources
            (``None``: ISO 8601).
        description: Free text.
    """

    name: str
    dtype: Dtype = "str"
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    unique: bool = False
    pii: bool = False
    date_format: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        where = f"Column {self.name!r} of the contract"
        if self.dtype not in DTYPES:
            raise ConfigurationError(
                f"{where}: dtype must be one of {list(DTYPES)}. Got {self.dtype!r}."
            )
        if self.dtype == "category" and not self.categories:
            raise ConfigurationError(f"{where} is a category column and needs its categories.")
        if (self.min is not None or self.max is not None) and self.dtype not in ("float", "int"):
            raise ConfigurationError(f"{where}: min/max apply to float and int columns only.")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigurationError(f"{where}: min {self.min} is above max {self.max}.")
        unknown = sorted(set(self.aliases.values()) - set(self.categories))
        if unknown:
            raise ConfigurationError(
                f"{where}: aliases map to {unknown}, which are not among the categories "
                f"{list(self.categories)}."
            )
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "aliases", dict(self.aliases))


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
            checks = []
            if c.min is not None:
                checks.append(pa.Check.ge(c.min, name="min", error=f"must be >= {c.min:g}"))
            if c.max is not None:
                checks.append(pa.Check.le(c.max, name="max", error=f"must be <= {c.max:g}"))
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
