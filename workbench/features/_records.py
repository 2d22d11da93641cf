"""Typed records of the feature registry: a view version, its definition, source, runs
and online load, each read from and written back to the registry's JSON as it is.

``registry.json`` (see :mod:`._registry`) holds, per view, its versions. A version's
record is a :class:`ViewVersion`; ``ViewVersion.from_json(record).to_json() == record``
for every record a workbench has written, so a record read and returned (as
:meth:`FeatureStore.lineage` does) is the stored one. The JSON names are kept as they are
in the files (``"timestamp"`` for :attr:`ViewDefinition.time_column`): they are part of
the fingerprint of every stored version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from workbench._exceptions import ConfigurationError

__all__ = ["OnlineLoad", "Run", "SourceSnapshot", "ViewDefinition", "ViewEntry", "ViewVersion"]


def _get(data: Any, key: str, where: str) -> Any:
    """``data[key]``, or an error naming the record and the field."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"{where} must be a JSON object. Got {type(data).__name__}: {data!r:.80}."
        )
    if key not in data:
        raise ConfigurationError(
            f"{where} has no field {key!r} (fields: {sorted(data)}): it was not written by "
            f"this workbench's feature store. Restore the registry from version control, or "
            f"apply the definitions again in a new feature_store_dir."
        )
    return data[key]


@dataclasses.dataclass(frozen=True)
class ViewDefinition:
    """A view's definition as registered: what its fingerprint covers.

    Attributes:
        name: The view's name.
        entity: The entity's name.
        join_keys: The entity's join keys.
        source: The source's identity (:meth:`Source.identity`: kind, path, query…).
        time_column: The event-time column (``"timestamp"`` in the JSON).
        created_timestamp: The column breaking ties of one key and event time, if any.
        ttl_us: How old a value may be served, in microseconds; None: no limit.
        features: Source columns served as they are.
        transformations: Each transformation's :meth:`describe`.
        feature_names: Every served feature, in order.
        country: The ``country`` setting when a calendar uses it, else None.
    """

    name: str
    entity: str
    join_keys: tuple[str, ...]
    source: Mapping[str, Any]
    time_column: str
    created_timestamp: str | None
    ttl_us: int | None
    features: tuple[str, ...]
    transformations: tuple[Mapping[str, Any], ...]
    feature_names: tuple[str, ...]
    country: str | None

    @property
    def ttl(self) -> dt.timedelta | None:
        return None if self.ttl_us is None else dt.timedelta(microseconds=self.ttl_us)

    @property
    def ttl_ns(self) -> int | None:
        return None if self.ttl_us is None else int(self.ttl_us) * 1000

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "a view definition") -> ViewDefinition:
        entity = _get(data, "entity", where)
        return cls(
            name=_get(data, "name", where),
            entity=_get(entity, "name", f"{where}, entity"),
            join_keys=tuple(_get(entity, "join_keys", f"{where}, entity")),
            source=dict(_get(data, "source", where)),
            time_column=_get(data, "timestamp", where),
            created_timestamp=_get(data, "created_timestamp", where),
            ttl_us=_get(data, "ttl_us", where),
            features=tuple(_get(data, "features", where)),
            transformations=tuple(dict(t) for t in _get(data, "transformations", where)),
            feature_names=tuple(_get(data, "feature_names", where)),
            country=_get(data, "country", where),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entity": {"name": self.entity, "join_keys": list(self.join_keys)},
            "source": dict(self.source),
            "timestamp": self.time_column,
            "created_timestamp": self.created_timestamp,
            "ttl_us": self.ttl_us,
            "features": list(self.features),
            "transformations": [dict(t) for t in self.transformations],
            "feature_names": list(self.feature_names),
            "country": self.country,
        }


@dataclasses.dataclass(frozen=True)
class SourceSnapshot:
    """The source rows a version was registered from: the source's identity, and the
    hash and number of the rows read."""

    identity: Mapping[str, Any]
    sha256: str
    rows: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "a source") -> SourceSnapshot:
        return cls(
            identity={k: v for k, v in data.items() if k not in ("sha256", "rows")},
            sha256=_get(data, "sha256", where),
            rows=_get(data, "rows", where),
        )

    def to_json(self) -> dict[str, Any]:
        return {**self.identity, "sha256": self.sha256, "rows": self.rows}


@dataclasses.dataclass(frozen=True)
class Run:
    """One materialization run of a version: the range written and what it could not use.

    Attributes:
        run: The run's id.
        start: First event time written (None: nothing to write).
        end: Last event time written, inclusive.
        rows: Rows written.
        months: The monthly partitions written (``YYYY-MM``).
        rejected: Rows without a key or an event time.
        superseded: Rows replaced by a later one of the same key and event time.
        rejected_path: The Parquet file keeping both kinds, with their reason.
        source_sha256: The hash of the source rows read.
        at: When the run was recorded (ISO 8601, UTC).
    """

    run: str
    start: str | None
    end: str | None
    rows: int
    months: tuple[str, ...]
    rejected: int
    superseded: int
    rejected_path: str | None
    source_sha256: str
    at: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "a run") -> Run:
        values = {f.name: _get(data, f.name, where) for f in dataclasses.fields(cls)}
        return cls(**{**values, "months": tuple(values["months"])})

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["months"] = list(self.months)
        return out


@dataclasses.dataclass(frozen=True)
class OnlineLoad:
    """A version's load into the online store.

    Attributes:
        table: The SQLite table.
        rows: Keys loaded.
        booleans: Features stored as 0/1, read back as booleans.
        datetimes: Features stored as nanoseconds, read back as Timestamps.
        layout: The table's layout (:data:`._online.LAYOUT`); None where a workbench
            before layout 2 loaded it (a table of layout 1).
        key_dtypes: The stored dtype of each join key; None where an older workbench
            loaded it (the offline files say).
        at: When it was loaded (ISO 8601, UTC).
    """

    table: str
    rows: int
    booleans: tuple[str, ...]
    datetimes: tuple[str, ...]
    layout: int | None
    key_dtypes: Mapping[str, str] | None
    at: str

    @property
    def table_layout(self) -> int:
        """The layout the table has: 1 where none was recorded."""
        return 1 if self.layout is None else self.layout

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "an online load") -> OnlineLoad:
        key_dtypes = data.get("key_dtypes") if isinstance(data, Mapping) else None
        return cls(
            table=_get(data, "table", where),
            rows=_get(data, "rows", where),
            booleans=tuple(_get(data, "booleans", where)),
            datetimes=tuple(_get(data, "datetimes", where)),
            layout=data.get("layout"),
            key_dtypes=None if key_dtypes is None else dict(key_dtypes),
            at=_get(data, "at", where),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "table": self.table,
            "rows": self.rows,
            "booleans": list(self.booleans),
            "datetimes": list(self.datetimes),
            "at": self.at,
        }
        if self.layout is not None:
            out["layout"] = self.layout
        if self.key_dtypes is not None:
            out["key_dtypes"] = dict(self.key_dtypes)
        return out


@dataclasses.dataclass(frozen=True)
class ViewVersion:
    """A registered version of a feature view, with its lineage.

    Attributes:
        version: The version's number (1, 2, …), in registration order.
        fingerprint: The hash of the definition and of the source rows' content.
        definition: What was registered.
        source: The source rows it was registered from.
        reason: Why it is a new version (first definition, definition changed, source
            data changed).
        registered_at: When (ISO 8601, UTC).
        materializations: Its runs, oldest first.
        online: Its load into the online store, if any.
    """

    version: int
    fingerprint: str
    definition: ViewDefinition
    source: SourceSnapshot
    reason: str
    registered_at: str
    materializations: tuple[Run, ...]
    online: OnlineLoad | None

    @property
    def view(self) -> str:
        return self.definition.name

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "a version record") -> ViewVersion:
        """The record of a registry's version entry.

        Raises:
            ConfigurationError: A field is missing; the message names ``where`` and it.
        """
        online = _get(data, "online", where)
        return cls(
            version=_get(data, "version", where),
            fingerprint=_get(data, "fingerprint", where),
            definition=ViewDefinition.from_json(_get(data, "definition", where), where),
            source=SourceSnapshot.from_json(_get(data, "source", where), f"{where}, source"),
            reason=_get(data, "reason", where),
            registered_at=_get(data, "registered_at", where),
            materializations=tuple(
                Run.from_json(r, f"{where}, run {i + 1}")
                for i, r in enumerate(_get(data, "materializations", where))
            ),
            online=None if online is None else OnlineLoad.from_json(online, f"{where}, online"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "fingerprint": self.fingerprint,
            "definition": self.definition.to_json(),
            "source": self.source.to_json(),
            "reason": self.reason,
            "registered_at": self.registered_at,
            "materializations": [r.to_json() for r in self.materializations],
            "online": None if self.online is None else self.online.to_json(),
        }


@dataclasses.dataclass(frozen=True)
class ViewEntry:
    """A view's entry in the registry: its versions, the current one and the one online.

    Attributes:
        name: The view's name.
        versions: Every version, oldest first.
        current: The number of the current version (the last applied).
        online: The number of the version the online store serves, if any.
    """

    name: str
    versions: tuple[ViewVersion, ...]
    current: int
    online: int | None = None

    @property
    def current_version(self) -> ViewVersion:
        return next(v for v in self.versions if v.version == self.current)

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any], where: str = "registry") -> ViewEntry:
        here = f"{where}, view {name!r}"
        return cls(
            name=name,
            versions=tuple(
                ViewVersion.from_json(v, f"{here} version {i + 1}")
                for i, v in enumerate(_get(data, "versions", here))
            ),
            current=_get(data, "current", here),
            online=data.get("online"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "versions": [v.to_json() for v in self.versions],
            "current": self.current,
        }
        if self.online is not None:
            out["online"] = self.online
        return out
