"""Transformations: steps that add feature columns to a view's rows, as of each row's
event time (calendar days, lags, trailing windows, and the user's own functions).

Each step is declared here with what the registry fingerprints (:meth:`describe`) and
what it computes (:meth:`apply`); the computing is done by :mod:`._calendar` and
:mod:`._windows`, and the engine (:mod:`._engine`) runs the steps in order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError
from workbench.features._fingerprints import function_fingerprint
from workbench.features._times import MAX_SPAN
from workbench.features._windows import AGGREGATIONS, add_trailing

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CALENDAR_OUTPUTS", "Calendar", "Custom", "Lag", "Transformation", "Window"]

CALENDAR_OUTPUTS = ("day_of_week", "month", "is_weekend", "is_holiday")


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
        time_column: str,
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
        time_column: str,
        country: str,
        zones: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        import pandas as pd

        from workbench.features._calendar import add_calendar_features

        column = self.column or time_column
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
        time_column: str,
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
        time_column: str,
        country: str,
        zones: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        return add_trailing(
            frame,
            entity=list(keys),
            time_column=time_column,
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
        object.__setattr__(
            self, "outputs", (outputs,) if isinstance(outputs, str) else tuple(outputs)
        )

    def apply(
        self,
        frame: pd.DataFrame,
        keys: Sequence[str],
        time_column: str,
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
            "code_sha256": function_fingerprint(self.func),
            "outputs": list(self.outputs),
        }
