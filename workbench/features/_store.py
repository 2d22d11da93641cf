"""The embedded feature store: register, materialize, and serve features."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time as _time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError
from workbench._settings import Settings, get_settings
from workbench.features._definitions import (
    Calendar,
    Custom,
    FeatureView,
    _as_utc_naive,
    load_definitions,
)
from workbench.features._offline import (
    ENGINES,
    TS,
    partition_files,
    point_in_time,
    write_partitions,
)
from workbench.features._online import LAYOUT, OnlineTable, bindable, online_rows, write_table
from workbench.features._registry import Registry

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FeatureStore", "OnlineFeatures"]

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class OnlineFeatures:
    """Online feature values: one list per column (entity keys first), in request order.

    Attributes:
        columns: Column name → values.
        versions: The view versions that answered.
    """

    columns: dict[str, list[Any]]
    versions: dict[str, int]

    def to_dict(self) -> dict[str, list[Any]]:
        return self.columns

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.columns)


@dataclasses.dataclass(frozen=True)
class _Ref:
    view: str
    version: int | None
    feature: str


def _parse(reference: str) -> _Ref:
    view, sep, feature = reference.partition(":")
    if not sep or not view or not feature:
        raise ConfigurationError(
            f"A feature reference is 'view:feature', 'view@version:feature' or 'view:*'. "
            f"Got {reference!r}."
        )
    name, at, number = view.partition("@")
    if at and not number.isdigit():
        raise ConfigurationError(f"The version in {reference!r} must be a number.")
    return _Ref(name, int(number) if at else None, feature)


def _pick(ref: _Ref, record: Mapping[str, Any]) -> list[str]:
    """The features a reference names in a registered version (``*``: all of them)."""
    names: list[str] = record["definition"]["feature_names"]
    if ref.feature == "*":
        return names
    if ref.feature not in names:
        raise ConfigurationError(
            f"The feature view {ref.view!r} version {record['version']} has no feature "
            f"{ref.feature!r}. Features: {names}."
        )
    return [ref.feature]


def _frame_hash(frame: pd.DataFrame) -> str:
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    hashed = pd.util.hash_pandas_object(frame.astype({c: str for c in _unhashable(frame)}))
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def _unhashable(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object and frame[c].map(lambda v: isinstance(v, list | dict)).any()
    ]


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name} must be a date or time. Got {value!r} ({exc}).") from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


class FeatureStore:
    """An embedded feature store: definitions as code, Parquet offline, SQLite online.

    Feature views come from ``views`` or from the project's ``features.py``. State lives
    under the ``feature_store_dir`` setting: ``registry.json`` (versions and lineage),
    ``offline/`` (Parquet partitions per view version) and ``online.sqlite``.

    Example:
        >>> import pandas as pd
        >>> from workbench.features import Entity, FeatureView, Source, Window
        >>> rows = pd.DataFrame({"shop": ["a", "a", "a"],
        ...                      "day": pd.date_range("2024-01-01", periods=3),
        ...                      "sales": [1.0, 2.0, 4.0]})
        >>> view = FeatureView("shop_daily", Entity("shop", "shop"), Source.frame(rows, "sales"),
        ...                    "day", features=["sales"], transformations=[Window("sales", 2)])
        >>> store = FeatureStore([view])
        >>> _ = store.materialize("shop_daily", progress=False)
        >>> wanted = pd.DataFrame({"shop": ["a", "b"], "when": pd.to_datetime(["2024-01-03"] * 2)})
        >>> store.get_historical_features(wanted, ["shop_daily:sales_2d_mean"],
        ...                               progress=False)["sales_2d_mean"].tolist()
        [1.5, nan]
    """

    def __init__(
        self,
        views: Iterable[FeatureView] | None = None,
        *,
        settings: Settings | None = None,
        definitions: str | Path | None = None,
    ):
        self.settings = settings or get_settings()
        self.root = Path(self.settings.feature_store_dir)
        self.registry = Registry(self.root / "registry.json")
        self.online_path = self.root / "online.sqlite"
        self._views = None if views is None else {v.name: v for v in views}
        self._definitions = (
            Path(definitions) if definitions else self.settings.project_dir / "features.py"
        )
        self._online: dict[tuple[str, ...], tuple[int, list[Any]]] = {}

    # -- definitions -----------------------------------------------------------------

    @property
    def views(self) -> dict[str, FeatureView]:
        """The feature views by name (from ``features.py`` when none were given)."""
        if self._views is None:
            self._views = load_definitions(self._definitions)
        return self._views

    def view(self, name: str) -> FeatureView:
        try:
            return self.views[name]
        except KeyError:
            raise ConfigurationError(
                f"No feature view named {name!r}. Defined: {sorted(self.views)}."
            ) from None

    def _definition(self, view: FeatureView) -> dict[str, Any]:
        """The view's definition, with the ``country`` setting when a calendar uses it."""
        definition = view.definition()
        uses_setting = any(
            isinstance(t, Calendar) and t.country is None for t in view.transformations
        )
        definition["country"] = self.settings.country if uses_setting else None
        return definition

    def _register(self, view: FeatureView, rows: pd.DataFrame) -> dict[str, Any]:
        content = _frame_hash(rows)
        definition = self._definition(view)
        text = json.dumps(definition, sort_keys=True, default=str)
        fingerprint = hashlib.sha256(f"{text}:{content}".encode()).hexdigest()
        source = {**view.source.identity(), "sha256": content, "rows": len(rows)}
        record, _ = self.registry.register(view.name, fingerprint, definition, source)
        return record

    def apply(self, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Register the views (all by default): a new version for each new definition or
        source content, the existing one made current otherwise.

        Returns:
            The current version record of each view.
        """
        records = []
        for name in names or sorted(self.views):
            view = self.view(name)
            records.append(self._register(view, view.source.read(self.settings.project_dir)))
        return records

    # -- offline ---------------------------------------------------------------------

    def _version_dir(self, view: str, version: int) -> Path:
        return self.root / "offline" / view / f"v{version}"

    def materialize(
        self,
        view: str,
        start: Any = None,
        end: Any = None,
        *,
        progress: bool = True,
    ) -> dict[str, Any]:
        """Compute a view's features from its source and write them for ``[start, end]``.

        The view is registered first (a changed definition or source makes a new
        version, written to its own folder: training sets read from older versions stay
        as they were). Windows and lags look back before ``start`` in the source. Rows
        already stored for the range are replaced, so running it twice adds nothing.
        Rows without a key or time, and rows superseded by a later one for the same key
        and time, are written to ``_rejected/<run>.parquet`` with the reason.

        Args:
            view: The view's name.
            start: First event time to write (default: the earliest).
            end: Last event time to write, inclusive (default: the latest).
            progress: Show a progress bar over months.

        Returns:
            The run's record, as kept in the registry's lineage.
        """
        import pandas as pd

        definition = self.view(view)
        rows = definition.source.read(self.settings.project_dir)
        record = self._register(definition, rows)
        frame, rejected = self._compute(definition, rows, progress)
        times = frame[definition.timestamp]
        first = _timestamp(start, "start") if start is not None else times.min()
        last = _timestamp(end, "end") if end is not None else times.max()
        if pd.notna(first) and pd.notna(last) and first > last:
            raise DataError(f"materialize: start {first} is after end {last}.")
        if not record["materializations"] and (
            (start is not None and first > times.min()) or (end is not None and last < times.max())
        ):
            _log.warning(
                "%s version %s is new (%s): materializing only %s .. %s leaves its other "
                "event times empty; run materialize without start/end to fill it.",
                view,
                record["version"],
                record["reason"],
                first,
                last,
            )
        run_id = uuid.uuid4().hex[:12]
        folder = self._version_dir(view, record["version"])
        written: dict[str, Any] = {"rows": 0, "months": []}
        if len(frame) and pd.notna(first):
            written = write_partitions(
                frame,
                folder,
                keys=definition.keys,
                time=definition.timestamp,
                start=first,
                end=last,
                progress=progress,
            )
        superseded = (
            int(rejected["_reason"].str.startswith("superseded").sum()) if len(rejected) else 0
        )
        rejected_path = None
        if len(rejected):
            rejected_path = folder / "_rejected" / f"run-{run_id}.parquet"
            rejected_path.parent.mkdir(parents=True, exist_ok=True)
            kept = rejected.astype(
                {c: str for c in rejected.columns if rejected[c].dtype == object}
            )
            kept.to_parquet(rejected_path, index=False)
        run = {
            "run": run_id,
            "start": None if pd.isna(first) else str(first),
            "end": None if pd.isna(last) else str(last),
            "rows": written["rows"],
            "months": written["months"],
            "rejected": len(rejected) - superseded,
            "superseded": superseded,
            "rejected_path": None if rejected_path is None else str(rejected_path),
            "source_sha256": record["source"]["sha256"],
        }
        self.registry.add_run(view, record["version"], run)
        return {"view": view, "version": record["version"], **run}

    def _compute(
        self, definition: FeatureView, rows: pd.DataFrame, progress: bool
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``definition.compute``: here, or with the ``dask_scheduler`` setting on that
        cluster's workers, the rows split by a hash of the entity key (lags, windows and
        calendar features look at one entity at a time, so the result is the same). A
        view with a :class:`Custom` step is computed here: its function may look across
        entities, and the workers may not be able to import it."""
        import pandas as pd
        from dask.delayed import delayed

        from workbench._progress import compute_with_progress, scheduler_client

        country = self.settings.country
        address = self.settings.dask_scheduler
        custom = any(isinstance(step, Custom) for step in definition.transformations)
        if not address or custom or len(rows) < 2:
            return definition.compute(rows, country)
        workers = max(len(scheduler_client(address).scheduler_info()["workers"]), 1)
        buckets = min(2 * workers, len(rows))
        keys = [k for k in definition.keys if k in rows.columns]
        if not keys:  # compute raises the clear error about the absent columns
            return definition.compute(rows, country)
        bucket = pd.util.hash_pandas_object(rows[keys], index=False).to_numpy() % buckets
        tasks = [
            delayed(definition.compute)(rows[bucket == b], country)
            for b in range(buckets)
            if (bucket == b).any()
        ]
        parts = compute_with_progress(
            tasks,
            desc=f"computing {definition.name}",
            unit="bucket",
            show=progress,
            scheduler=address,
        )
        order = [*definition.keys, definition.timestamp]
        frame = pd.concat([f for f, _ in parts], ignore_index=True)
        frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
        rejected = pd.concat([r for _, r in parts], ignore_index=True)
        return frame, rejected

    def _resolve(self, features: Sequence[str]) -> dict[tuple[str, int], list[str]]:
        """(view, version) → feature names, for references like ``view@2:feature``."""
        wanted: dict[tuple[str, int], list[str]] = {}
        for reference in features:
            ref = _parse(reference)
            record = self.registry.version(ref.view, ref.version)
            chosen = _pick(ref, record)
            bucket = wanted.setdefault((ref.view, record["version"]), [])
            bucket.extend(n for n in chosen if n not in bucket)
        return wanted

    def get_historical_features(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str],
        *,
        timestamp: str | None = None,
        engine: str | None = None,
        full_names: bool = False,
        progress: bool = True,
    ) -> pd.DataFrame:
        """A point-in-time correct training set: ``entity_df`` with the features added.

        For each entity row at time ``t``, each view gives its latest stored row for the
        same key with event time ``<= t`` and ``>= t - ttl`` (both inclusive); nulls
        where nothing qualifies. Every entity row comes back, in its order and with its
        index, duplicates included.

        Args:
            entity_df: Rows with the views' join keys and a time column.
            features: References ``view:feature``, ``view@version:feature`` (a pinned
                version: reproduces an old training set) or ``view:*``.
            timestamp: The time column of ``entity_df`` (default: its only datetime one).
            engine: ``duckdb`` (embedded; the default) or ``dask`` (feature data larger
                than memory; the default when the ``dask_scheduler`` setting names a
                cluster, which then computes the join); both give the same result.
            full_names: Name columns ``view__feature`` instead of ``feature``.
            progress: Show progress (Dask engine).

        Returns:
            A copy of ``entity_df`` with one column per feature. ``attrs["lineage"]``
            names each view's version, fingerprint and materialization runs.

        Raises:
            DataError: A key or the time column is absent, or a key's type differs from
                the stored one; the message names the column.
            ConfigurationError: A reference names an unknown view, version or feature.
        """
        import pandas as pd

        if engine is None:
            engine = "dask" if self.settings.dask_scheduler else "duckdb"
        if engine not in ENGINES:
            raise DataError(f"The engine must be one of {list(ENGINES)}. Got {engine!r}.")
        time = self._entity_time(entity_df, timestamp)
        stamps = _as_utc_naive(entity_df[time], f"entity_df.{time}")
        wanted = self._resolve(features)
        out = entity_df.copy()
        lineage: dict[str, Any] = {"features": list(features), "engine": engine, "views": {}}
        for (view, version), names in wanted.items():
            record = self.registry.version(view, version)
            definition = record["definition"]
            keys = definition["entity"]["join_keys"]
            absent = [k for k in keys if k not in entity_df.columns]
            if absent:
                raise DataError(
                    f"entity_df lacks the join key(s) {absent} of the feature view "
                    f"{view!r}. Columns: {list(entity_df.columns)}."
                )
            if not record["materializations"]:
                raise ConfigurationError(
                    f"The feature view {view!r} version {version} has never been "
                    f"materialized. Run FeatureStore.materialize({view!r}) first."
                )
            ttl = (
                None
                if definition["ttl_us"] is None
                else dt.timedelta(microseconds=definition["ttl_us"])
            )
            folder = self._version_dir(view, version)
            since = None
            if stamps.notna().any() and ttl is not None:
                try:
                    since = (stamps.min() - ttl).to_datetime64()
                except (OverflowError, pd.errors.OutOfBoundsDatetime):
                    since = None  # before the earliest time pandas holds: read every month
            files = partition_files(
                folder, since, stamps.max().to_datetime64() if stamps.notna().any() else None
            )
            dtypes = self._dtypes(folder)
            left = pd.DataFrame({k: entity_df[k].to_numpy() for k in keys})
            for k in keys:
                self._check_key(left[k], dtypes.get(k), k, view, "entity_df")
            left[TS] = stamps.to_numpy()
            found = point_in_time(
                left,
                files,
                keys=keys,
                time=definition["timestamp"],
                features=names,
                ttl=ttl,
                dtypes=dtypes,
                engine=engine,
                progress=progress,
                scheduler=self.settings.dask_scheduler or "local",
            )
            versions_asked = sum(1 for v, _ in wanted if v == view)
            prefix = f"{view}@{version}" if versions_asked > 1 else view
            for name in names:
                column = f"{prefix}__{name}" if full_names else name
                if column in out.columns:
                    raise DataError(
                        f"The feature {name!r} of {view!r} would overwrite the column "
                        f"{column!r} of entity_df or of another view"
                        + ("; pass full_names=True." if not full_names else ".")
                    )
                out[column] = found[name].array  # by position, dtype kept (nullable ints)
            lineage["views"][view] = {
                "version": version,
                "fingerprint": record["fingerprint"],
                "source_sha256": record["source"]["sha256"],
                "runs": [r["run"] for r in record["materializations"]],
            }
        out.attrs["lineage"] = lineage
        return out

    @staticmethod
    def _entity_time(entity_df: pd.DataFrame, timestamp: str | None) -> str:
        import pandas as pd

        if timestamp is not None:
            if timestamp not in entity_df.columns:
                raise DataError(
                    f"entity_df has no time column {timestamp!r}. "
                    f"Columns: {list(entity_df.columns)}."
                )
            return timestamp
        times = [
            str(c)
            for c in entity_df.columns
            if pd.api.types.is_datetime64_any_dtype(entity_df[c].dtype)
        ]
        if len(times) != 1:
            raise DataError(
                f"Name the time column of entity_df with timestamp=...; it has "
                f"{len(times)} datetime columns {times}."
            )
        return times[0]

    @staticmethod
    def _dtypes(folder: Path) -> dict[str, Any]:
        import pyarrow.parquet as pq

        files = partition_files(folder)
        if not files:
            return {}
        empty = pq.read_schema(files[0]).empty_table().to_pandas()
        return dict(empty.dtypes.items())

    @staticmethod
    def _check_key(values: Any, dtype: Any, key: str, view: str, where: str) -> None:
        """Numbers are not text: a key of the other kind could never match. The same
        check for ``get_historical_features`` (``where="entity_df"``, a column) and
        ``get_online_features`` (``"entity_rows"``, a list: no Series is built, as a
        lookup takes microseconds)."""
        import numbers

        import pandas as pd

        if dtype is None:
            return
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind == "empty":
            return
        numeric = kind in ("integer", "floating", "mixed-integer-float", "decimal")
        stores_numbers = pd.api.types.is_numeric_dtype(dtype)
        if stores_numbers != numeric:
            odd = (  # the first value of the wrong kind, for the message
                v
                for v in values
                if not _missing(v)
                and (isinstance(v, numbers.Number) and not isinstance(v, bool)) != stores_numbers
            )
            raise DataError(
                f"{where}.{key} holds {kind} values ({next(odd, None)!r}) but the feature "
                f"view {view!r} stores {key} as {dtype}; convert the column first."
            )

    # -- online ----------------------------------------------------------------------

    def materialize_online(self, view: str, version: int | None = None) -> dict[str, Any]:
        """Load the latest stored rows per key of a view version into the online store
        (the latest and the one before it, and when the key's first row was).

        Returns:
            What was loaded: view, version, rows (one per key).
        """
        import pandas as pd

        record = self.registry.version(view, version)
        folder = self._version_dir(view, record["version"])
        files = partition_files(folder)
        if not files:
            raise ConfigurationError(
                f"The feature view {view!r} version {record['version']} has no stored "
                f"rows. Run FeatureStore.materialize({view!r}) first."
            )
        definition = record["definition"]
        keys, time = definition["entity"]["join_keys"], definition["timestamp"]
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        key_dtypes = {k: str(frame[k].dtype) for k in keys}
        created = definition["created_timestamp"]
        if created:
            frame = frame.drop(columns=created)
        booleans = [c for c in frame.columns if pd.api.types.is_bool_dtype(frame[c].dtype)]
        datetimes = [
            c
            for c in frame.columns
            if c != time and pd.api.types.is_datetime64_any_dtype(frame[c].dtype)
        ]
        frame = online_rows(frame, keys, time)
        table = f"{view}__v{record['version']}"
        rows = write_table(self.online_path, table, frame, keys, time)
        info = {
            "table": table,
            "rows": rows,
            "booleans": booleans,
            "datetimes": datetimes,
            "layout": LAYOUT,
            "key_dtypes": key_dtypes,
        }
        self.registry.set_online(view, record["version"], info)
        self._online.clear()
        return {"view": view, "version": record["version"], "rows": rows}

    def _online_plan(self, features: tuple[str, ...]) -> list[Any]:
        """Per view version: its online table, the features asked of it and the stored
        key types (cached until the registry changes)."""
        import pandas as pd

        stamp = self.registry.path.stat().st_mtime_ns if self.registry.path.exists() else 0
        cached = self._online.get(features)
        if cached and cached[0] == stamp:
            return cached[1]
        chosen: dict[tuple[str, int], list[str]] = {}
        records: dict[tuple[str, int], dict[str, Any]] = {}
        for reference in features:
            ref = _parse(reference)
            number = ref.version or self.registry.online_version(ref.view)
            if number is None:
                raise ConfigurationError(
                    f"The feature view {ref.view!r} is not in the online store. Run "
                    f"FeatureStore.materialize_online({ref.view!r}) first."
                )
            record = records.setdefault((ref.view, number), self.registry.version(ref.view, number))
            if not record["online"]:
                raise ConfigurationError(
                    f"Version {number} of {ref.view!r} is not in the online store."
                )
            wanted = _pick(ref, record)
            bucket = chosen.setdefault((ref.view, number), [])
            bucket.extend(n for n in wanted if n not in bucket)
        plan = []
        for (view, number), names in chosen.items():
            definition = records[(view, number)]["definition"]
            online = records[(view, number)]["online"]
            ttl = definition["ttl_us"]
            table = OnlineTable(
                self.online_path,
                online["table"],
                definition["entity"]["join_keys"],
                names,
                None if ttl is None else int(ttl) * 1000,
                online["booleans"],
                online.get("datetimes", ()),
                label=f"{view!r} version {number}",
                layout=online.get("layout", 1),
            )
            # the stored key types, for the same key check as get_historical_features
            # (loads by an older workbench did not record them: the offline files say)
            stored = online.get("key_dtypes")
            key_dtypes = (
                {k: pd.api.types.pandas_dtype(t) for k, t in stored.items()}
                if stored
                else self._dtypes(self._version_dir(view, number))
            )
            plan.append((view, number, table, names, key_dtypes))
        self._online[features] = (stamp, plan)
        return plan

    def get_online_features(
        self,
        entity_rows: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
        features: Sequence[str],
        *,
        at: Any = None,
    ) -> OnlineFeatures:
        """The latest feature values of some entities, as the online store holds them.

        Per key, the values of its latest row at or before ``at`` (default: now, UTC):
        the online store keeps the latest two rows of each key, so a time just before
        the latest event is served as ``get_historical_features`` serves it. None where
        that row is older than the view's TTL at ``at``, where the key's first row is
        after ``at``, where the store does not know the key, and where a key is missing
        (None, NaN, ``pd.NA``), as offline.

        Args:
            entity_rows: Join-key values, as ``{"key": [..]}`` or ``[{"key": ..}, ..]``.
            features: References ``view:feature`` or ``view:*``.
            at: The time to answer for.

        Returns:
            :class:`OnlineFeatures`: keys and features as lists, in request order.

        Raises:
            DataError: A join key is absent, or holds numbers where the view stores text
                (or text where it stores numbers), as ``get_historical_features`` says;
                or for some key the row valid at ``at`` is older than the two the online
                store keeps (ask ``get_historical_features`` for a time that far back).
            ConfigurationError: A view or version is not in the online store.
        """

        if isinstance(entity_rows, Mapping):
            columns = {k: list(v) for k, v in entity_rows.items()}
        else:
            names = list(entity_rows[0]) if entity_rows else []
            columns = {k: [row[k] for row in entity_rows] for k in names}
        at_ns = _time.time_ns() if at is None else _timestamp(at, "at").value
        out: dict[str, list[Any]] = {k: list(v) for k, v in columns.items()}
        versions: dict[str, int] = {}
        for view, number, table, names, key_dtypes in self._online_plan(tuple(features)):
            absent = [k for k in table.keys if k not in columns]
            if absent:
                raise DataError(
                    f"entity_rows lack the join key(s) {absent} of the feature view {view!r}."
                )
            for k in table.keys:
                self._check_key(columns[k], key_dtypes.get(k), k, view, "entity_rows")
            ids = list(zip(*(columns[k] for k in table.keys), strict=True))
            if all(type(v) in (int, str) for k in table.keys for v in columns[k]):
                known, sent = list(range(len(ids))), ids  # plain keys (most lookups): as they are
            else:  # a row without a key matches nothing, as offline: not sent to SQLite
                known = [i for i, key in enumerate(ids) if not any(_missing(v) for v in key)]
                sent = [tuple(bindable(v) for v in ids[i]) for i in known]
            found = table.read(sent, at_ns)
            empty = (None,) * len(names)
            rows: list[tuple[Any, ...]] = [empty] * len(ids)
            for i, values in zip(known, found, strict=True):
                rows[i] = values or empty
            by_column = list(zip(*rows, strict=True)) if rows else [()] * len(names)
            for name, column in zip(names, by_column, strict=True):
                out[name] = list(column)
            versions[view] = number
        return OnlineFeatures(out, versions)

    # -- overview --------------------------------------------------------------------

    def list_views(self) -> pd.DataFrame:
        """Registered views: current version, versions, rows stored, online version."""
        import pandas as pd

        rows = []
        for name, entry in sorted(self.registry.read()["views"].items()):
            current = next(v for v in entry["versions"] if v["version"] == entry["current"])
            runs = current["materializations"]
            rows.append(
                {
                    "view": name,
                    "version": entry["current"],
                    "versions": len(entry["versions"]),
                    "features": len(current["definition"]["feature_names"]),
                    "runs": len(runs),
                    "last_run": runs[-1]["at"] if runs else None,
                    "online_version": entry.get("online"),
                    "fingerprint": current["fingerprint"][:12],
                }
            )
        return pd.DataFrame(rows)

    def lineage(self, view: str, version: int | None = None) -> dict[str, Any]:
        """A version's record: definition, source (and content hash), runs, online load."""
        return self.registry.version(view, version)


def _missing(value: Any) -> bool:
    """None, NaN, NaT or ``pd.NA`` (a scalar key; anything else is not missing)."""
    if value is None:
        return True
    if type(value) in (int, str):  # the usual keys, without pandas (µs per lookup)
        return False
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # an array-like: not a missing scalar
        return False
