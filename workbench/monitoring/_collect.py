"""The dashboard's data: one pass over the inference log, summaries per period. It is one
job, kept in one module because the pass, the period sums a date range redraws from and
the inputs of a served model's dashboard must cut the log by the same periods and time.

:func:`collect` reads the log (a folder of Parquet segments, any size) segment by segment
(on local threads, or with Dask on a cluster), and per partition and time period keeps
only what the dashboard draws: the drift counts of each profiled column, the number of
rows and requests, and a histogram of latencies. Periods add up across partitions (a
request's rows are in one segment), so the result is the same as one pass over the whole
log, and a date range is a sum of periods, drawn again without touching the log.
:func:`dashboard_inputs` adds the rest a served model's dashboard shows (realized and
estimated performance, errors), read from its registered version and its log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._summaries import Summary
from workbench.monitoring._alerts import Threshold, thresholds_from_metrics
from workbench.monitoring._cbpe import estimate_from_log, reference_classes
from workbench.monitoring._drift import DriftSnapshot, drift_of_period, seasonal_reference
from workbench.monitoring._performance import performance_over_time
from workbench.monitoring._periods import (
    ARRIVAL,
    ARRIVAL_BASIS,
    TimeBasis,
    period_keys,
    renamed_window,
    time_basis,
    times_of,
)
from workbench.monitoring._profile import ReferenceProfile
from workbench.monitoring._shadow import compare_shadow, shadow_folder
from workbench.monitoring._timeline import (
    errors_over_time,
    problems_of,
    reference_profile_of,
)

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench._versions import VersionArtifacts
    from workbench.data import Contract

__all__ = [
    "LATENCY_EDGES",
    "DashboardInputs",
    "LogOverview",
    "PeriodStats",
    "collect",
    "dashboard_inputs",
    "thresholds_of_version",
]

#: Latency histogram bin edges (ms), log-spaced from 0.1 ms to 100 s.
LATENCY_EDGES = np.concatenate([[0.0], np.logspace(-1, 5, 121)])


@dataclasses.dataclass
class PeriodStats:
    """One period of the log: drift counts, rows, requests, latency histogram, the
    rows breaking each rule of the data contract (``(column, problem) → rows``), and
    the first and last time seen in it."""

    summary: Summary
    rows: int
    requests: int
    latency: np.ndarray
    integrity: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    first: Any = None
    last: Any = None

    def __add__(self, other: PeriodStats) -> PeriodStats:
        integrity = dict(self.integrity)
        for key, count in other.integrity.items():
            integrity[key] = integrity.get(key, 0) + count
        return PeriodStats(
            self.summary + other.summary,
            self.rows + other.rows,
            self.requests + other.requests,
            self.latency + other.latency,
            integrity,
            _pick(min, self.first, other.first),
            _pick(max, self.last, other.last),
        )


def _pick(choose: Any, a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else choose(a, b)


def _row_contract(contract: Contract, columns: Sequence[str]) -> Contract | None:
    """The part of ``contract`` that a period of the log can be checked against, row by
    row: the rules of each logged column (a personal column only for missing values: the
    log holds its pseudonyms) and the cross-column rules over logged, non-personal
    columns. Key, uniqueness and duplicate-row checks span rows, so they are left out: a
    period is counted chunk by chunk and the counts add up. ``None`` when no column of
    the contract was logged."""
    from workbench.data import ColumnContract, Contract

    present = set(columns)
    kept = []
    for spec in contract.columns:
        if spec.name not in present:
            continue
        if spec.pii:
            kept.append(ColumnContract(spec.name, "str", nullable=spec.nullable, pii=True))
        else:
            kept.append(dataclasses.replace(spec, unique=False))
    if not kept:
        return None
    plain = {c.name for c in kept if not c.pii}
    rules = tuple(r for r in contract.rules if set(r.columns(contract.names)) <= plain)
    return Contract(columns=tuple(kept), rules=rules, no_duplicate_rows=False, name=contract.name)


def _violations(rows: pd.DataFrame, contract: Contract | None) -> pd.DataFrame:
    """The rows breaking the contract, one per (row position, column, problem): the data
    stage's own checks (``workbench.data.check_rows``, what ``validate`` checks: coercion
    with the contract's aliases, types, ranges, categories, missing values, rules), named
    as ``check_integrity`` names them."""
    import pandas as pd

    from workbench.data import check_rows

    checked = _row_contract(contract, list(rows.columns)) if contract is not None else None
    if checked is None:
        return pd.DataFrame({"row": [], "column": [], "problem": []})
    failures = check_rows(rows[checked.names], checked, source="inference log")
    found: pd.DataFrame = problems_of(failures)[["row", "column", "problem"]]
    return found


def _stats_of(
    part: pd.DataFrame,
    profile: ReferenceProfile,
    period: str,
    contract: Contract | None = None,
    time_column: str = ARRIVAL,
) -> dict[Any, PeriodStats]:
    """What ``collect`` keeps of each period of ``part`` (its ``PeriodStats``: drift
    counts, rows, requests, latency histogram, rows breaking each contract rule, first
    and last time), with the contract checked once for all of ``part``; periods by
    ``time_column`` (the event time, or the arrival ``timestamp``). The scheduled monitor
    keeps the same per period."""
    import pandas as pd

    part = part.reset_index(drop=True)
    times = times_of(part, time_column)
    # period codes by factorize: a groupby on the keys would turn each into a Python object
    codes, starts = pd.factorize(period_keys(part, period, time_column), sort=True)
    broken = _violations(part, contract)  # once per partition, then split by period
    broken_codes = codes[broken["row"].to_numpy(dtype=np.int64)]
    out = {}
    for code, start in enumerate(starts):
        chosen = codes == code
        rows = part[chosen]
        when = times[chosen]
        latency = rows.drop_duplicates("request_id")["latency_ms"].to_numpy(dtype=float)
        here = broken[broken_codes == code]
        counted = here.groupby(["column", "problem"], sort=True)["row"].nunique()
        out[start] = PeriodStats(
            profile.summarize(rows),
            len(rows),
            len(latency),
            np.histogram(latency, LATENCY_EDGES)[0],
            {(str(c), str(p)): int(n) for (c, p), n in counted.items()},
            when.min(),
            when.max(),
        )
    return out


def _quantile(histogram: np.ndarray, q: float) -> float:
    total = histogram.sum()
    if total == 0:
        return float("nan")
    position = np.searchsorted(np.cumsum(histogram), q * total)
    return float(LATENCY_EDGES[min(position + 1, len(LATENCY_EDGES) - 1)])


@dataclasses.dataclass
class LogOverview:
    """What :func:`collect` keeps of a log: per period (keyed by its start), and what to do
    with a range of them (``windows``: deprecated, the old name of ``periods``).
    ``basis`` says which time the periods follow (the data's event time, or arrival);
    ``compare_with`` what a range's drift is against (``auto``: the same calendar days of
    the reference where it allows, see :func:`~workbench.monitoring._drift.drift_of_period`)."""

    profile: ReferenceProfile
    periods: dict[Any, PeriodStats]
    model_name: str
    model_version: str
    basis: TimeBasis = ARRIVAL_BASIS
    period: str = "1D"
    compare_with: str = "auto"

    @property
    def seasonal(self) -> bool:
        """Whether drift compares with the same calendar days of the reference."""
        return seasonal_reference(self.profile, self.compare_with, self.basis.column)

    def _drift_of(self, stats: PeriodStats, metadata: dict[str, Any]) -> DriftSnapshot:
        """Drift of ``stats`` (one period or a range of them, from its first to its last
        time seen) against the reference this overview compares with."""
        return drift_of_period(
            self.profile,
            stats.summary,
            stats.first,
            stats.last,
            seasonal=self.seasonal,
            metadata=metadata,
        )

    @property
    def starts(self) -> list[Any]:
        return list(self.periods)

    @property
    def windows(self) -> dict[Any, PeriodStats]:
        """Deprecated: the old name of :attr:`periods`."""
        import warnings

        warnings.warn(
            "LogOverview.windows is deprecated; say LogOverview.periods (a monitoring "
            "bucket of time is a 'period').",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.periods

    def between(self, first: Any = None, last: Any = None) -> PeriodStats:
        """The periods from ``first`` to ``last`` (inclusive; default: all), added up."""
        chosen = [
            stats
            for start, stats in self.periods.items()
            if (first is None or start >= first) and (last is None or start <= last)
        ]
        if not chosen:
            raise MonitoringError(f"No period of the log between {first} and {last}.")
        total = chosen[0]
        for stats in chosen[1:]:
            total = total + stats
        return total

    def drift_by_period(self) -> list[DriftSnapshot]:
        """Drift of each period on its own, in time order (each computed once, then kept)."""
        return self.drift_in_steps(most=None)[1]

    def drift_in_steps(
        self, first: Any = None, last: Any = None, *, most: int | None = 104
    ) -> tuple[list[Any], list[DriftSnapshot]]:
        """Drift per period from ``first`` to ``last`` (default: all), each period on its
        own; with more than ``most`` periods, runs of consecutive periods added up so that
        at most ``most`` remain (a year of days in weeks' worth of steps).

        Returns:
            Each step's start, and its snapshot (computed once per step, then kept).
        """
        import math

        keys = [
            k for k in self.periods if (first is None or k >= first) and (last is None or k <= last)
        ]
        step = 1 if most is None or len(keys) <= most else math.ceil(len(keys) / most)
        cache: dict[tuple[Any, ...], DriftSnapshot] = self.__dict__.setdefault("_steps", {})
        starts, snapshots = [], []
        for i in range(0, len(keys), step):
            run = keys[i : i + step]
            key = (run[0], run[-1], self.compare_with)
            if key not in cache:
                stats = self.between(run[0], run[-1])
                cache[key] = self._drift_of(
                    stats, {"window": str(run[0]), "model_version": self.model_version}
                )
            starts.append(run[0])
            snapshots.append(cache[key])
        return starts, snapshots

    def drift(self, first: Any = None, last: Any = None) -> DriftSnapshot:
        stats = self.between(first, last)
        return self._drift_of(
            stats,
            {
                "model_name": self.model_name,
                "model_version": self.model_version,
                "window_start": str(first if first is not None else self.starts[0]),
                "window_end": str(last if last is not None else self.starts[-1]),
            },
        )

    def integrity(self, first: Any = None, last: Any = None) -> pd.DataFrame:
        """Rows breaking the data contract in the range: ``column``, ``problem``,
        ``rows``, ``share`` (empty when none, or when the version has no contract)."""
        import pandas as pd

        stats = self.between(first, last)
        table = pd.DataFrame(
            [(c, p, n) for (c, p), n in sorted(stats.integrity.items())],
            columns=["column", "problem", "rows"],
        )
        table["share"] = table["rows"] / max(stats.rows, 1)
        return table

    def kpis(self, first: Any = None, last: Any = None) -> dict[str, float]:
        stats = self.between(first, last)
        return {
            "rows": stats.rows,
            "requests": stats.requests,
            "latency_p50_ms": _quantile(stats.latency, 0.5),
            "latency_p95_ms": _quantile(stats.latency, 0.95),
        }


def collect(
    log_dir: str | Path,
    profile: ReferenceProfile,
    *,
    period: str = "1D",
    model_name: str = "",
    model_version: str = "",
    contract: Contract | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    window: str | None = None,
    time: str = "auto",
) -> LogOverview:
    """Summaries of the inference log at ``log_dir`` per ``period``, in one pass over its
    segments (with ``contract``, the rows breaking each of its column rules too), on local
    threads or on the Dask cluster at ``scheduler`` (default: the ``dask_scheduler``
    setting). ``window=`` is deprecated: the old name of ``period``.

    Periods follow the data's event time (the ``contract``'s ``event_time`` column) where
    the log has it, else the requests' arrival time; ``time`` (``"auto"``, ``"event"``,
    ``"arrival"``) chooses otherwise (:func:`~workbench.monitoring._periods.time_basis`).

    Raises:
        MonitoringError: No segment in ``log_dir``, or it lacks every profiled column.
    """
    from workbench._progress import compute_with_progress, map_with_progress, scheduler_address
    from workbench.serving import LogFolder

    period = renamed_window(period, window, default="1D", caller="collect")
    place = LogFolder(log_dir)
    segments = place.glob("segment-*.parquet") if place.exists() else []
    if not segments:
        raise MonitoringError(f"No inference log segments at {place}/segment-*.parquet.")
    local = place.local and scheduler_address(scheduler) is None
    if local:  # the same frames as Dask's, read without importing it (a second or two)
        columns = _logged_columns(segments)
    else:
        import dask.dataframe as dd

        log = dd.read_parquet(segments if place.local else f"{place}/segment-*.parquet")
        columns = list(log.columns)
    basis = time_basis(contract.event_time if contract else None, columns, time)
    names = [c for c in profile.columns if c in columns and c != basis.column]
    if not names:
        raise MonitoringError(
            f"The log at {log_dir} has none of the profiled columns {profile.columns}."
        )
    subset = profile.subset(names)
    ruled = [r.name for r in contract.columns if r.name in columns] if contract else []
    needed = list(
        dict.fromkeys([*names, *ruled, ARRIVAL, basis.column, "request_id", "latency_ms"])
    )
    partials: list[dict[Any, PeriodStats]]
    if local:
        partials = map_with_progress(
            lambda path: _stats_of(
                _read_like_dask(path, needed), subset, period, contract, basis.column
            ),
            segments,
            desc="reading the log",
            show=progress,
        )
    else:
        from dask.delayed import delayed

        tasks = [
            delayed(_stats_of)(p, subset, period, contract, basis.column)
            for p in log[needed].to_delayed()
        ]
        partials = compute_with_progress(
            tasks, desc="reading the log", show=progress, scheduler=scheduler
        )
    merged: dict[Any, PeriodStats] = {}
    for partial in partials:
        for key, stats in partial.items():
            merged[key] = merged[key] + stats if key in merged else stats
    if not merged:
        raise MonitoringError(f"The inference log at {log_dir} has no rows.")
    return LogOverview(
        subset, dict(sorted(merged.items())), model_name, model_version, basis, period
    )


def _logged_columns(segments: Sequence[str]) -> list[str]:
    """Every column of the log's segments (a column such as the event time may be in
    later segments only), in first-seen order."""
    seen: dict[str, None] = {}
    for segment in segments:
        seen.update(dict.fromkeys(_columns_of(segment)))
    return list(seen)


def _columns_of(segment: str) -> list[str]:
    """The columns ``dd.read_parquet`` gives a log whose first segment is ``segment``:
    its schema's, less those its pandas metadata makes the index."""
    import json

    import pyarrow.parquet as pq

    schema = pq.read_schema(segment)
    meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    index = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    return [c for c in schema.names if c not in index]


def _read_like_dask(segment: str, columns: list[str]) -> pd.DataFrame:
    """The partition ``dd.read_parquet(segments)[columns]`` would give for the local file
    ``segment``: read and converted to pandas as Dask's pyarrow engine does, strings as
    ``string[pyarrow]`` (Dask's ``dataframe.convert-string``)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pd.StringDtype("pyarrow")
    mapped = {
        pa.string(): text,
        pa.large_string(): text,
        pa.date32(): pd.ArrowDtype(pa.date32()),
        pa.date64(): pd.ArrowDtype(pa.date64()),
    }

    def types_mapper(kind: pa.DataType) -> Any:
        return mapped.get(kind) or (pd.ArrowDtype(kind) if pa.types.is_decimal(kind) else None)

    file = pq.ParquetFile(segment, pre_buffer=True)
    present = set(file.schema_arrow.names)
    table = file.read(
        columns=[c for c in columns if c in present], use_threads=False, use_pandas_metadata=True
    )
    frame: pd.DataFrame = table.to_pandas(
        use_threads=False, ignore_metadata=False, types_mapper=types_mapper
    )
    for name in columns:  # a column later segments have (the event time): missing here
        if name not in frame.columns:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype=text)
    return frame


@dataclasses.dataclass(frozen=True)
class DashboardInputs:
    """What a served model's dashboard shows, computed (see :func:`dashboard_inputs`).

    Attributes:
        overview: The log's summaries per period (:func:`collect`).
        performance: Realized metrics per period, where actuals were recorded.
        estimated: Metrics estimated per period before labels (a classifier's CBPE).
        errors: Refused and failed requests per period (of arrival: a refused request
            has no event time to read).
        thresholds: The default alert bounds, from the version's validation metrics
            (:func:`~workbench.monitoring._alerts.thresholds_from_metrics`).
    """

    overview: LogOverview
    performance: pd.DataFrame | None
    estimated: pd.DataFrame | None
    errors: pd.DataFrame
    thresholds: dict[str, Threshold] = dataclasses.field(default_factory=dict)
    #: Champion and shadow challenger on the same requests, where a shadow log exists.
    comparison: pd.DataFrame | None = None


def dashboard_inputs(
    model_name: str,
    *,
    alias: str = "champion",
    log_dir: str | Path | None = None,
    period: str = "1D",
    settings: Settings | None = None,
    progress: bool = True,
    time: str = "auto",
) -> DashboardInputs:
    """Everything the dashboard of ``model_name@alias`` shows, from its inference log:
    drift from the reference profile stored with the version, realized performance where
    actuals were recorded (``log_actuals``), for a classifier the performance estimated
    from the logged class probabilities before labels (:func:`estimate_from_log`), errors
    from the server's error log, and alert bounds from the version's own validation
    metrics. Periods follow the data's event time where the version's data contract
    names one and the log has it (``time``: ``"auto"``, ``"event"``, ``"arrival"``)."""
    import pandas as pd

    from workbench._settings import get_settings
    from workbench._versions import VersionArtifacts
    from workbench.serving import LogFolder, join_actuals, read_actuals

    s = settings or get_settings()
    folder = str(log_dir) if log_dir is not None else str(s.inference_log_dir)
    profile = reference_profile_of(model_name, alias=alias, settings=s)
    version = VersionArtifacts.of(model_name, alias=alias, settings=s)
    contract = None
    if version.contract_path is not None:
        from workbench.data import Contract

        contract = Contract.load(version.contract_path)
    overview = collect(
        folder,
        profile,
        period=period,
        model_name=model_name,
        model_version=str(version.version),
        contract=contract,
        progress=progress,
        scheduler=s.dask_scheduler or "local",
        time=time,
    )
    basis = overview.basis
    scored = None
    if version.reference_scores_path is not None:
        scored = pd.read_parquet(version.reference_scores_path)
    performance = None
    if len(read_actuals(folder)):
        columns = list(
            dict.fromkeys(["request_id", "row_in_request", "prediction", ARRIVAL, basis.column])
        )
        joined = join_actuals(_read_log(folder, columns), folder)
        if joined["actual"].notna().any():
            performance = performance_over_time(
                joined,
                task=version.task,
                period=period,
                classes=reference_classes(scored)[0] if scored is not None else None,
                time_column=basis.column,
            )
    estimated = None
    if scored is not None:
        estimated = estimate_from_log(
            folder,
            scored,
            model_version=str(version.version),
            period=period,
            time_column=basis.column,
        )
    errors = errors_over_time(folder, period)
    thresholds = _thresholds_of(version)
    comparison = None
    if LogFolder(shadow_folder(folder)).exists():  # served with --shadow
        comparison = compare_shadow(folder, task=version.task)
    return DashboardInputs(overview, performance, estimated, errors, thresholds, comparison)


def _read_log(folder: str, columns: list[str]) -> pd.DataFrame:
    """``columns`` of the whole log (a column only later segments have, such as the event
    time, missing in the earlier ones)."""
    import pandas as pd

    from workbench.serving import LogFolder

    place = LogFolder(folder)
    segments = place.glob("segment-*.parquet")
    if place.local:
        return pd.concat([_read_like_dask(p, columns) for p in segments], ignore_index=True)
    import dask.dataframe as dd

    log = dd.read_parquet(f"{folder.rstrip('/')}/segment-*.parquet")
    present = [c for c in columns if c in log.columns]
    frame: pd.DataFrame = log[present].compute()
    return frame


def _thresholds_of(version: VersionArtifacts) -> dict[str, Threshold]:
    """:func:`thresholds_of_version` of a version already looked up (no second query)."""
    import json

    from workbench.packaging import ModelCard

    record = version.model_card_path
    if record is None:
        return {}
    card = ModelCard(**json.loads(record.read_text(encoding="utf-8")))
    return thresholds_from_metrics(card.metrics, version.task, version=version.version)


def thresholds_of_version(
    model_name: str, *, version: int | str, task: str, settings: Settings | None = None
) -> dict[str, Threshold]:
    """Default alert bounds of a registered version, from the validation metrics on its
    model card (:func:`thresholds_from_metrics`); none for a version without a card."""
    from workbench._exceptions import ModelError
    from workbench.packaging import card_of

    try:
        card = card_of(model_name, version, settings=settings)
    except ModelError:
        return {}
    return thresholds_from_metrics(card.metrics, task, version=version)
