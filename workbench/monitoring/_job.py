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
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ModelError, MonitoringError
from workbench.monitoring._alerts import Alert, Bound, performance_alerts
from workbench.monitoring._checkpoint import MonitorStore
from workbench.monitoring._increment import Step, results_frame

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.monitoring._notify import Delivery, Notifier

__all__ = ["MonitorResult", "run_monitor"]

_log = logging.getLogger(__name__)


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
        timings: Seconds spent reading the log, the actuals, computing the results,
            recording them and committing (empty when nothing new arrived).
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
    timings: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        """One line for a log file or a terminal."""
        firing = ", ".join(a.metric for a in self.alerts) or "none"
        return (
            f"{self.model_name} v{self.version} (@{self.alias}): run {self.run}, "
            f"{self.new_rows:,} new rows, {self.new_actuals:,} new actuals, "
            f"{len(self.periods)} periods; alerts holding: {firing}; "
            f"{len(self.deliveries)} messages sent"
        )


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
    with (store.folder / "lock").open("a+") as handle:
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


def run_monitor(
    model_name: str | None = None,
    *,
    alias: str = "champion",
    log_dir: str | Path | None = None,
    period: str = "1D",
    thresholds: Mapping[str, Bound] | None = None,
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
            labels, estimated ones) that make an alert; default: the bounds the
            version's validation metrics give (``thresholds_from_metrics``); ``{}``:
            none.
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
    if thresholds is None:  # the watched version's own bounds, from its model card
        from workbench._versions import VersionArtifacts as Artifacts
        from workbench.monitoring._collect import _thresholds_of

        thresholds = dict(_thresholds_of(Artifacts.of(name, version=watched, settings=s)))
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
        run_id: str | None = None
        snapshots: list[Path] = []
        timings: dict[str, float] = {}
        if segments or actual_files:
            run = checkpoint.run + 1
            clock = time.perf_counter()

            def lap(what: str) -> None:
                nonlocal clock
                timings[what] = time.perf_counter() - clock
                clock = time.perf_counter()

            step = Step(name, period, s, store, checkpoint, state, run)
            new_rows, skipped = step.read_log(place, segments)
            lap("log")
            new_actuals = step.read_actuals(actual_place, actual_files)
            lap("actuals")
            changed = step.recompute()
            lap("results")
            state = step.state
            alerts = _alerts_of(state, watched, thresholds, integrity_share, min_rows)
            if record and changed.get(watched):
                snapshots = step.write_dashboard(watched, changed[watched])
                run_id = step.record_mlflow(watched, changed[watched], alerts)
            lap("record")
            step.commit(segments, actual_files)
            lap("commit")
            _log.info("monitor run %d of %s: %s", run, name, timings)
        results = results_frame(state, watched)
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
        timings,
    )


def _alerts_of(
    state: Mapping[str, Any],
    version: str,
    thresholds: Mapping[str, Bound] | None,
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
