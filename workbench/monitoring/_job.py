"""The scheduled monitor: what arrived since the last run → results per period → alerts.

:func:`run_monitor` (and ``workbench monitor``, a cron line, a Kubernetes CronJob or a
notebook cell) reads only the inference-log segments and actuals files that arrived since
its checkpoint (:mod:`workbench.monitoring._checkpoint`), adds them to the counts kept
per model version and period, and for every period that changed computes:

* drift and integrity, from the mergeable counts ``collect`` keeps (the same
  ``PeriodStats``: a period that spans two runs is the sum of both);
* realized performance (``performance_over_time``) where actuals were recorded, from
  the monitor's ledger of logged predictions joined with the actuals that arrived (an
  actual recorded days later finds its row there);
* for a classifier, performance estimated from the logged scores (CBPE) where not.

Then it records the changed periods in MLflow (one run per monitor run, tagged with its
number: a repeated attempt replaces its run) and as the drift snapshots and
performance table the dashboard reads, commits the checkpoint, and evaluates the alert
rules on the latest period of the monitored alias's version: the drift verdict, the
thresholds on realized (or estimated) metrics, and the share of rows breaking the data
contract. A :class:`~workbench.monitoring.Notifier` delivers what fires, repeats and
resolves. Running it twice over the same data gives the same result; a run killed at
any point and run again gives the result of one run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import ModelError, MonitoringError
from workbench.monitoring._alerts import Alert, performance_alerts
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
    from workbench.monitoring._notify import Delivery, Notifier

__all__ = ["MonitorResult", "run_monitor"]

_log = logging.getLogger(__name__)

_LEDGER = ["model_version", "request_id", "row_in_request", "period", "prediction"]


@dataclasses.dataclass(frozen=True)
class MonitorResult:
    """What one monitor run found and did.

    Attributes:
        model_name: The monitored model; ``version`` the version ``alias`` points at.
        run: The number of the last completed run (this one, when it read anything).
        new_rows: Log rows of the model read in this run; ``new_actuals`` actuals read.
        periods: The version's results, one row per period: ``window`` (its start),
            ``rows``, ``requests``, ``share_drifted``, ``dataset_drift``, ``drifted``,
            ``integrity_rows``, ``labelled``, the realized metrics and the
            ``estimated <metric>`` ones.
        alerts: The rules that hold on the latest period.
        deliveries: The messages sent by this run (fired, repeated, resolved).
        mlflow_run_id: The MLflow run recording this run's periods (``None`` when
            nothing new arrived).
        snapshots: The drift snapshots written for the dashboard.
        skipped_rows: New rows of versions with no reference profile, not monitored.
    """

    model_name: str
    alias: str
    version: str
    run: int
    new_rows: int
    new_actuals: int
    periods: pd.DataFrame
    alerts: tuple[Alert, ...]
    deliveries: tuple[Delivery, ...] = ()
    mlflow_run_id: str | None = None
    snapshots: tuple[Path, ...] = ()
    skipped_rows: int = 0

    def summary(self) -> str:
        """One line for a log file or a terminal."""
        firing = ", ".join(a.metric for a in self.alerts) or "none"
        return (
            f"{self.model_name} v{self.version} (@{self.alias}): run {self.run}, "
            f"{self.new_rows:,} new rows, {self.new_actuals:,} new actuals, "
            f"{len(self.periods)} periods; alerts holding: {firing}; "
            f"{len(self.deliveries)} messages sent"
        )


@dataclasses.dataclass
class _Version:
    """What the monitor needs of one registered version."""

    version: str
    profile: Any
    contract: Any
    task: str
    cbpe: Any = None
    score_columns: tuple[str, ...] = ()
    classes: tuple[Any, ...] | None = None


def _load_version(name: str, version: str, settings: Settings) -> _Version | None:
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
    out = _Version(
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


@contextlib.contextmanager
def _exclusive(store: MonitorStore) -> Iterator[None]:
    """One monitor run per model at a time (a lock file; released when the process ends,
    killed or not)."""
    store.folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one scheduler is the rule there
        yield
        return
    with open(store.folder / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise MonitoringError(
                f"Another monitor run of this model is under way (it holds "
                f"{store.folder / 'lock'}); this one stops without reading anything."
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_segments(
    files: list[str], place: Any, name: str, columns: set[str]
) -> Iterator[pd.DataFrame]:
    """The rows of ``name`` in each segment, with the columns any version needs."""
    import pyarrow.parquet as pq

    for file in files:
        if place.local:
            schema = pq.read_schema(file)
            kept = [c for c in schema.names if c in columns]
            table = pq.read_table(file, columns=kept)
        else:
            with place.fs.open(file, "rb") as handle:
                table = pq.read_table(handle)
            table = table.select([c for c in table.column_names if c in columns])
        frame = table.to_pandas()
        if "model_name" in frame.columns:
            frame = frame[frame["model_name"].astype(str) == name]
        yield frame.reset_index(drop=True)


def _iso(start: Any) -> str:
    import pandas as pd

    return str(pd.Timestamp(start).isoformat())


def run_monitor(
    model_name: str | None = None,
    *,
    alias: str = "champion",
    log_dir: str | Path | None = None,
    period: str = "1D",
    thresholds: Mapping[str, tuple[str, float]] | None = None,
    integrity_share: float = 0.05,
    min_rows: int = 1,
    notifier: Notifier | None = None,
    record: bool = True,
    settings: Settings | None = None,
    now: float | None = None,
) -> MonitorResult:
    """One monitor run: the log rows and actuals that arrived since the last run.

    Args:
        model_name: The registered model (default: the ``model_name`` setting).
        alias: Whose version the alerts are about (every version in the log with a
            stored profile is monitored).
        log_dir: The inference log (default: the ``inference_log_dir`` setting).
        period: A pandas frequency (``"1h"``, ``"1D"``, ``"1W"``) on the log's time.
        thresholds: ``{"mae": ("max", 150.0)}``: bounds on realized metrics (or, before
            labels, estimated ones) that make an alert.
        integrity_share: The share of a period's rows breaking one rule of the data
            contract that makes an alert.
        min_rows: Alerts look at the latest period with at least this many rows.
        notifier: Delivers alerts (fired, repeated, resolved); ``None``: none sent.
        record: Record the changed periods in MLflow and the dashboard's snapshots.
        settings: Settings (default: resolved from the working directory).
        now: The time (epoch seconds) alerts are timed by (default: the clock).

    Returns:
        A :class:`MonitorResult`.

    Raises:
        MonitoringError: The alias names no version, another run holds the lock, or
            the period is not a pandas frequency.
    """
    import pandas as pd

    from workbench._settings import get_settings
    from workbench._versions import VersionArtifacts
    from workbench.serving import LogFolder

    s = settings or get_settings()
    name = model_name or s.model_name
    try:
        pd.tseries.frequencies.to_offset(period)
    except (ValueError, TypeError) as exc:
        raise MonitoringError(
            f"The monitor's period must be a pandas frequency such as '1h', '1D' or '1W'; "
            f"got {period!r}."
        ) from exc
    try:
        watched = str(VersionArtifacts.of(name, alias=alias, settings=s).version)
    except ModelError as exc:
        raise MonitoringError(f"Nothing to monitor: {exc}") from exc
    place = LogFolder(str(log_dir) if log_dir is not None else str(s.inference_log_dir))
    store = MonitorStore(Path(s.monitoring_dir) / "monitor" / name)
    with _exclusive(store):
        checkpoint = store.checkpoint()
        store.clean(checkpoint)
        state = store.state(checkpoint)
        segments = [
            f
            for f in (place.glob("segment-*.parquet") if place.exists() else [])
            if Path(f).name not in checkpoint.segments
        ]
        actual_place = place.child("actuals")
        actual_files = [
            f
            for f in (actual_place.glob("actuals-*.parquet") if actual_place.exists() else [])
            if Path(f).name not in checkpoint.actuals
        ]
        run = checkpoint.run
        new_rows = new_actuals = skipped = 0
        run_id, snapshots = None, ()
        if segments or actual_files:
            run = checkpoint.run + 1
            step = _Step(name, period, s, store, checkpoint, state, run)
            new_rows, skipped = step.read_log(place, segments)
            new_actuals = step.read_actuals(actual_place, actual_files)
            changed = step.recompute()
            state = step.state
            alerts = _alerts_of(state, watched, thresholds, integrity_share, min_rows)
            if record and changed.get(watched):
                snapshots = step.write_dashboard(watched, changed[watched])
                run_id = step.record_mlflow(watched, changed[watched], alerts)
            step.commit(segments, actual_files)
        results = _frame(state, watched)
        alerts = _alerts_of(state, watched, thresholds, integrity_share, min_rows)
        deliveries: tuple[Delivery, ...] = ()
        if notifier is not None:
            deliveries = tuple(
                notifier.update(
                    alerts,
                    source=f"{name} v{watched} (@{alias})",
                    store=store.folder,
                    now=time.time() if now is None else now,
                )
            )
    return MonitorResult(
        name,
        alias,
        watched,
        run,
        new_rows,
        new_actuals,
        results,
        tuple(alerts),
        deliveries,
        run_id,
        tuple(snapshots),
        skipped,
    )


class _Step:
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
        self.versions: dict[str, _Version | None] = {}
        self.ledger = pd.DataFrame(columns=_LEDGER)
        self.labels = pd.DataFrame()
        self.pending = (
            pd.read_parquet(store.pending_actuals_path(checkpoint.run))
            if checkpoint.run and store.pending_actuals_path(checkpoint.run).is_file()
            else pd.DataFrame(columns=["request_id", "row_in_request", "actual", "recorded_at"])
        )
        self.touched: dict[str, set[str]] = {}

    def version(self, version: str) -> _Version | None:
        if version not in self.versions:
            self.versions[version] = _load_version(self.name, version, self.settings)
        return self.versions[version]

    def read_log(self, place: Any, files: list[str]) -> tuple[int, int]:
        """Counts per period and ledger rows of the new segments; returns the rows read
        and those skipped (versions without a profile)."""
        import pandas as pd

        from workbench._progress import map_with_progress
        from workbench.monitoring._collect import _stats_of
        from workbench.monitoring._periods import period_keys

        if not files:
            return 0, 0
        versions = self._versions_in(place, files)
        columns = {"model_name", "model_version", "timestamp", "request_id"}
        columns |= {"row_in_request", "latency_ms", "prediction"}
        for v in versions.values():
            columns |= set(v.profile.columns)
            columns |= {c.name for c in v.contract.columns} if v.contract is not None else set()
            columns |= set(v.score_columns)

        def one(file: str) -> tuple[dict[str, dict[Any, Any]], pd.DataFrame, int]:
            frame = next(_read_segments([file], place, self.name, columns))
            stats: dict[str, dict[Any, Any]] = {}
            ledgers, skipped = [], 0
            for version, part in frame.groupby(frame["model_version"].astype(str), sort=True):
                v = versions.get(str(version))
                if v is None:
                    skipped += len(part)
                    continue
                part = part.reset_index(drop=True)
                names = [c for c in v.profile.columns if c in part.columns]
                stats[str(version)] = _stats_of(
                    part, v.profile.subset(names), self.period, v.contract
                )
                kept = [c for c in [*_LEDGER, *v.score_columns] if c in part or c == "period"]
                ledger = part.assign(
                    period=period_keys(part, self.period, "timestamp"),
                    model_version=str(version),
                )[kept]
                ledgers.append(ledger)
            return stats, (pd.concat(ledgers) if ledgers else pd.DataFrame()), skipped

        parts = map_with_progress(
            one,
            files,
            desc="reading new log segments",
            show=False,
        )
        rows = skipped = 0
        ledgers = []
        for stats, ledger, lost in parts:
            skipped += lost
            rows += len(ledger)
            if len(ledger):
                ledgers.append(ledger)
            for version, per_period in stats.items():
                kept = self.state["versions"].setdefault(version, {"periods": {}, "results": {}})
                for start, counts in per_period.items():
                    key = _iso(start)
                    old = kept["periods"].get(key)
                    total = counts if old is None else stats_from_dict(old) + counts
                    kept["periods"][key] = stats_to_dict(total)
                    self.touched.setdefault(version, set()).add(key)
        if ledgers:
            self.ledger = pd.concat(ledgers, ignore_index=True)
        return rows, skipped

    def _versions_in(self, place: Any, files: list[str]) -> dict[str, _Version]:
        """The versions of the model named in the new segments, each with its profile."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        found: set[str] = set()
        for file in files:
            if place.local:
                table = pq.read_table(file, columns=["model_name", "model_version"])
            else:
                with place.fs.open(file, "rb") as handle:
                    table = pq.read_table(handle, columns=["model_name", "model_version"])
            mine = table.filter(pc.equal(table["model_name"].cast("string"), self.name))
            found |= {str(v) for v in pc.unique(mine["model_version"]).to_pylist()}
        loaded = {v: self.version(v) for v in sorted(found)}
        return {v: info for v, info in loaded.items() if info is not None}

    def read_actuals(self, place: Any, files: list[str]) -> int:
        """Match the new actuals (and those waiting) to ledger rows; returns how many
        new ones were read."""
        import pandas as pd

        if not files and not len(self.pending):
            return 0
        frames = [place.read(f) for f in files]
        new = pd.concat(frames, ignore_index=True) if frames else self.pending.iloc[:0]
        count = len(new)
        waiting = pd.concat([self.pending, new], ignore_index=True)
        if not len(waiting):
            return count
        waiting = waiting.astype({"request_id": str, "row_in_request": "int64"})
        ids = waiting["request_id"].unique().tolist()
        known = pd.concat(
            [self._old("ledger", ["model_version", "request_id", "row_in_request", "period"], ids)]
            + [self.ledger[["model_version", "request_id", "row_in_request", "period"]]],
            ignore_index=True,
        ).astype({"request_id": str, "row_in_request": "int64"})
        matched = waiting.merge(known, on=["request_id", "row_in_request"], how="left")
        found = matched["period"].notna()
        self.pending = waiting[~found.to_numpy()].reset_index(drop=True)
        self.labels = matched[found.to_numpy()].reset_index(drop=True)
        for version, period in self.labels[["model_version", "period"]].drop_duplicates().values:
            self.state["versions"].setdefault(str(version), {"periods": {}, "results": {}})
            self.touched.setdefault(str(version), set()).add(_iso(period))
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
        return data.to_table(columns=wanted, filter=where).to_pandas()

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
                row = _period_result(v, key, stats_from_dict(kept["periods"][key]))
                for frame, prefix in ((performance, ""), (estimated, "estimated ")):
                    if frame is not None:
                        match = frame[frame["window"].map(_iso) == key]
                        for column, value in (match.iloc[0].items() if len(match) else []):
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
        table = _frame(self.state, version)
        atomic_write(
            out / f"performance-{self.name}-v{version}.json",
            table.to_json(orient="records", date_format="iso"),
        )
        return written

    def _snapshot(self, version: str, key: str) -> Any:
        v = self.version(version)
        if v is None:
            return None
        from workbench.monitoring._drift import compute_drift

        stats = stats_from_dict(self.state["versions"][version]["periods"][key])
        names = [c for c in v.profile.columns if c in stats.summary.columns]
        try:
            return compute_drift(
                v.profile.subset(names),
                stats.summary,
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
        table = _frame(self.state, version)
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


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _period_result(v: _Version, key: str, stats: Any) -> dict[str, Any]:
    """Drift and integrity of one period from its counts."""
    from workbench.monitoring._drift import compute_drift

    row: dict[str, Any] = {
        "window": key,
        "rows": stats.rows,
        "requests": stats.requests,
        "integrity": [[c, p, n] for (c, p), n in sorted(stats.integrity.items())],
        "integrity_rows": int(sum(stats.integrity.values())),
    }
    names = [c for c in v.profile.columns if c in stats.summary.columns]
    try:
        snap = compute_drift(v.profile.subset(names), stats.summary)
    except MonitoringError as exc:
        row |= {"share_drifted": None, "dataset_drift": None, "drifted": [], "drift_error": str(exc)}
        return row
    row |= {
        "share_drifted": snap.share_drifted,
        "dataset_drift": bool(snap.dataset_drift),
        "drifted": list(snap.drifted_columns),
        "drift_share": snap.drift_share,
        "columns": len(snap.columns),
    }
    return row


def _frame(state: Mapping[str, Any], version: str) -> pd.DataFrame:
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


def _alerts_of(
    state: Mapping[str, Any],
    version: str,
    thresholds: Mapping[str, tuple[str, float]] | None,
    integrity_share: float,
    min_rows: int,
) -> list[Alert]:
    """The rules that hold on the version's latest period with ``min_rows`` rows."""
    import pandas as pd

    results = state["versions"].get(version, {}).get("results", {})
    latest = [k for k in sorted(results) if results[k]["rows"] >= min_rows]
    if not latest:
        return []
    key = latest[-1]
    row = results[key]
    alerts = []
    if row.get("dataset_drift"):
        alerts.append(
            Alert(
                key,
                "drift",
                float(row["share_drifted"]),
                float(row.get("drift_share", 0.5)),
                f"{len(row['drifted'])} of {row.get('columns', '?')} columns drifted in the "
                f"period starting {key}: {', '.join(row['drifted'])}.",
            )
        )
    for column, problem, count in row.get("integrity", []):
        share = count / max(row["rows"], 1)
        if share > integrity_share:
            alerts.append(
                Alert(
                    key,
                    f"integrity {column}: {problem}",
                    share,
                    integrity_share,
                    f"{count:,} of {row['rows']:,} rows ({share:.1%}) in the period starting "
                    f"{key} have {problem} in {column!r} (alert above {integrity_share:.1%}).",
                )
            )
    if thresholds:
        window = pd.Timestamp(key)
        realized = {k: v for k, v in row.items() if not k.startswith("estimated ")}
        labelled = row.get("labelled", 0) or 0
        performance = pd.DataFrame([{**realized, "window": window}]) if labelled else None
        guessed = {k.removeprefix("estimated "): v for k, v in row.items() if "estimated " in k}
        estimated = pd.DataFrame([{**guessed, "window": window}]) if guessed else None
        usable = {
            k: b
            for k, b in thresholds.items()
            if (performance is not None and k in performance) or (guessed and k in guessed)
        }
        if usable:
            crossed = performance_alerts(performance, None if labelled else estimated, usable)[1]
            alerts += [dataclasses.replace(a, window=key) for a in crossed]
    return alerts
