"""The embedded feature store: register, materialize, and serve features.

:class:`FeatureStore` ties the modules below it together and holds no computation of
its own: the engine computes a view's rows, the registry keeps its versions (typed
records), the offline store writes and joins Parquet partitions, the online store loads
and reads SQLite tables.
"""

from __future__ import annotations

import dataclasses
import logging
import time as _time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError
from workbench._settings import Settings, get_settings
from workbench.features._definitions import FeatureView, load_definitions, registered_definition
from workbench.features._engine import compute
from workbench.features._fingerprints import frame_fingerprint, version_fingerprint
from workbench.features._keys import check_key, missing
from workbench.features._offline import (
    ENGINES,
    TS,
    partition_files,
    point_in_time,
    stored_dtypes,
    write_partitions,
)
from workbench.features._online import OnlineTable, bindable, load_table
from workbench.features._records import ViewVersion
from workbench.features._references import resolve
from workbench.features._registry import Registry
from workbench.features._renamed import renamed_keywords
from workbench.features._times import as_utc_naive, utc_timestamp

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

    def _register(self, view: FeatureView, rows: pd.DataFrame) -> ViewVersion:
        content = frame_fingerprint(rows)
        definition = registered_definition(view, self.settings.country)
        fingerprint = version_fingerprint(definition, content)
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
            record = self._register(view, view.source.read(self.settings.project_dir))
            records.append(record.to_json())
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
        frame, rejected = compute(definition, rows, self.settings, progress)
        times = frame[definition.time_column]
        first = utc_timestamp(start, "start") if start is not None else times.min()
        last = utc_timestamp(end, "end") if end is not None else times.max()
        if pd.notna(first) and pd.notna(last) and first > last:
            raise DataError(f"materialize: start {first} is after end {last}.")
        if not record.materializations and (
            (start is not None and first > times.min()) or (end is not None and last < times.max())
        ):
            _log.warning(
                "%s version %s is new (%s): materializing only %s .. %s leaves its other "
                "event times empty; run materialize without start/end to fill it.",
                view,
                record.version,
                record.reason,
                first,
                last,
            )
        run_id = uuid.uuid4().hex[:12]
        folder = self._version_dir(view, record.version)
        written: dict[str, Any] = {"rows": 0, "months": []}
        if len(frame) and pd.notna(first):
            written = write_partitions(
                frame,
                folder,
                keys=definition.keys,
                time_column=definition.time_column,
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
            "source_sha256": record.source.sha256,
        }
        self.registry.add_run(view, record.version, run)
        return {"view": view, "version": record.version, **run}

    @renamed_keywords(timestamp="time_column")
    def get_historical_features(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str],
        *,
        time_column: str | None = None,
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
            time_column: The time column of ``entity_df`` (default: its only datetime
                one). ``timestamp=`` is its old name, accepted with a DeprecationWarning.
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
        time = self._entity_time(entity_df, time_column)
        stamps = as_utc_naive(entity_df[time], f"entity_df.{time}")
        wanted = resolve(features, self.registry)
        out = entity_df.copy()
        lineage: dict[str, Any] = {"features": list(features), "engine": engine, "views": {}}
        for (view, version), (record, names) in wanted.items():
            keys = list(record.definition.join_keys)
            absent = [k for k in keys if k not in entity_df.columns]
            if absent:
                raise DataError(
                    f"entity_df lacks the join key(s) {absent} of the feature view "
                    f"{view!r}. Columns: {list(entity_df.columns)}."
                )
            if not record.materializations:
                raise ConfigurationError(
                    f"The feature view {view!r} version {version} has never been "
                    f"materialized. Run FeatureStore.materialize({view!r}) first."
                )
            ttl = record.definition.ttl
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
            dtypes = stored_dtypes(folder)
            left = pd.DataFrame({k: entity_df[k].to_numpy() for k in keys})
            for k in keys:
                check_key(left[k], dtypes.get(k), k, view, "entity_df")
            left[TS] = stamps.to_numpy()
            found = point_in_time(
                left,
                files,
                keys=keys,
                time_column=record.definition.time_column,
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
                "fingerprint": record.fingerprint,
                "source_sha256": record.source.sha256,
                "runs": [r.run for r in record.materializations],
            }
        out.attrs["lineage"] = lineage
        return out

    @staticmethod
    def _entity_time(entity_df: pd.DataFrame, time_column: str | None) -> str:
        import pandas as pd

        if time_column is not None:
            if time_column not in entity_df.columns:
                raise DataError(
                    f"entity_df has no time column {time_column!r}. "
                    f"Columns: {list(entity_df.columns)}."
                )
            return time_column
        times = [
            str(c)
            for c in entity_df.columns
            if pd.api.types.is_datetime64_any_dtype(entity_df[c].dtype)
        ]
        if len(times) != 1:
            raise DataError(
                f"Name the time column of entity_df with time_column=...; it has "
                f"{len(times)} datetime columns {times}."
            )
        return times[0]

    # -- online ----------------------------------------------------------------------

    def materialize_online(self, view: str, version: int | None = None) -> dict[str, Any]:
        """Load the latest stored rows per key of a view version into the online store
        (the latest and the one before it, and when the key's first row was).

        Returns:
            What was loaded: view, version, rows (one per key).
        """
        import pandas as pd

        record = self.registry.version(view, version)
        files = partition_files(self._version_dir(view, record.version))
        if not files:
            raise ConfigurationError(
                f"The feature view {view!r} version {record.version} has no stored "
                f"rows. Run FeatureStore.materialize({view!r}) first."
            )
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        info = load_table(self.online_path, record, frame)
        self.registry.set_online(view, record.version, info)
        self._online.clear()
        return {"view": view, "version": record.version, "rows": info["rows"]}

    def _online_plan(self, features: tuple[str, ...]) -> list[Any]:
        """Per view version: its online table, the features asked of it and the stored
        key types (cached until the registry changes)."""
        import pandas as pd

        stamp = self.registry.path.stat().st_mtime_ns if self.registry.path.exists() else 0
        cached = self._online.get(features)
        if cached and cached[0] == stamp:
            return cached[1]
        plan = []
        for (view, number), (record, names) in resolve(
            features, self.registry, online=True
        ).items():
            table = OnlineTable.for_version(self.online_path, record, names)
            # the stored key types, for the same key check as get_historical_features
            # (loads by an older workbench did not record them: the offline files say)
            stored = record.online.key_dtypes if record.online else None
            key_dtypes = (
                {k: pd.api.types.pandas_dtype(t) for k, t in stored.items()}
                if stored
                else stored_dtypes(self._version_dir(view, number))
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
        at_ns = _time.time_ns() if at is None else utc_timestamp(at, "at").value
        out: dict[str, list[Any]] = {k: list(v) for k, v in columns.items()}
        versions: dict[str, int] = {}
        for view, number, table, names, key_dtypes in self._online_plan(tuple(features)):
            absent = [k for k in table.keys if k not in columns]
            if absent:
                raise DataError(
                    f"entity_rows lack the join key(s) {absent} of the feature view {view!r}."
                )
            for k in table.keys:
                check_key(columns[k], key_dtypes.get(k), k, view, "entity_rows")
            ids = list(zip(*(columns[k] for k in table.keys), strict=True))
            if all(type(v) in (int, str) for k in table.keys for v in columns[k]):
                known, sent = list(range(len(ids))), ids  # plain keys (most lookups): as they are
            else:  # a row without a key matches nothing, as offline: not sent to SQLite
                known = [i for i, key in enumerate(ids) if not any(missing(v) for v in key)]
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
        for name, entry in self.registry.entries().items():
            current = entry.current_version
            runs = current.materializations
            rows.append(
                {
                    "view": name,
                    "version": entry.current,
                    "versions": len(entry.versions),
                    "features": len(current.definition.feature_names),
                    "runs": len(runs),
                    "last_run": runs[-1].at if runs else None,
                    "online_version": entry.online,
                    "fingerprint": current.fingerprint[:12],
                }
            )
        return pd.DataFrame(rows)

    def lineage(self, view: str, version: int | None = None) -> dict[str, Any]:
        """A version's record: definition, source (and content hash), runs, online load.

        The record as the registry keeps it (:meth:`ViewVersion.to_json`); ``version``
        gives the typed record."""
        return self.registry.version(view, version).to_json()

    def version(self, view: str, number: int | None = None) -> ViewVersion:
        """A registered version of a view (the current one when ``number`` is None).

        Raises:
            ConfigurationError: The view or the version is not registered.
        """
        return self.registry.version(view, number)
