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

An alert rule with an action (:class:`~workbench.monitoring.AlertAction`: ``retrain``)
runs it when its alert fires, after the results are committed and the alerts
delivered, at most once per firing: ``actions.json`` in the monitor's folder says which
firing each rule answered, written before the action starts (a run killed during a
retrain reports it interrupted at the next run instead of retraining twice), and it
forgets a firing when its alert clears. What each action did is told to the
receivers, appended to ``actions.jsonl``, and tagged on the run's MLflow run
(``workbench.actions``); a failed retrain is reported there, never raised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ModelError, MonitoringError
from workbench.monitoring._alerts import Alert, AlertAction, Bound, performance_alerts
from workbench.monitoring._checkpoint import MonitorStore
from workbench.monitoring._increment import Step, results_frame

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.monitoring._notify import Delivery, Notifier

__all__ = ["ActionOutcome", "MonitorResult", "run_monitor"]

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ActionOutcome:
    """What an alert rule's action did in one monitor run.

    Attributes:
        metric: The alert that fired; ``window`` its period; ``action`` what ran.
        state: ``done``, ``failed`` or ``interrupted`` (a run killed during it; not
            run again for the same firing).
        version: The packaged challenger's version (``done``).
        promoted: Whether it was then promoted to ``@champion``.
        detail: The retraining's summary line, or the error.
    """

    metric: str
    window: str
    action: str
    state: str
    version: str | None = None
    promoted: bool = False
    detail: str = ""

    def line(self) -> str:
        """One line for a terminal."""
        if self.state == "done":
            moved = "; promoted to @champion" if self.promoted else ""
            return f"{self.action} on {self.metric}: {self.detail}{moved}"
        return f"{self.action} on {self.metric} {self.state.upper()}: {self.detail}"


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
        actions: What the alert rules' actions did in this run (``retrain``: once per
            firing).
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
    actions: tuple[ActionOutcome, ...] = ()

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


@contextlib.contextmanager
def _client(cluster: Any, n_workers: int | None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cluster`` (``None``: none, in process)."""
    if cluster is None:
        yield None
        return
    from workbench.tuning._clusters import cluster_client

    with cluster_client(cluster, n_workers) as client:
        yield client


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
    actions: Sequence[AlertAction] = (),
    cluster: Any = None,
    n_workers: int | None = None,
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
        actions: What to do when an alert fires (``actions_from_settings`` gives the
            project's rules); run after the results are committed, once per firing.
        cluster: Where the new segments are read and counted: ``None`` (default) in
            this process, on threads; ``"local"``: a LocalCluster started here for the
            run; a scheduler address (``tcp://host:port``) or a ``distributed.Client``.
            The result is exactly the in-process one (the same chunks, merged in the same
            order); the workers must reach the log's folder or bucket.
        n_workers: Worker processes of a ``"local"`` cluster (default: one per CPU).
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
            with _client(cluster if segments else None, n_workers) as client:
                if client is not None and cluster == "local":
                    lap("cluster")  # starting it; the log's reading is timed apart
                new_rows, skipped = step.read_log(place, segments, client)
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
        outcomes: tuple[ActionOutcome, ...] = ()
        if actions:
            outcomes = _act(
                actions,
                alerts,
                store,
                Context(name, watched, alias, period, s, notifier, run),
                now=time.time() if now is None else now,
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
        outcomes,
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


@dataclasses.dataclass(frozen=True)
class Context:
    """What an action needs to know of the monitor run that set it off."""

    name: str
    version: str
    alias: str
    period: str
    settings: Settings
    notifier: Notifier | None
    run: int

    @property
    def source(self) -> str:
        return f"{self.name} v{self.version} (@{self.alias})"


def _act(
    actions: Sequence[AlertAction],
    alerts: Sequence[Alert],
    store: MonitorStore,
    context: Context,
    *,
    now: float,
) -> tuple[ActionOutcome, ...]:
    """Run the action of each alert that fired since it was last answered; forget the
    firings whose alert cleared. At most once per firing: the book names the firing
    before the action starts; alerts that fire in the same run share one retrain."""
    import json

    from workbench.monitoring._checkpoint import atomic_write
    from workbench.monitoring._notify import _iso

    path = store.folder / "actions.json"
    book: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else {}
    holding = {a.metric: a for a in alerts}
    outcomes: list[ActionOutcome] = []
    for metric in sorted(book):
        entry = book[metric]
        if entry["state"] == "started":  # a run killed during it: told, never redone
            outcome = ActionOutcome(
                metric,
                entry["window"],
                entry["action"],
                "interrupted",
                detail=f"the monitor run {entry['run']} that started it stopped before it "
                "ended; it is not run again for this firing (run workbench retrain by hand)",
            )
            entry["state"] = "interrupted"
            atomic_write(path, json.dumps(book, indent=1))
            _report(outcome, entry, store, context, now)
            outcomes.append(outcome)
        if metric not in holding:  # the firing is over: the next one acts again
            del book[metric]
            atomic_write(path, json.dumps(book, indent=1))
    ran: ActionOutcome | None = None
    for metric, alert in sorted(holding.items()):
        rule = next((a for a in actions if a.matches(metric)), None)
        if rule is None or metric in book:
            continue
        entry = {
            "action": rule.action,
            "window": str(alert.window),
            "since": _iso(now),
            "run": context.run,
            "state": "started",
        }
        if ran is not None:  # alerts firing together: one retrain answers them all
            book[metric] = entry | {"state": ran.state, "detail": f"answered by {ran.metric}'s"}
            atomic_write(path, json.dumps(book, indent=1))
            continue
        book[metric] = entry
        atomic_write(path, json.dumps(book, indent=1))
        outcome = ran = _retrain(rule, alert, context)
        entry |= {"state": outcome.state, "version": outcome.version, "detail": outcome.detail}
        atomic_write(path, json.dumps(book, indent=1))
        _report(outcome, entry, store, context, now)
        outcomes.append(outcome)
    return tuple(outcomes)


def _retrain(rule: AlertAction, alert: Alert, context: Context) -> ActionOutcome:
    """``retrain`` on the label rows up to the end of the period that fired; any
    failure is the outcome, never raised (the monitor's results are committed)."""
    import pandas as pd

    from workbench.packaging import promote, retrain

    start = pd.Timestamp(alert.window)
    end = start + pd.tseries.frequencies.to_offset(context.period)
    if end.tzinfo is not None:  # label rows carry naive times, in UTC
        end = end.tz_convert("UTC").tz_localize(None)
    _log.info("alert %s fired: retraining %s up to %s", alert.metric, context.name, end)
    try:
        done = retrain(
            context.name,
            labels=rule.labels,
            until=end.isoformat(),
            since_days=rule.since_days,
            backtest_days=rule.backtest_days,
            time_column=rule.time_column,
            champion=context.alias,
            measure_cost=rule.measure_cost,
            tune=rule.tune,
            tags={
                "retrained_because": f"alert {alert.metric} on {alert.window} "
                f"(monitor run {context.run})",
            },
            settings=context.settings,
        )
        promoted = False
        if rule.promote and done.better:
            promote(
                done.model.name,
                done.backtest,
                target=done.model.card.target or "",
                metric=done.metric,
                settings=context.settings,
            )
            promoted = True
    except Exception as exc:  # reported: the monitor's results stand
        _log.exception("retraining %s on alert %s failed", context.name, alert.metric)
        return ActionOutcome(
            alert.metric, str(alert.window), rule.action, "failed",
            detail=f"{type(exc).__name__}: {exc}",
        )  # fmt: skip
    return ActionOutcome(
        alert.metric,
        str(alert.window),
        rule.action,
        "done",
        str(done.model.version),
        promoted,
        done.summary(),
    )


def _report(
    outcome: ActionOutcome,
    entry: Mapping[str, Any],
    store: MonitorStore,
    context: Context,
    now: float,
) -> None:
    """The outcome told to the receivers, appended to ``actions.jsonl`` and tagged on
    the MLflow run of the monitor run that set it off."""
    import json

    from workbench.monitoring._notify import _iso

    event = {"done": "retrained", "failed": "retrain failed"}.get(
        outcome.state, "retrain interrupted"
    )
    if context.notifier is not None:
        context.notifier.tell(
            event,
            source=context.source,
            metric=outcome.metric,
            text=outcome.line(),
            window=outcome.window,
            since=str(entry.get("since", "")),
            store=store.folder,
            now=now,
        )
    line = {**dataclasses.asdict(outcome), "run": context.run, "at": _iso(now)}
    with (store.folder / "actions.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    try:
        _tag_mlflow(outcome, store, context)
    except Exception as exc:  # the record on disk and the message stand
        _log.warning("could not tag the monitor's MLflow run with %s: %s", outcome, exc)


def _tag_mlflow(outcome: ActionOutcome, store: MonitorStore, context: Context) -> None:
    """``workbench.actions`` on the MLflow run of the monitor's latest run: the
    outcomes of this run's actions, as JSON (one tag per run, added to)."""
    import json

    from workbench._tracking import ensure_experiment, mlflow_for

    client = mlflow_for(context.settings).MlflowClient()
    found = client.search_runs(
        [ensure_experiment(f"monitoring/{context.name}", context.settings)],
        f"tags.`workbench.monitor_run` = '{context.run}' and "
        f"tags.`workbench.monitor_store` = '{store.folder}'",
        max_results=1,
    )
    if not found:
        return
    run = found[0]
    kept = json.loads(run.data.tags.get("workbench.actions", "[]"))
    kept.append(dataclasses.asdict(outcome))
    client.set_tag(run.info.run_id, "workbench.actions", json.dumps(kept)[:7900])
