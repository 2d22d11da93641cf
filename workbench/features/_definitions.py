"""Feature definitions as code: entities and feature views.

A project declares them in its ``features.py`` (:func:`load_definitions` reads it), with
a :class:`~workbench.features.Source` for the rows (:mod:`._sources`) and
transformations (:mod:`._transformations`); :class:`~workbench.features.FeatureStore`
registers them (a version per definition and source content) and the engine
(:mod:`._engine`) computes them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError
from workbench.features._fingerprints import definition_fingerprint
from workbench.features._renamed import renamed_keywords
from workbench.features._sources import Source
from workbench.features._times import MAX_SPAN
from workbench.features._transformations import Calendar, Transformation

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Entity", "FeatureView", "load_definitions", "registered_definition"]


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


@renamed_keywords(timestamp="time_column")
@dataclasses.dataclass(frozen=True)
class FeatureView:
    """Features of one entity from one source, valid as of each row's event time.

    Attributes:
        name: The view's name (letters, digits, ``_``).
        entity: The entity the rows describe.
        source: Where the rows come from.
        time_column: The event-time column: when each value became true (``timestamp=``
            is its old name, still accepted with a DeprecationWarning).
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
    time_column: str
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
        clash = sorted(set(names) & {*self.entity.join_keys, self.time_column})
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

    @property
    def timestamp(self) -> str:
        """The old name of :attr:`time_column`."""
        warnings.warn(
            "FeatureView.timestamp is renamed FeatureView.time_column; timestamp will be removed.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.time_column

    def definition(self) -> dict[str, Any]:
        """The JSON-able definition the registry fingerprints (no description or tags)."""
        return {
            "name": self.name,
            "entity": {"name": self.entity.name, "join_keys": list(self.entity.join_keys)},
            "source": self.source.identity(),
            "timestamp": self.time_column,  # the registry's name, fingerprinted
            "created_timestamp": self.created_timestamp,
            "ttl_us": None if self.ttl is None else self.ttl // dt.timedelta(microseconds=1),
            "features": list(self.features),
            "transformations": [t.describe() for t in self.transformations],
            "feature_names": list(self.feature_names),
        }

    def fingerprint(self) -> str:
        """The hash of :meth:`definition`."""
        return definition_fingerprint(self.definition())

    def compute(self, rows: pd.DataFrame, country: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The view's feature rows from its source rows, and the rows it could not use
        (with ``_reason``), as the engine computes them for ``materialize``.

        The engine (:func:`workbench.features._engine.compute_view`) says which rows are
        set apart and how times are stored.

        Raises:
            DataError: A column the view names is absent, or the event time is not a
                date/time; the message names the view and the column.
        """
        from workbench.features._engine import compute_view

        return compute_view(self, rows, country)


def registered_definition(view: FeatureView, country: str) -> dict[str, Any]:
    """The definition a version registers: :meth:`FeatureView.definition` and the
    ``country`` setting when a calendar uses it (None otherwise), so that a new country
    makes a new version of a view whose holidays follow the setting."""
    definition = view.definition()
    uses_setting = any(isinstance(t, Calendar) and t.country is None for t in view.transformations)
    definition["country"] = country if uses_setting else None
    return definition


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
