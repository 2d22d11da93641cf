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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench.monitoring._alerts import Threshold, thresholds_from_metrics
from workbench.monitoring._cbpe import estimate_from_log, reference_classes
from workbench.monitoring._overview import LATENCY_EDGES, LogOverview, PeriodStats, VersionPart
from workbench.monitoring._performance import performance_over_time
from workbench.monitoring._periods import (
    ARRIVAL,
    period_keys,
    renamed_window,
    time_basis,
    times_of,
)
from workbench.monitoring._profile import ReferenceProfile
from workbench.monitoring._segments import VERSION, in_order, layout, logged_versions
from workbench.monitoring._segments import read_like_dask as _read_like_dask
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
    "VersionPart",
    "collect",
    "dashboard_inputs",
    "thresholds_of_version",
]


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
    profiles: Mapping[str, ReferenceProfile | None] | None = None,
    version: str | None = None,
) -> dict[Any, PeriodStats]:
    """What ``collect`` keeps of each period of ``part`` (its ``PeriodStats``: drift
    counts, rows, requests, latency histogram, rows breaking each contract rule, first
    and last time), with the contract checked once for all of ``part``; periods by
    ``time_column`` (the event time, or the arrival ``timestamp``). The scheduled monitor
    keeps the same per period.

    With ``profiles`` (each logged version's own reference profile; ``None`` for one
    compared with ``profile``), each period also keeps the rows of each version that
    answered them, counted against that version's profile (``PeriodStats.versions``),
    in the same pass; ``version`` names the one version of every row of ``part`` where
    its segment's footer says so (its column then need not be read)."""
    part = part.reset_index(drop=True)
    if profiles is None or (VERSION not in part.columns and version is None):
        return _periods_of(part, profile, period, contract, time_column)
    if version is not None:
        groups = [(version, part)]
    else:
        named = part[VERSION].astype(str)
        if named.nunique(dropna=False) <= 1:  # a server's segment: one version
            groups = [(str(named.iloc[0]) if len(named) else "", part)]
        else:
            groups = [(str(v), rows) for v, rows in part.groupby(named.to_numpy(), sort=True)]
    out: dict[Any, PeriodStats] = {}
    for name, rows in groups:
        own = (name, profiles.get(name))
        for key, stats in _periods_of(rows, profile, period, contract, time_column, own).items():
            out[key] = out[key] + stats if key in out else stats
    return out


def _periods_of(
    part: pd.DataFrame,
    profile: ReferenceProfile,
    period: str,
    contract: Contract | None,
    time_column: str,
    version: tuple[str, ReferenceProfile | None] | None = None,
) -> dict[Any, PeriodStats]:
    """:func:`_stats_of` of rows one version answered (``version``: its name and own
    profile, ``None`` when it is compared with ``profile``), or of any rows."""
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
        summary = profile.summarize(rows)
        parts = {}
        if version is not None:
            name, own = version
            mine = summary if own is None else own.summarize(rows)
            parts[name] = VersionPart(mine, len(rows), when.min(), when.max())
        out[start] = PeriodStats(
            summary,
            len(rows),
            len(latency),
            np.histogram(latency, LATENCY_EDGES)[0],
            {(str(c), str(p)): int(n) for (c, p), n in counted.items()},
            when.min(),
            when.max(),
            parts,
        )
    return out


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
    profile_of: Callable[[str], ReferenceProfile | None] | None = None,
) -> LogOverview:
    """Summaries of the inference log at ``log_dir`` per ``period``, in one pass over its
    segments (with ``contract``, the rows breaking each of its column rules too), on local
    threads or on the Dask cluster at ``scheduler`` (default: the ``dask_scheduler``
    setting). ``window=`` is deprecated: the old name of ``period``.

    Periods follow the data's event time (the ``contract``'s ``event_time`` column) where
    the log has it, else the requests' arrival time; ``time`` (``"auto"``, ``"event"``,
    ``"arrival"``) chooses otherwise (:func:`~workbench.monitoring._periods.time_basis`).

    With ``profile_of`` (a model version → its stored reference profile, or ``None``),
    each period also keeps the rows of each version that answered them, counted against
    that version's profile in the same pass; it is asked once per version the segments'
    footers name (``profile`` stands for a version it has none for). The overview then
    compares each period with the reference of the version that answered it.

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
    each: list[set[str]] = []  # each local segment's versions, from its footer
    if local:  # the same frames as Dask's, read without importing it (a second or two)
        columns, each = layout(segments)
        versions = in_order(set().union(*each))
    else:
        import dask.dataframe as dd

        log = dd.read_parquet(segments if place.local else f"{place}/segment-*.parquet")
        columns = list(log.columns)
        versions = logged_versions(place, segments) if profile_of and VERSION in columns else []
    basis = time_basis(contract.event_time if contract else None, columns, time)
    names = [c for c in profile.columns if c in columns and c != basis.column]
    if not names:
        raise MonitoringError(
            f"The log at {log_dir} has none of the profiled columns {profile.columns}."
        )
    subset = profile.subset(names)
    ruled = [r.name for r in contract.columns if r.name in columns] if contract else []
    own: dict[str, ReferenceProfile | None] = {}  # the versions' own, as the pass counts
    kept: dict[str, ReferenceProfile | None] = {}  # and as the overview compares
    if profile_of is not None and VERSION in columns:
        for version in versions:
            found = profile_of(version)
            if found is None or found is profile:
                kept[version], own[version] = (subset if found else None), None
                continue
            mine = [c for c in found.columns if c in columns and c != basis.column]
            kept[version] = own[version] = found.subset(mine) if mine else None
    profiles = own if kept else None
    needed = list(
        dict.fromkeys(
            [*names, *ruled, ARRIVAL, basis.column, "request_id", "latency_ms"]
            + ([VERSION] if profiles is not None else [])
            + [c for p in own.values() if p is not None for c in p.columns]
        )
    )
    partials: list[dict[Any, PeriodStats]]
    if local:

        def read(path: str, named: set[str]) -> dict[Any, PeriodStats]:
            one = next(iter(named)) if len(named) == 1 and profiles is not None else None
            # a segment one version wrote (as a server writes them): its column is not read
            wanted = [c for c in needed if c != VERSION] if one is not None else needed
            frame = _read_like_dask(path, wanted)
            return _stats_of(frame, subset, period, contract, basis.column, profiles, one)

        partials = map_with_progress(
            lambda job: read(*job),
            list(zip(segments, each, strict=True)),
            desc="reading the log",
            show=progress,
        )
    else:
        from dask.delayed import delayed

        tasks = [
            delayed(_stats_of)(p, subset, period, contract, basis.column, profiles)
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
        subset,
        dict(sorted(merged.items())),
        model_name,
        model_version,
        basis,
        period,
        profiles=kept,
    )


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
    names one and the log has it (``time``: ``"auto"``, ``"event"``, ``"arrival"``).

    Each logged row is compared with the reference profile of the version that answered
    it (each version's profile read once from the registry; the champion's where a
    version has none stored), so weeks an earlier champion served are judged against
    what that version was trained on."""
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
        profile_of=_profiles_of(model_name, str(version.version), profile, s),
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


def _profiles_of(
    name: str, champion: str, profile: ReferenceProfile, settings: Settings
) -> Callable[[str], ReferenceProfile | None]:
    """A version of ``name`` → its stored reference profile (``profile`` for the
    ``champion`` version, already read; ``None`` for a version the registry lacks or
    that has no profile stored)."""
    from workbench._exceptions import ModelError
    from workbench._versions import VersionArtifacts

    def profile_of(version: str) -> ReferenceProfile | None:
        if version == champion:
            return profile
        try:
            path = VersionArtifacts.of(name, version, settings=settings).reference_profile_path
        except ModelError:
            return None
        return ReferenceProfile.load(path) if path is not None else None

    return profile_of


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
