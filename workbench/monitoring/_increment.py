"""One monitor run's work: the new log rows and actuals → counts, ledger, results. It is
one job, kept in one module because its steps share one run's state (the checkpoint, the
periods touched, the new ledger rows) and are right only in this order.

:class:`Step` is what :func:`workbench.monitoring.run_monitor` does between reading
its checkpoint and committing the next one: read the new segments (counts per version
and period, as ``collect`` keeps them, and the ledger rows actuals are matched to later),
match the new actuals (and those still waiting for their row), recompute every period
that changed (drift and integrity from the counts, realized performance from ledger and
labels, a classifier's estimate from the logged scores), write the dashboard's files and
the MLflow run, and commit. Nothing here is public; the results are
``MonitorResult.periods``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import ModelError, MonitoringError
from workbench.monitoring._alerts import Alert
from workbench.monitoring._checkpoint import (
    Checkpoint,
    MonitorStore,
    atomic_write,
    stats_from_dict,
    stats_to_dict,
)

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings

__all__ = ["CHUNK", "LEDGER", "Step", "Version", "iso", "period_stats", "results_frame"]

_log = logging.getLogger(__name__)

LEDGER = ["model_version", "request_id", "row_in_request", "period", "prediction"]


@dataclasses.dataclass
class Version:
    """What the monitor needs of one registered version."""

    version: str
    profile: Any
    contract: Any
    task: str
    cbpe: Any = None
    score_columns: tuple[str, ...] = ()
    classes: tuple[Any, ...] | None = None


def _load_version(name: str, version: str, settings: Settings) -> Version | None:
    """The version's profile, contract and (a classifier's) CBPE; ``None`` when the
    registry has no such version or it has no stored profile."""
    from workbench._versions import VersionArtifacts
    from workbench.monitoring._cbpe import CBPE, reference_classes
    from workbench.monitoring._profile import ReferenceProfile

    try:
        artifacts = VersionArtifacts.of(name, version=version, settings=settings)
    except ModelError:
        return None
    if artifacts.reference_profile_path is None:
        return None
    contract = None
    if artifacts.contract_path is not None:
        from workbench.data import Contract

        contract = Contract.load(artifacts.contract_path)
    out = Version(
        version, ReferenceProfile.load(artifacts.reference_profile_path), contract, artifacts.task
    )
    if artifacts.reference_scores_path is not None:
        import pandas as pd

        scored = pd.read_parquet(artifacts.reference_scores_path)
        classes, columns = reference_classes(scored)
        used = columns[1:] if len(columns) == 2 else columns
        out.cbpe = CBPE().fit(scored[used], scored["label"], classes=classes)
        out.score_columns, out.classes = tuple(used), tuple(classes)
    return out


#: Rows checked together: whole segments (a request's rows stay in one chunk) up to this.
CHUNK = 250_000


def _read_segment(file: str, place: Any, name: str) -> pd.DataFrame:
    """The rows of model ``name`` in one segment, converted as ``collect`` reads them
    (text as ``string[pyarrow]``, so the contract checks see the same values)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if place.local:
        table = pq.read_table(file)
    else:
        with place.fs.open(file, "rb") as handle:
            table = pq.read_table(handle)
    if "model_name" in table.column_names:
        table = table.filter(pc.equal(table["model_name"].cast(pa.string()), name))
    text = pd.StringDtype("pyarrow")
    mapped = {pa.string(): text, pa.large_string(): text}
    frame: pd.DataFrame = table.to_pandas(types_mapper=mapped.get)
    return frame


def _chunks(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Whole frames put together up to :data:`CHUNK` rows each."""
    out: list[pd.DataFrame] = []
    group: list[pd.DataFrame] = []
    size = 0
    for frame in frames:
        group.append(frame)
        size += len(frame)
        if size >= CHUNK:
            out.append(_concat(group))
            group, size = [], 0
    if group:
        out.append(_concat(group))
    return out


def _groups(parts: list[tuple[str, int]]) -> list[list[str]]:
    """The segments of each chunk :func:`_chunks` makes of frames of these sizes."""
    out: list[list[str]] = []
    group: list[str] = []
    size = 0
    for file, rows in parts:
        group.append(file)
        size += rows
        if size >= CHUNK:
            out.append(group)
            group, size = [], 0
    if group:
        out.append(group)
    return out


def _versions_in(file: str, *, url: str, name: str) -> dict[str, int]:
    """Rows of model ``name`` per version in one segment (on a worker)."""
    import pyarrow.parquet as pq

    from workbench.serving import LogFolder

    place = LogFolder(url)
    with Path(file).open("rb") if place.local else place.fs.open(file, "rb") as handle:
        segment = pq.ParquetFile(handle)
        wanted = [c for c in ("model_version", "model_name") if c in segment.schema_arrow.names]
        table = segment.read(columns=wanted)
    named = table["model_version"].to_pandas().astype(str)
    return {str(k): int(n) for k, n in named.value_counts(sort=False).items()}


def _count_chunk(
    v: Version, files: list[str], url: str, name: str, period: str
) -> tuple[dict[Any, Any], pd.DataFrame, str]:
    """On a worker: the rows of version ``v`` in ``files``, put together as this process
    puts them together (:func:`_chunks`), counted as :func:`_count` counts them."""
    from workbench.serving import LogFolder

    place = LogFolder(url)
    parts = []
    for file in files:
        frame = _read_segment(file, place, name)
        named = frame["model_version"].astype(str)
        if len(frame) and (named == named.iloc[0]).all():
            parts.append(frame)
        else:
            parts.append(frame[(named == v.version).to_numpy()])
    return _count(v, _concat(parts), period)


def _count(v: Version, part: pd.DataFrame, period: str) -> tuple[dict[Any, Any], pd.DataFrame, str]:
    """One chunk of one version: its counts per period, its ledger rows, and the time
    column its periods follow (the contract's event time where the log has it)."""
    from workbench.monitoring._periods import period_keys, time_basis

    part = part.reset_index(drop=True)
    names = [c for c in v.profile.columns if c in part.columns]
    event = v.contract.event_time if v.contract is not None else None
    column = time_basis(event, list(part.columns)).column  # event time if logged
    subset = v.profile.subset(names)
    stats = period_stats(part, subset, period, v.contract, column)
    kept = [c for c in [*LEDGER, *v.score_columns] if c in part or c == "period"]
    ledger = part.assign(period=period_keys(part, period, column))[kept]
    return stats, ledger, column


def period_stats(
    part: pd.DataFrame, profile: Any, period: str, contract: Any, time_column: str = "timestamp"
) -> dict[Any, Any]:
    """What ``collect`` keeps of each period of ``part`` (its ``PeriodStats``), computed as
    the dashboard computes it."""
    from workbench.monitoring._collect import _stats_of

    return _stats_of(part, profile, period, contract, time_column)


def iso(start: Any) -> str:
    import pandas as pd

    return str(pd.Timestamp(start).isoformat())


class Step:
    """One run's work between reading the checkpoint and committing the next."""

    def __init__(
        self,
        name: str,
        period: str,
        settings: Settings,
        store: MonitorStore,
        checkpoint: Checkpoint,
        state: dict[str, Any],
        run: int,
    ) -> None:
        import pandas as pd

        self.name, self.period, self.settings = name, period, settings
        self.store, self.checkpoint, self.state, self.run = store, checkpoint, state, run
        self.versions: dict[str, Version | None] = {}
        self.ledger = pd.DataFrame(columns=LEDGER)
        self.labels = pd.DataFrame()
        self.pending = (
            pd.read_parquet(store.pending_actuals_path(checkpoint.run))
            if checkpoint.run and store.pending_actuals_path(checkpoint.run).is_file()
            else pd.DataFrame(columns=["request_id", "row_in_request", "actual", "recorded_at"])
        )
        self.touched: dict[str, set[str]] = {}

    def version(self, version: str) -> Version | None:
        if version not in self.versions:
            self.versions[version] = _load_version(self.name, version, self.settings)
        return self.versions[version]

    def read_log(self, place: Any, files: list[str], client: Any = None) -> tuple[int, int]:
        """Counts per period and ledger rows of the new segments; returns the rows read
        and those skipped (versions without a profile).

        With a ``distributed.Client`` the segments are read and counted on its workers
        (a first pass counts each segment's rows per version), in the same chunks as in
        this process, so the counts and the ledger are exactly those of an in-process run.
        """
        from workbench._progress import map_with_progress

        if not files:
            return 0, 0
        tasks: list[tuple[Version, Any]] = []
        skipped = 0
        if client is None:
            frames = map_with_progress(
                lambda f: _read_segment(f, place, self.name), files, desc="reading", show=False
            )
            per_version: dict[str, list[pd.DataFrame]] = {}
            for frame in frames:
                named = frame["model_version"].astype(str)
                if len(frame) and (named == named.iloc[0]).all():  # a server logs one version
                    per_version.setdefault(named.iloc[0], []).append(frame)
                    continue
                for version, part in frame.groupby(named, sort=True):
                    per_version.setdefault(str(version), []).append(part)
            del frames
            for version, parts in sorted(per_version.items()):
                v = self.version(version)
                if v is None:
                    skipped += sum(len(p) for p in parts)
                    continue
                tasks += [(v, chunk) for chunk in _chunks(parts)]
            done = map_with_progress(
                lambda task: _count(task[0], task[1], self.period),
                tasks,
                desc="counting",
                show=False,
            )
        else:
            counted = client.gather(client.map(_versions_in, files, url=str(place), name=self.name))
            sizes: dict[str, list[tuple[str, int]]] = {}
            for file, found in zip(files, counted, strict=True):
                for version, n in found.items():
                    sizes.setdefault(version, []).append((file, n))
            for version, parts_of in sorted(sizes.items()):
                v = self.version(version)
                if v is None:
                    skipped += sum(n for _, n in parts_of)
                    continue
                light = dataclasses.replace(v, cbpe=None)  # what counting needs, no model
                tasks += [(v, (light, group)) for group in _groups(parts_of)]
            futures = [
                client.submit(
                    _count_chunk, light, group, str(place), self.name, self.period, pure=False
                )
                for _, (light, group) in tasks
            ]
            done = client.gather(futures)
        rows = 0
        ledgers = []
        for (v, _), (per_period, ledger, column) in zip(tasks, done, strict=True):
            rows += len(ledger)
            ledgers.append(ledger.assign(model_version=v.version))
            kept = self.state["versions"].setdefault(v.version, {"periods": {}, "results": {}})
            kept["time_column"] = column  # what the periods follow: seasonal drift needs it
            for start, counts in per_period.items():
                key = iso(start)
                old = kept["periods"].get(key)
                total = counts if old is None else stats_from_dict(old) + counts
                kept["periods"][key] = stats_to_dict(total)
                self.touched.setdefault(v.version, set()).add(key)
        if ledgers:
            self.ledger = _concat(ledgers)
        return rows, skipped

    def read_actuals(self, place: Any, files: list[str]) -> int:
        """Match the new actuals (and those waiting) to ledger rows; returns how many
        new ones were read."""
        import pandas as pd

        if not files and not len(self.pending):
            return 0
        frames = [place.read(f) for f in files]
        new = pd.concat(frames, ignore_index=True) if frames else self.pending.iloc[:0]
        count = len(new)
        waiting = _concat([self.pending, new])
        if not len(waiting):
            return count
        waiting = waiting.astype({"request_id": str, "row_in_request": "int64"})
        ids = waiting["request_id"].unique().tolist()
        keys = ["model_version", "request_id", "row_in_request", "period"]
        known = _concat([self._old("ledger", keys, ids), self.ledger[keys]]).astype(
            {"request_id": str, "row_in_request": "int64"}
        )
        matched = waiting.merge(known, on=["request_id", "row_in_request"], how="left")
        found = matched["period"].notna()
        self.pending = waiting[~found.to_numpy()].reset_index(drop=True)
        self.labels = matched[found.to_numpy()].reset_index(drop=True)
        for version, period in self.labels[["model_version", "period"]].drop_duplicates().values:
            self.state["versions"].setdefault(str(version), {"periods": {}, "results": {}})
            self.touched.setdefault(str(version), set()).add(iso(period))
        return count

    def _old(self, kind: str, columns: list[str], ids: list[str] | None = None) -> pd.DataFrame:
        """Rows of the completed runs' ``kind`` parts (those of ``ids``)."""
        import pyarrow.dataset as ds

        parts = self.checkpoint.ledger if kind == "ledger" else self.checkpoint.labels
        files = [str(self.store.folder / kind / p) for p in parts]
        if not files:
            import pandas as pd

            return pd.DataFrame(columns=columns)
        data = ds.dataset(files, format="parquet")
        wanted = [c for c in columns if c in data.schema.names]
        where = ds.field("request_id").isin(ids) if ids is not None else None
        found: pd.DataFrame = data.to_table(columns=wanted, filter=where).to_pandas()
        return found

    def _rows_of(self, kind: str, version: str, periods: set[str]) -> pd.DataFrame:
        """The ledger (or labels) rows of ``version`` in ``periods``, old and new."""
        import pandas as pd
        import pyarrow.dataset as ds

        parts = self.checkpoint.ledger if kind == "ledger" else self.checkpoint.labels
        files = [str(self.store.folder / kind / p) for p in parts]
        fresh = self.ledger if kind == "ledger" else self.labels
        frames = []
        stamps = [pd.Timestamp(p) for p in periods]
        if files:
            data = ds.dataset(files, format="parquet")
            where = (ds.field("model_version") == version) & ds.field("period").isin(stamps)
            frames.append(data.to_table(filter=where).to_pandas())
        if len(fresh):
            mine = fresh[(fresh["model_version"] == version) & fresh["period"].isin(stamps)]
            frames.append(mine)
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def recompute(self) -> dict[str, list[str]]:
        """The results of every period that changed; returns them per version."""
        from workbench.monitoring._performance import performance_over_time

        changed: dict[str, list[str]] = {}
        for version, keys in sorted(self.touched.items()):
            v = self.version(version)
            kept = self.state["versions"][version]
            if v is None:
                continue
            performance = estimated = None
            labels = self._rows_of("labels", version, keys)
            if len(labels):
                labels = labels.sort_values("recorded_at", kind="stable").drop_duplicates(
                    ["request_id", "row_in_request"], keep="last"
                )
                logged = self._rows_of("ledger", version, keys)
                joined = logged.merge(
                    labels[["request_id", "row_in_request", "actual"]],
                    on=["request_id", "row_in_request"],
                    how="left",
                ).rename(columns={"period": "timestamp"})
                performance = performance_over_time(
                    joined,
                    task=v.task,
                    period=self.period,
                    score=list(v.score_columns) or None,
                    classes=v.classes,
                )
            if v.cbpe is not None:
                logged = self._rows_of("ledger", version, keys)
                if len(logged):
                    estimated = v.cbpe.estimate_over_time(
                        logged.rename(columns={"period": "timestamp"}),
                        list(v.score_columns),
                        period=self.period,
                    )
            for key in sorted(keys):
                if key not in kept["periods"]:
                    continue
                row = _period_result(
                    v, key, stats_from_dict(kept["periods"][key]), kept.get("time_column")
                )
                for frame, prefix in ((performance, ""), (estimated, "estimated ")):
                    if frame is not None:
                        match = frame[frame["window"].map(iso) == key]
                        for column, value in match.iloc[0].items() if len(match) else []:
                            if column not in ("window", "rows"):
                                row[f"{prefix}{column}"] = _plain(value)
                kept["results"][key] = row
                changed.setdefault(version, []).append(key)
        return changed

    def write_dashboard(self, version: str, keys: list[str]) -> list[Path]:
        """The changed periods' drift snapshots and the version's performance table,
        where the dashboard reads them (written whole; a repeat overwrites)."""
        import pandas as pd

        out = Path(self.settings.monitoring_dir)
        written = []
        for key in keys:
            snap = self._snapshot(version, key)
            if snap is None:
                continue
            stamp = pd.Timestamp(key).strftime("%Y%m%dT%H%M%S")
            path = out / f"drift-{stamp}-{self.name}-v{version}.json"
            atomic_write(path, json.dumps(snap.to_dict(), indent=1, allow_nan=True))
            written.append(path)
        table = results_frame(self.state, version)
        atomic_write(
            out / f"performance-{self.name}-v{version}.json",
            table.to_json(orient="records", date_format="iso"),
        )
        return written

    def _snapshot(self, version: str, key: str) -> Any:
        v = self.version(version)
        if v is None:
            return None
        kept = self.state["versions"][version]
        stats = stats_from_dict(kept["periods"][key])
        try:
            return _drift(
                v,
                stats,
                kept.get("time_column"),
                metadata={"model_name": self.name, "model_version": version, "window": key},
            )
        except MonitoringError as exc:  # a column with no value in the period
            _log.warning("no drift snapshot for %s v%s, %s: %s", self.name, version, key, exc)
            return None

    def record_mlflow(self, version: str, keys: list[str], alerts: list[Alert]) -> str:
        """One MLflow run for this monitor run (an earlier attempt's is replaced)."""
        import pandas as pd

        from workbench._tracking import ensure_experiment, mlflow_for
        from workbench.monitoring._timeline import DriftTimeline, log_to_mlflow

        experiment = f"monitoring/{self.name}"
        client = mlflow_for(self.settings).MlflowClient()
        found = client.search_runs(
            [ensure_experiment(experiment, self.settings)],
            f"tags.`workbench.monitor_run` = '{self.run}' and "
            f"tags.`workbench.monitor_store` = '{self.store.folder}'",
        )
        for earlier in found:  # a killed attempt at this run recorded it already
            client.delete_run(earlier.info.run_id)
        snaps = [s for s in (self._snapshot(version, k) for k in keys) if s is not None]
        table = results_frame(self.state, version)
        table = table[table["window"].isin([pd.Timestamp(k) for k in keys])]
        metrics = table.drop(columns=["drifted", "dataset_drift"], errors="ignore")
        return log_to_mlflow(
            f"{self.name} v{version}: monitor run {self.run}",
            timeline=DriftTimeline(tuple(snaps)) if snaps else None,
            performance=metrics,
            alerts=alerts,
            experiment=experiment,
            tags={
                "workbench.monitor_run": str(self.run),
                "workbench.monitor_store": str(self.store.folder),
                "model_version": version,
            },
            settings=self.settings,
        )

    def commit(self, segments: list[str], actual_files: list[str]) -> None:
        """Write this run's parts and state, then the checkpoint that names them."""
        ledger = self.store.write_part("ledger", self.run, self.ledger)
        labels = self.store.write_part(
            "labels",
            self.run,
            self.labels[
                ["model_version", "period", "request_id", "row_in_request", "actual", "recorded_at"]
            ]
            if len(self.labels)
            else None,
        )
        self.store.write_state(self.run, self.state, self.pending)
        before = self.checkpoint
        self.store.commit(
            Checkpoint(
                run=self.run,
                segments=before.segments | {Path(f).name for f in segments},
                actuals=before.actuals | {Path(f).name for f in actual_files},
                ledger=before.ledger + ((ledger,) if ledger else ()),
                labels=before.labels + ((labels,) if labels else ()),
            )
        )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one below the other; empty ones left out (an empty frame's object
    columns would turn a timestamp column of a million rows into objects)."""
    import pandas as pd

    full = [f for f in frames if len(f)]
    if len(full) == 1:
        return full[0].reset_index(drop=True)
    return pd.concat(full or frames[:1], ignore_index=True)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _drift(
    v: Version, stats: Any, time_column: str | None, metadata: dict[str, Any] | None = None
) -> Any:
    """Drift of one period's counts, as the dashboard computes it: against the same
    calendar days of the reference where its profile has a year of the event time the
    periods follow, else against the whole reference."""
    from workbench.monitoring._drift import drift_of_period, seasonal_reference

    names = [c for c in v.profile.columns if c in stats.summary.columns]
    profile = v.profile.subset(names)
    seasonal = (
        time_column is not None
        and stats.first is not None
        and seasonal_reference(profile, "auto", time_column)
    )
    return drift_of_period(
        profile, stats.summary, stats.first, stats.last, seasonal=seasonal, metadata=metadata
    )


def _period_result(
    v: Version, key: str, stats: Any, time_column: str | None = None
) -> dict[str, Any]:
    """Drift and integrity of one period from its counts (its periods following
    ``time_column``)."""
    row: dict[str, Any] = {
        "window": key,
        "rows": stats.rows,
        "requests": stats.requests,
        "integrity": [[c, p, n] for (c, p), n in sorted(stats.integrity.items())],
        "integrity_rows": int(sum(stats.integrity.values())),
    }
    try:
        snap = _drift(v, stats, time_column)
    except MonitoringError as exc:
        row |= {
            "share_drifted": None,
            "dataset_drift": None,
            "drifted": [],
            "drift_error": str(exc),
        }
        return row
    row |= {
        "share_drifted": snap.share_drifted,
        "dataset_drift": bool(snap.dataset_drift),
        "drifted": list(snap.drifted_columns),
        "drift_share": snap.drift_share,
        "columns": len(snap.columns),
    }
    return row


def results_frame(state: Mapping[str, Any], version: str) -> pd.DataFrame:
    """The version's results as one row per period, oldest first."""
    import pandas as pd

    results = state["versions"].get(version, {}).get("results", {})
    rows = [dict(results[k]) for k in sorted(results)]
    base = ["window", "rows", "requests", "share_drifted", "dataset_drift", "drifted"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    for column in base:
        if column not in frame.columns:
            frame[column] = None
    frame["window"] = pd.to_datetime(frame["window"], utc=True)
    if "labelled" in frame.columns:
        frame["labelled"] = frame["labelled"].fillna(0).astype("int64")
    frame["drifted"] = [", ".join(d) if isinstance(d, list) else "" for d in frame["drifted"]]
    drop = [c for c in ("integrity", "drift_error", "columns", "drift_share") if c in frame]
    return frame.drop(columns=drop).reset_index(drop=True)
