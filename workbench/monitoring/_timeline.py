"""Monitoring over time: drift per period, integrity of a batch, errors, and MLflow.

* :func:`drift_over_time` — one :class:`DriftSnapshot` per time period of the inference
  log (pandas or Dask), from the reference profile stored with the model: each period
  against the same calendar days of the reference where it spans a year of the same
  event time (inputs with a season then compare like with like), else the whole of it;
* :func:`check_integrity` — a production batch against the data contract: type errors,
  out-of-range values, unknown categories, missing values where none may be, and
  missing-value surges against the reference;
* :func:`errors_over_time` — refused and failed requests per period, from the server's
  error log;
* :func:`log_to_mlflow` — snapshots, metrics per period and alerts as an MLflow run.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import MonitoringError
from workbench.monitoring._alerts import Alert
from workbench.monitoring._drift import DriftSnapshot, drift_of_period, seasonal_reference
from workbench.monitoring._periods import period_span, periods, renamed_window
from workbench.monitoring._profile import ReferenceProfile, summarize_by_period

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.data import Contract

__all__ = [
    "DriftTimeline",
    "IntegrityReport",
    "check_integrity",
    "drift_over_time",
    "errors_over_time",
    "log_to_mlflow",
    "reference_profile_of",
]


@dataclass(frozen=True)
class DriftTimeline:
    """Drift per period: one snapshot each, in time order (each snapshot's
    ``metadata["window"]`` names its period: the start, or ``row N``)."""

    snapshots: tuple[DriftSnapshot, ...]

    @property
    def reference(self) -> str:
        """What the periods were compared with: ``the same days of the reference year``
        or ``the whole reference`` (the days added around each period, where any, are in
        its snapshot's ``metadata["reference"]``)."""
        label = str(self.snapshots[0].metadata.get("reference", "the whole reference"))
        return label.split(" (")[0]

    def frame(self) -> pd.DataFrame:
        """One row per period: ``window`` (its start), ``rows``, ``share_drifted``,
        ``dataset_drift``, ``drifted`` (names) and each column's statistic."""
        import pandas as pd

        rows = []
        for snap in self.snapshots:
            label = snap.metadata["window"]
            record: dict[str, Any] = {
                "window": int(label[4:]) if label.startswith("row ") else pd.Timestamp(label),
                "rows": snap.current_rows,
                "share_drifted": snap.share_drifted,
                "dataset_drift": snap.dataset_drift,
                "drifted": ", ".join(snap.drifted_columns),
            }
            record |= {c.column: c.statistic for c in snap.columns}
            rows.append(record)
        return pd.DataFrame(rows)

    def alerts(self) -> list[Alert]:
        """An alert per period where the dataset drifted, naming the columns."""
        return [
            Alert(
                snap.metadata["window"],
                "share_drifted",
                snap.share_drifted,
                snap.drift_share,
                f"{len(snap.drifted_columns)} of {len(snap.columns)} columns drifted in the "
                f"period starting {snap.metadata['window']}: {', '.join(snap.drifted_columns)}.",
            )
            for snap in self.snapshots
            if snap.dataset_drift
        ]


def drift_over_time(
    reference: pd.DataFrame | ReferenceProfile,
    current: Any,
    period: str | int = "1D",
    columns: Sequence[str] | None = None,
    *,
    window: str | int | None = None,
    time_column: str = "timestamp",
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    min_rows: int = 1,
    metadata: Mapping[str, Any] | None = None,
    progress: bool = True,
    compare_with: str = "auto",
    tolerance: int | None = None,
) -> DriftTimeline:
    """Drift of each time period of ``current`` (the inference log, pandas or Dask).

    Each period is compared with the reference rows of the same calendar days (a week of
    January with the reference's January week; a few days around added where fewer than
    100) when ``compare_with`` is ``"seasonal"``, or ``"auto"`` and the profile has a
    calendar spanning a year of the event time the periods follow (``time_column``):
    inputs with a season do not look drifted in every period against a whole year.
    Otherwise each period is compared with the whole reference. Each snapshot's
    ``metadata["reference"]`` says which.

    Args:
        reference: Training data or its stored :class:`ReferenceProfile`.
        current: The log, with ``time_column``.
        period: A pandas frequency (``"1h"``, ``"1D"``, ``"1W"``), or a row count for
            consecutive blocks of that many rows (pandas only).
        columns: Columns to test (default: the profiled columns the log has).
        window: Deprecated: the old name of ``period``.
        time_column: The event-time column.
        tests: As :func:`compute_drift`.
        thresholds: As :func:`compute_drift`.
        drift_share: As :func:`compute_drift`.
        min_rows: Periods with fewer rows are left out (too few to test).
        metadata: Stored with every snapshot (plus its period, as ``window``).
        progress: A progress bar over a Dask frame's partitions.
        compare_with: ``"auto"``, ``"seasonal"`` (the same calendar days) or
            ``"whole"`` (the whole reference).
        tolerance: Days added on each side of a period's own calendar days (default:
            none, or as few as give 100 reference rows).

    Raises:
        MonitoringError: As :func:`compute_drift`, or no period has ``min_rows`` rows,
            or ``"seasonal"`` without a calendar in the profile or with count periods.
    """
    period = renamed_window(period, window, default="1D", caller="drift_over_time")
    if isinstance(reference, ReferenceProfile):
        profile = reference
    else:
        available = set(current.columns)
        names = [c for c in reference.columns if c in available and c != time_column]
        profile = ReferenceProfile.from_frame(reference, columns if columns is not None else names)
    asked = (
        list(columns)
        if columns is not None
        else [
            c
            for c in [*profile.columns, *profile.skipped]
            if c in current.columns and c != time_column
        ]
    )
    count_periods = isinstance(period, int) and not isinstance(period, bool)
    seasonal = seasonal_reference(profile, compare_with, time_column)
    if count_periods and compare_with == "auto":
        seasonal = False
    profile = profile.subset(asked)  # datetime columns stay named, to say they were left out
    names = [c for c in asked if c not in profile.skipped]
    subset = current[[*names, time_column]]
    if isinstance(period, int) and not isinstance(period, bool):  # every N rows, in time order
        if hasattr(current, "to_delayed"):
            raise MonitoringError(
                "Count periods need the rows in one order; on a Dask frame use a time "
                "period ('1h', '1D', '1W')."
            )
        per_period = {
            start: profile.summarize(part)
            for start, part in periods(subset, period, time_column=time_column)
        }
    else:
        per_period = summarize_by_period(
            subset, profile, str(period), time_column=time_column, progress=progress
        )
    snapshots = tuple(
        drift_of_period(
            profile,
            summary,
            *(period_span(start, str(period)) if not count_periods else (None, None)),
            seasonal=seasonal,
            tolerance=tolerance,
            columns=asked,
            tests=tests,
            thresholds=thresholds,
            drift_share=drift_share,
            metadata={**(metadata or {}), "window": _period_label(start)},
        )
        for start, summary in per_period.items()
        if summary.rows >= min_rows
    )
    if not snapshots:
        raise MonitoringError(f"No {period} period has at least {min_rows} rows to test.")
    return DriftTimeline(snapshots)


def _period_label(start: Any) -> str:
    return start.isoformat() if hasattr(start, "isoformat") else f"row {start}"


@dataclass(frozen=True)
class IntegrityReport:
    """What a production batch breaks, per column and problem.

    Attributes:
        rows: Rows in the batch.
        violations: One row per (column, problem): ``count``, ``share`` of the batch and
            up to three ``examples`` (masked for personal columns).
        quarantined: Rows that failed at least one contract check.
    """

    rows: int
    violations: pd.DataFrame
    quarantined: int
    alerts: tuple[Alert, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.violations.empty


def problems_of(failures: pd.DataFrame) -> pd.DataFrame:
    """``validate``'s failures with the kind of problem of each in ``problem``: the one
    naming that ``check_integrity`` and the dashboard's integrity counts share."""
    return failures.assign(problem=[_problem(str(c)) for c in failures["check"]])


def _problem(check: str) -> str:
    """The kind of problem behind one of ``validate``'s check labels."""
    if check.startswith("type:"):
        return "type error"
    if check.startswith("must be"):
        return "out of range"
    if check.startswith("not one of"):
        return "unknown category"
    return check  # "missing value", "duplicate value", a rule's own name


def check_integrity(
    batch: pd.DataFrame,
    contract: Contract,
    reference: ReferenceProfile | None = None,
    *,
    missing_surge: float = 0.1,
    source: str = "<batch>",
) -> IntegrityReport:
    """Check a production batch against the data contract (and the reference).

    Contract checks (through ``workbench.data.validate``): type errors, out-of-range
    values, unknown categories, missing values in non-nullable columns, and the rest of
    the contract's rules. With a ``reference`` profile, also: a missing-value surge (the
    batch's missing share exceeds the reference's by ``missing_surge`` or more) and, for
    text columns without declared categories, values the reference never had.

    Returns:
        An :class:`IntegrityReport`; every violation is also an alert with its reason.
    """
    import pandas as pd

    from workbench._summaries import CategoricalCounts
    from workbench.data import mask_value, validate

    result = validate(batch, contract, source=source, quarantine_dir=False)
    personal = set(contract.pii_columns)
    records: list[dict[str, Any]] = []
    failures = result.failures
    if len(failures):
        failures = problems_of(failures)
        for (column, problem), part in failures.groupby(["column", "problem"], sort=True):
            examples = part["value"].drop_duplicates().head(3).tolist()
            records.append(
                {
                    "column": column,
                    "problem": problem,
                    "count": int(part["row"].nunique()),
                    "examples": examples,
                }
            )
    if reference is not None:
        for name in reference.columns:
            if name not in batch.columns:
                continue
            ref = reference.summary.columns[name]
            ref_share = ref.missing / max(ref.rows, 1)
            share = float(batch[name].isna().mean()) if len(batch) else 0.0
            if share - ref_share >= missing_surge:
                records.append(
                    {
                        "column": name,
                        "problem": "missing-value surge",
                        "count": int(batch[name].isna().sum()),
                        "examples": [f"{share:.1%} missing vs {ref_share:.1%} in the reference"],
                    }
                )
            declared = next((c for c in contract.columns if c.name == name), None)
            if isinstance(ref, CategoricalCounts) and not (declared and declared.categories):
                seen = batch[name].dropna().astype(str)
                new = seen[~seen.isin(ref.counts.keys())]
                if len(new):
                    shown = new.drop_duplicates().head(3).tolist()
                    records.append(
                        {
                            "column": name,
                            "problem": "new category",
                            "count": len(new),
                            "examples": [mask_value(v) for v in shown]
                            if name in personal
                            else shown,
                        }
                    )
    violations = pd.DataFrame(records, columns=["column", "problem", "count", "examples"])
    violations.insert(3, "share", violations["count"] / max(len(batch), 1))
    alerts = tuple(
        Alert(
            source,
            f"{row['column']}:{row['problem']}",
            float(row["count"]),
            0.0,
            f"{row['column']}: {row['count']} rows with {row['problem']} "
            f"({row['share']:.1%} of {len(batch)}), e.g. {row['examples']}.",
        )
        for row in violations.to_dict("records")
    )
    return IntegrityReport(len(batch), violations, len(result.quarantine), alerts)


def errors_over_time(
    log_dir: str | Path, period: str | int = "1D", *, window: str | int | None = None
) -> pd.DataFrame:
    """Refused (4xx) and failed (5xx) requests per period, from the server's error log
    (``window=``: deprecated, the old name of ``period``).

    Returns:
        ``window`` (the period's start), ``errors``, ``client_errors`` (4xx),
        ``server_errors`` (5xx) and one column per status code; empty when there was no
        error.
    """
    import pandas as pd

    from workbench.serving import read_errors

    period = renamed_window(period, window, default="1D", caller="errors_over_time")
    errors = read_errors(log_dir)
    if errors.empty:
        return pd.DataFrame(columns=["window", "errors", "client_errors", "server_errors"])
    rows = []
    for start, part in periods(errors, period):
        statuses = part["status"].astype(int)
        rows.append(
            {
                "window": start,
                "errors": len(part),
                "client_errors": int((statuses < 500).sum()),
                "server_errors": int((statuses >= 500).sum()),
                **{str(code): int(n) for code, n in statuses.value_counts().sort_index().items()},
            }
        )
    return pd.DataFrame(rows).fillna(0)


def reference_profile_of(
    name: str, *, alias: str = "champion", settings: Settings | None = None
) -> ReferenceProfile:
    """The reference profile ``package_model`` stored with a registered version.

    Raises:
        MonitoringError: No such version, or it has no profile (packaged before profiles
            were stored).
    """
    from workbench._exceptions import ModelError
    from workbench._versions import VersionArtifacts

    try:
        version = VersionArtifacts.of(name, alias=alias, settings=settings)
    except ModelError as exc:
        raise MonitoringError(str(exc)) from exc
    if version.reference_profile_path is None:
        raise MonitoringError(
            f"{name}@{alias} (version {version.version}) has no stored reference profile; "
            f"package it again with workbench.packaging.package_model."
        )
    return ReferenceProfile.load(version.reference_profile_path)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def log_to_mlflow(
    run_name: str,
    *,
    timeline: DriftTimeline | None = None,
    performance: pd.DataFrame | None = None,
    alerts: Sequence[Alert] = (),
    experiment: str = "monitoring",
    tags: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> str:
    """Record monitoring results as one MLflow run; returns its id.

    Per period (``step`` = period number, timestamp = period start): the share of drifted
    columns, each column's drift statistic (``drift.<column>``) and each performance
    metric. Artifacts: every snapshot (``snapshots/``), the performance table and the
    alerts (JSON).
    """
    import pandas as pd

    from workbench._settings import get_settings
    from workbench._tracking import ensure_experiment, mlflow_for

    s = settings or get_settings()
    mlflow = mlflow_for(s)
    client = mlflow.MlflowClient()
    experiment_id = ensure_experiment(experiment, s)
    run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags or {}))
    run_id: str = run.info.run_id
    metrics = mlflow.entities.Metric
    batch = []

    def stamp(value: Any) -> int:
        when = pd.Timestamp(value) if not isinstance(value, int | float) else None
        return int(when.timestamp() * 1000) if when is not None else 0

    if timeline is not None:
        for step, snap in enumerate(timeline.snapshots):
            ms = stamp(snap.metadata["window"])
            batch.append(metrics("drift.share_drifted", snap.share_drifted, ms, step))
            batch += [
                metrics(f"drift.{c.column}", float(c.statistic), ms, step) for c in snap.columns
            ]
    if performance is not None:
        for step, row in enumerate(performance.to_dict("records")):
            ms = stamp(row["window"])
            batch += [
                metrics(f"performance.{k}", float(v), ms, step)
                for k, v in row.items()
                if k != "window" and isinstance(v, int | float) and v == v
            ]
    for start in range(0, len(batch), 1000):
        client.log_batch(run_id, metrics=batch[start : start + 1000])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if timeline is not None:
            (out / "snapshots").mkdir()
            for i, snap in enumerate(timeline.snapshots):
                snap.save(out / "snapshots" / f"drift-{i:04d}.json")
        if performance is not None:
            performance.to_json(out / "performance.json", orient="records", date_format="iso")
        (out / "alerts.json").write_text(
            json.dumps([a.__dict__ for a in alerts], default=str, indent=1)
        )
        client.log_artifacts(run_id, str(out))
    client.set_terminated(run_id)
    return run_id
