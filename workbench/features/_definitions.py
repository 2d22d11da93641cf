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
            out["url"] = _without_password(self.url)
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


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class Transformation:
    """A step that adds feature columns to a view's rows, as of each row's event time.

    Subclasses set :attr:`outputs` and implement :meth:`apply`, which receives the rows
    sorted by entity keys and event time and returns them with the outputs added.
    """

    outputs: tuple[str, ...] = ()

    def apply(
        self, frame: pd.DataFrame, keys: Sequence[str], time: str, country: str
    ) -> pd.DataFrame:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: what the registry fingerprints."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Calendar(Transformation):
    """Calendar features of a datetime column (the view's event time by default).

    Outputs any of ``day_of_week`` (Monday = 0), ``month``, ``is_weekend`` and
    ``is_holiday`` (a national holiday of ``country``, by default the ``country``
    setting), each prefixed by ``prefix``.
    """

    column: str | None = None
    features: tuple[str, ...] = CALENDAR_OUTPUTS
    country: str | None = None
    prefix: str = ""

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
        self, frame: pd.DataFrame, keys: Sequence[str], time: str, country: str
    ) -> pd.DataFrame:
        from workbench.features._calendar import add_calendar_features

        column = self.column or time
        marked = add_calendar_features(frame, column, country=self.country or country)
        times = marked[column].dt
        values = {
            "day_of_week": marked["day_of_week"],
            "month": times.month.astype("int64"),
            "is_weekend": marked["day_of_week"] >= 5,
            "is_holiday": marked["is_holiday"],
        }
        out = frame.copy()
        for feature in self.features:
            out[self.prefix + feature] = values[feature].to_numpy()
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "type": "calendar",
            "column": self.column,
            "features": list(self.features),
            "country": self.country,
            "prefix": self.prefix,
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
        self, frame: pd.DataFrame, keys: Sequence[str], time: str, country: str
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

    @property
    def outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.name or f"{self.column}_{self.days}d_{self.agg}",)

    def apply(
        self, frame: pd.DataFrame, keys: Sequence[str], time: str, country: str
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
    row's own and earlier values (the store cannot check a function for look-ahead). Its
    source code is part of the view's fingerprint, so editing it makes a new version.
    """

    func: Callable[[pd.DataFrame], Any]
    outputs: tuple[str, ...]

    def __init__(self, func: Callable[[pd.DataFrame], Any], outputs: str | Sequence[str]):
        object.__setattr__(self, "func", func)
        object.__setattr__(self, "outputs", _names(outputs))

    def apply(
        self, frame: pd.DataFrame, keys: Sequence[str], time: str, country: str
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
        out = frame.copy()
        for column in self.outputs:
            out[column] = result[column].to_numpy()
        return out

    def describe(self) -> dict[str, Any]:
        try:
            code = inspect.getsource(self.func)
        except (OSError, TypeError):
            code = getattr(self.func, "__qualname__", repr(self.func))
        return {
            "type": "custom",
            "function": getattr(self.func, "__qualname__", repr(self.func)),
            "code_sha256": hashlib.sha256(code.encode()).hexdigest(),
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
        ttl: How old a value may be and still be served; ``None``: no limit.
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
        if self.ttl is not None and self.ttl <= dt.timedelta(0):
            raise ConfigurationError(
                f"Feature view {self.name!r}: ttl must be positive or None. Got {self.ttl}."
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
            "ttl_seconds": None if self.ttl is None else self.ttl.total_seconds(),
            "features": list(self.features),
            "transformations": [t.describe() for t in self.transformations],
            "feature_names": list(self.feature_names),
        }

    def fingerprint(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def compute(self, rows: pd.DataFrame, country: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The view's feature rows from its source rows, and the rows it could not use.

        Rows without a key or an event time cannot be placed in time: they are returned
        apart with ``_reason``. Event times become UTC without a time zone when they had
        one. Transformations see every usable row, so windows reach back before any
        materialization range.

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
        frame = rows.copy()
        for column in filter(None, (self.timestamp, self.created_timestamp)):
            frame[column] = _as_utc_naive(frame[column], f"{self.name}.{column}")
        no_time = frame[self.timestamp].isna()
        no_key = frame[list(self.keys)].isna().any(axis=1)
        bad = no_time | no_key
        rejected = rows[bad.to_numpy()].copy()
        rejected["_reason"] = [
            f"no event time ({self.timestamp} is empty)"
            if t
            else f"no entity key ({', '.join(self.keys)} empty)"
            for t in no_time[bad]
        ]
        frame = frame[~bad].sort_values([*self.keys, self.timestamp], kind="stable")
        for step in self.transformations:
            frame = step.apply(frame, self.keys, self.timestamp, country)
        columns = [*self.keys, self.timestamp]
        if self.created_timestamp:
            columns.append(self.created_timestamp)
        frame = frame[columns + list(self.feature_names)].reset_index(drop=True)
        return frame, pd.DataFrame(rejected).reset_index(drop=True)


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
