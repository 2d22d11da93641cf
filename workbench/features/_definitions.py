"""Feature definitions as code: entities, sources, transformations and feature views.

A project declares them in its ``features.py``; :class:`~workbench.features.FeatureStore`
registers them (a version per definition and source content) and materializes them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError
from workbench._urls import redact_url
from workbench.features._windows import AGGREGATIONS, add_trailing

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Calendar",
    "Custom",
    "Entity",
    "FeatureView",
    "Lag",
    "Source",
    "Transformation",
    "Window",
    "load_definitions",
]

CALENDAR_OUTPUTS = ("day_of_week", "month", "is_weekend", "is_holiday")
#: The longest span the store computes with: pandas' ``Timedelta.max`` (int64
#: nanoseconds, about 292 years) in whole days. A longer TTL or window cannot be
#: applied to a timestamp; ``ttl=None`` means no limit.
MAX_SPAN = dt.timedelta(days=106_751)


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclasses.dataclass(frozen=True)
class Entity:
    """What features describe (a factory, a customer), identified by its join keys.

    Example:
        >>> Entity("factory", "factory_id").join_keys
        ('factory_id',)
    """

    name: str
    join_keys: tuple[str, ...]
    description: str = ""

    def __init__(self, name: str, join_keys: str | Sequence[str], description: str = ""):
        keys = _names(join_keys)
        if not keys:
            raise ConfigurationError(f"Entity {name!r} needs at least one join key.")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "join_keys", keys)
        object.__setattr__(self, "description", description)


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a feature view's raw rows come from.

    Build one with :meth:`parquet`, :meth:`csv`, :meth:`sql` or :meth:`frame`. Relative
    paths are taken relative to the project folder.
    """

    kind: str
    path: str | None = None
    url: str | None = None
    query: str | None = None
    name: str | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data: Any = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def parquet(cls, path: str | Path) -> Source:
        """A Parquet file (or a folder of Parquet files)."""
        return cls("parquet", path=str(path))

    @classmethod
    def csv(cls, path: str | Path, *, contract: Any = None, **read_options: Any) -> Source:
        """A CSV file; with a data ``contract`` only its valid rows are used."""
        options = dict(read_options)
        if contract is not None:
            options["contract"] = contract
        return cls("csv", path=str(path), options=options)

    @classmethod
    def sql(cls, url: str, query: str) -> Source:
        """The rows of a SQL ``query`` on a SQLAlchemy ``url``."""
        return cls("sql", url=url, query=query)

    @classmethod
    def frame(cls, data: pd.DataFrame, name: str) -> Source:
        """A DataFrame held in memory, under a ``name`` for the registry."""
        return cls("frame", name=name, data=data)

    def identity(self) -> dict[str, Any]:
        """What names this source in the registry (never a password)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.path is not None:
            out["path"] = self.path
        if self.url is not None:
            out["url"] = redact_url(self.url)
        if self.query is not None:
            out["query"] = self.query
        if self.name is not None:
            out["name"] = self.name
        options = {k: v for k, v in self.options.items() if k != "contract"}
        if options:
            out["options"] = {k: repr(v) for k, v in sorted(options.items())}
        if "contract" in self.options:
            out["contract"] = getattr(self.options["contract"], "name", "contract")
        return out

    def read(self, project_dir: Path) -> pd.DataFrame:
        """The source's rows.

        Raises:
            DataError: The file or table cannot be read; the message names it.
        """
        import pandas as pd

        if self.kind == "frame":
            if not isinstance(self.data, pd.DataFrame):
                raise DataError(f"Source {self.name!r} holds no DataFrame.")
            return self.data
        if self.kind == "sql":
            from workbench.data import load

            return load(str(self.url), query=self.query)
        path = Path(str(self.path))
        path = path if path.is_absolute() else project_dir / path
        if not path.exists():
            raise DataError(f"The feature source {path} does not exist.")
        if self.kind == "parquet":
            try:
                return pd.read_parquet(path)
            except Exception as exc:
                raise DataError(f"Cannot read the Parquet source {path}: {exc}") from exc
        if self.kind == "csv":
            options = dict(self.options)
            contract = options.pop("contract", None)
            if contract is not None:
                from workbench.data import load, validate

                result = validate(load(path, contract=contract), contract, source=str(path))
                valid: pd.DataFrame = result.valid.drop(columns="_row", errors="ignore")
                return valid
            try:
                read: pd.DataFrame = pd.read_csv(path, **options)
                return read
            except Exception as exc:
                raise DataError(f"Cannot read the CSV source {path}: {exc}") from exc
        raise ConfigurationError(
            f"Unknown source kind {self.kind!r}; use Source.parquet, .csv, .sql or .frame."
        )


class Transformation:
    """A step that adds feature columns to a view's rows, as of each row's event time.

    Subclasses set :attr:`outputs` and implement :meth:`apply`, which receives the rows
    sorted by entity keys and event time and returns them with the outputs added.
    """

    outputs: tuple[str, ...] = ()

    def apply(
        self,
        frame: pd.DataFrame,
        keys: Sequence[str],
        time: str,
        country: str,
        zones: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """Add the outputs. ``zones``: the source time zone of each datetime column that
        had one (the column itself now holds UTC)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: what the registry fingerprints."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Calendar(Transformation):
    """Calendar features of a datetime column (the view's event time by default).

    Outputs any of ``day_of_week`` (Monday = 0), ``month``, ``is_weekend`` and
    ``is_holiday`` (a national holiday of ``country``, by default the ``country``
    setting), each prefixed by ``prefix``. Days are local: in ``tz`` when given, else in
    the source column's own time zone (UTC when it had none).
    """

    column: str | None = None
    features: tuple[str, ...] = CALENDAR_OUTPUTS
    country: str | None = None
    prefix: str = ""
    tz: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.features) - set(CALENDAR_OUTPUTS))
        if unknown:
            raise ConfigurationError(
                f"Calendar features {unknown} are unknown. Known: {list(CALENDAR_OUTPUTS)}."
            )

    @property
    def outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.prefix + f for f in self.features)

    def apply(
        self,
        frame: pd.DataFrame,
        keys: Sequence[str],
        time: str,
        country: str,
        zones: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        import pandas as pd

        from workbench.features._calendar import add_calendar_features

        column = self.column or time
        times = frame[column]
        zone = self.tz or (zones or {}).get(column)
        if zone is not None and times.dt.tz is None:  # UTC now: back to local days
            times = times.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)
        known = times.notna()
        marked = add_calendar_features(
            pd.DataFrame({"t": times[known]}), "t", country=self.country or country
        )
        values = {
            "day_of_week": marked["day_of_week"],
            "month": marked["t"].dt.month.astype("int64"),
            "is_weekend": marked["day_of_week"] >= 5,
            "is_holiday": marked["is_holiday"],
        }
        out = frame.copy()
        for feature in self.features:
            column_values = values[feature].reindex(frame.index)
            if not known.all():  # an unknown day has unknown calendar features
                nullable = "boolean" if column_values.dtype == object else "Int64"
                column_values = column_values.astype(nullable)
            out[self.prefix + feature] = column_values
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "type": "calendar",
            "column": self.column,
            "features": list(self.features),
            "country": self.country,
            "prefix": self.prefix,
            "tz": self.tz,
        }


@dataclasses.dataclass(frozen=True)
class Lag(Transformation):
    """The value of ``column`` ``periods`` rows earlier for the same entity."""

    column: str
    periods: int = 1
    name: str | None = None

    def __post_init__(self) -> None:
        if self.periods < 1:
            raise ConfigurationError(f"Lag periods must be at least 1. Got {self.periods}.")

    @property
    def outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.name or f"{self.column}_lag{self.periods}",)

    def apply(
        self,
        frame: pd.DataFrame,
        keys: Sequence[str],
        time: str,
        country: str,
        zones: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        out = frame.copy()
        grouped = out.groupby(list(keys), sort=False, observed=True)[self.column]
        out[self.outputs[0]] = grouped.shift(self.periods)
        return out

    def describe(self) -> dict[str, Any]:
        return {"type": "lag", "column": self.column, "periods": self.periods, "name": self.name}


@dataclasses.dataclass(frozen=True)
class Window(Transformation):
    """``agg`` of ``column`` over the ``days`` days strictly before each event time."""

    column: str
    days: int
    agg: str = "mean"
    name: str | None = None

    def __post_init__(self) -> None:
        if self.agg not in AGGREGATIONS:
            raise ConfigurationError(
                f"Window agg must be one of {list(AGGREGATIONS)}. Got {self.agg!r}."
            )
        if self.days < 1:
            raise ConfigurationError(f"Window days must be at least 1. Got {self.days}.")
        if self.days > MAX_SPAN.days:
            raise ConfigurationError(
                f"Window days must be at most {MAX_SPAN.days:,} (about 292 years, the longest "
                f"span pandas computes with). Got {self.days!r}."
            )

    @property
    def outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.name or f"{self.column}_{self.days}d_{self.agg}",)

    def apply(
        self,
        frame: pd.DataFrame,
        keys: Sequence[str],
        time: str,
        country: str,
        zones: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        return add_trailing(
            frame,
            entity=list(keys),
            time=time,
            value=self.column,
            days=self.days,
            agg=self.agg,
            name=self.outputs[0],
        )

    def describe(self) -> dict[str, Any]:
        return {
            "type": "window",
            "column": self.column,
            "days": self.days,
            "agg": self.agg,
            "name": self.name,
        }


@dataclasses.dataclass(frozen=True)
class Custom(Transformation):
    """A user function ``func(rows) -> DataFrame | Series`` giving the ``outputs``.

    ``rows`` are sorted by entity keys and event time; the function must use only each
    row's own and earlier values (the store cannot check a function for look-ahead). A
    result with the same index labels in another order is aligned by label; otherwise
    it is taken in row order. The view's fingerprint covers the function's code, its
    default arguments, and the values it closes over or reads from module globals
    (functions among them, recursively), so changing any of these makes a new version;
    a change inside an imported library is not seen.
    """

    func: Callable[[pd.DataFrame], Any]
    outputs: tuple[str, ...]

    def __init__(self, func: Callable[[pd.DataFrame], Any], outputs: str | Sequence[str]):
        object.__setattr__(self, "func", func)
        object.__setattr__(self, "outputs", _names(outputs))

    def apply(
        self,
        frame: pd.DataFrame,
        keys: Sequence[str],
        time: str,
        country: str,
        zones: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        import pandas as pd

        name = getattr(self.func, "__qualname__", repr(self.func))
        result = self.func(frame.copy())
        if isinstance(result, pd.Series):
            result = result.to_frame(self.outputs[0])
        if not isinstance(result, pd.DataFrame) or len(result) != len(frame):
            raise DataError(
                f"The transformation {name} must return a DataFrame or Series of "
                f"{len(frame)} rows. Got {type(result).__name__} of "
                f"{len(result) if hasattr(result, '__len__') else '?'} rows."
            )
        missing = [c for c in self.outputs if c not in result.columns]
        if missing:
            raise DataError(
                f"The transformation {name} did not return its outputs {missing}. "
                f"It returned {list(result.columns)}."
            )
        if not result.index.equals(frame.index) and result.index.sort_values().equals(
            frame.index.sort_values()
        ):  # same rows in another order (a groupby, a sort): align by label
            result = result.reindex(frame.index)
        out = frame.copy()
        for column in self.outputs:
            out[column] = result[column].to_numpy()
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "type": "custom",
            "function": getattr(self.func, "__qualname__", repr(self.func)),
            "code_sha256": _function_fingerprint(self.func),
            "outputs": list(self.outputs),
        }


@dataclasses.dataclass(frozen=True)
class FeatureView:
    """Features of one entity from one source, valid as of each row's event time.

    Attributes:
        name: The view's name (letters, digits, ``_``).
        entity: The entity the rows describe.
        source: Where the rows come from.
        timestamp: The event-time column: when each value became true.
        features: Source columns served as they are.
        transformations: Steps adding computed features (calendar, lags, windows, yours).
        ttl: How old a value may be and still be served; ``None``: no limit. At most
            :data:`MAX_SPAN` (about 292 years).
        created_timestamp: A column breaking ties between rows of one key and event time
            (the latest created wins).
        description: Free text, not part of the fingerprint.
        tags: Free labels, not part of the fingerprint.
    """

    name: str
    entity: Entity
    source: Source
    timestamp: str
    features: tuple[str, ...] = ()
    transformations: tuple[Transformation, ...] = ()
    ttl: dt.timedelta | None = None
    created_timestamp: str | None = None
    description: str = ""
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalnum():
            raise ConfigurationError(
                f"A feature view name must be letters, digits and '_'. Got {self.name!r}."
            )
        object.__setattr__(self, "features", _names(self.features))
        object.__setattr__(self, "transformations", tuple(self.transformations))
        if self.ttl is not None:
            if not isinstance(self.ttl, dt.timedelta):
                raise ConfigurationError(
                    f"Feature view {self.name!r}: ttl must be a datetime.timedelta or None "
                    f"(no limit). Got {self.ttl!r}."
                )
            if self.ttl <= dt.timedelta(0):
                raise ConfigurationError(
                    f"Feature view {self.name!r}: ttl must be positive or None. Got {self.ttl}."
                )
            if self.ttl > MAX_SPAN:
                raise ConfigurationError(
                    f"Feature view {self.name!r}: ttl must be at most {MAX_SPAN.days:,} days "
                    f"(about 292 years: pandas' Timedelta.max, the longest span a point-in-time "
                    f"join computes with); use ttl=None for no limit. Got {self.ttl}."
                )
        names = self.feature_names
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ConfigurationError(f"Feature view {self.name!r} names {doubled} twice.")
        clash = sorted(set(names) & {*self.entity.join_keys, self.timestamp})
        if clash:
            raise ConfigurationError(
                f"Feature view {self.name!r}: features {clash} clash with its keys or time."
            )

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Served features: the source columns, then each transformation's outputs."""
        return self.features + tuple(o for t in self.transformations for o in t.outputs)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.entity.join_keys

    def definition(self) -> dict[str, Any]:
        """The JSON-able definition the registry fingerprints (no description or tags)."""
        return {
            "name": self.name,
            "entity": {"name": self.entity.name, "join_keys": list(self.entity.join_keys)},
            "source": self.source.identity(),
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
            "ttl_us": None if self.ttl is None else self.ttl // dt.timedelta(microseconds=1),
            "features": list(self.features),
            "transformations": [t.describe() for t in self.transformations],
            "feature_names": list(self.feature_names),
        }

    def fingerprint(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def compute(self, rows: pd.DataFrame, country: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The view's feature rows from its source rows, and the rows it could not use.

        Rows without a key or an event time cannot be placed in time, and of several rows
        with one key and event time only the latest created one counts (a missing created
        time counts as oldest; without a created column, the last in source order): the
        others are returned apart with ``_reason``, before any transformation sees them.
        Transformations see every remaining row, so windows reach back before any
        materialization range; calendar features use the source's own time zone. Event
        times are then stored in UTC without a time zone, and categorical columns as
        plain values.

        Raises:
            DataError: A column the view names is absent, or the event time is not a
                date/time; the message names the view and the column.
        """
        import pandas as pd

        needed = [*self.keys, self.timestamp, *self.features]
        if self.created_timestamp:
            needed.append(self.created_timestamp)
        absent = [c for c in needed if c not in rows.columns]
        if absent:
            raise DataError(
                f"Feature view {self.name!r}: columns {absent} are absent from its source "
                f"{self.source.identity()}. Columns: {list(rows.columns)}."
            )
        frame = rows.reset_index(drop=True)
        zones: dict[str, str] = {}
        for column in filter(None, (self.timestamp, self.created_timestamp)):
            zone = getattr(getattr(frame[column], "dt", None), "tz", None)
            if zone is not None:
                zones[column] = str(zone)
            frame[column] = _as_utc_naive(frame[column], f"{self.name}.{column}")
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.CategoricalDtype):
                frame[column] = frame[column].astype(frame[column].cat.categories.dtype)
        no_time = frame[self.timestamp].isna()
        no_key = frame[list(self.keys)].isna().any(axis=1)
        bad = (no_time | no_key).to_numpy()
        reasons = [
            f"no event time ({self.timestamp} is empty)"
            if t
            else f"no entity key ({', '.join(self.keys)} empty)"
            for t in no_time[bad]
        ]
        rejected = rows.reset_index(drop=True)[bad].assign(_reason=reasons)
        frame = frame[~bad]
        order = [*self.keys, self.timestamp]
        if self.created_timestamp:  # NaT first: an unknown created time is the oldest
            frame = frame.sort_values(self.created_timestamp, kind="stable", na_position="first")
        frame = frame.sort_values(order, kind="stable")
        latest = ~frame.duplicated(order, keep="last")
        if not latest.all():
            superseded = rows.reset_index(drop=True).loc[frame.index[~latest.to_numpy()]]
            superseded = superseded.assign(
                _reason=f"superseded: a later-{'created' if self.created_timestamp else 'listed'} "
                f"row has the same {', '.join(self.keys)} and {self.timestamp}"
            )
            rejected = pd.concat([rejected, superseded])
            frame = frame[latest.to_numpy()]
        for step in self.transformations:
            frame = step.apply(frame, self.keys, self.timestamp, country, zones=zones)
        columns = [*self.keys, self.timestamp]
        if self.created_timestamp:
            columns.append(self.created_timestamp)
        frame = frame[columns + list(self.feature_names)].reset_index(drop=True)
        return frame, pd.DataFrame(rejected).reset_index(drop=True)


def _function_fingerprint(func: Any, seen: set[int] | None = None) -> str:
    """A hash of what a function computes: code, constants, defaults, and the values of
    the names it closes over or reads from its module (functions hashed recursively)."""
    import types

    seen = seen if seen is not None else set()
    digest = hashlib.sha256()
    if id(func) in seen:
        return "recursive"
    seen.add(id(func))
    code = getattr(func, "__code__", None)
    if code is None:  # a callable object, a builtin
        digest.update(repr(func).encode())
        return digest.hexdigest()

    def add_code(c: types.CodeType) -> None:
        digest.update(c.co_code)
        digest.update(repr(c.co_names).encode())
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                add_code(const)
            else:
                digest.update(repr(const).encode())

    add_code(code)
    digest.update(repr(getattr(func, "__defaults__", None)).encode())
    digest.update(repr(getattr(func, "__kwdefaults__", None)).encode())
    try:
        names = inspect.getclosurevars(func)
    except (TypeError, ValueError):
        return digest.hexdigest()
    for scope in (names.nonlocals, names.globals):
        for name, value in sorted(scope.items()):
            digest.update(name.encode())
            if isinstance(value, types.ModuleType):
                digest.update(value.__name__.encode())
            elif callable(value) and hasattr(value, "__code__"):
                digest.update(_function_fingerprint(value, seen).encode())
            else:
                digest.update(repr(value).encode())
    return digest.hexdigest()


def _as_utc_naive(series: pd.Series, where: str) -> pd.Series:
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series, format="ISO8601")
        except (ValueError, TypeError) as exc:
            example = series.dropna().astype(str).head(1).tolist()
            raise DataError(
                f"{where} must hold dates or times; {example[:1]} is not one ({exc})."
            ) from None
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[ns]")


def load_definitions(path: str | Path) -> dict[str, FeatureView]:
    """The feature views a ``features.py`` declares (module-level names), by name.

    Raises:
        ConfigurationError: The file is missing, fails to run, or declares one view
            name twice.
    """
    import runpy

    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(
            f"No feature definitions at {path}. Declare Entity, Source and FeatureView "
            f"objects in a features.py at the project root."
        )
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:
        raise ConfigurationError(f"{path} failed to run: {type(exc).__name__}: {exc}") from exc
    views: dict[str, FeatureView] = {}
    for value in namespace.values():
        if isinstance(value, FeatureView):
            if value.name in views and views[value.name] != value:
                raise ConfigurationError(f"{path} declares the feature view {value.name!r} twice.")
            views[value.name] = value
    return views
