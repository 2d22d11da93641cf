"""The monitoring dashboard: one pass over the inference log, summaries to the browser.

:func:`collect` reads the log (a folder of Parquet segments, any size) segment by segment
(on local threads, or with Dask on a cluster), and per partition and time window keeps
only what the dashboard draws: the drift counts of each profiled column, the number of
rows and requests, and a histogram of latencies. Windows add up across partitions (a
request's rows are in one segment), so the result is the same as one pass over the whole
log, and a date range is a sum of windows, drawn again without touching the log.
:class:`MonitoringDashboard` is the widget on top.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench.monitoring._drift import DriftSnapshot, compute_drift
from workbench.monitoring._performance import (
    CBPE,
    Alert,
    check_thresholds,
    performance_over_time,
    reference_classes,
    resolve_thresholds,
)
from workbench.monitoring._summary import ReferenceProfile, Summary, _window_keys

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.data import Contract

__all__ = [
    "LogOverview",
    "MonitoringDashboard",
    "collect",
    "estimate_from_log",
    "open_dashboard",
]

#: Latency histogram bin edges (ms), log-spaced from 0.1 ms to 100 s.
LATENCY_EDGES = np.concatenate([[0.0], np.logspace(-1, 5, 121)])


@dataclasses.dataclass
class WindowStats:
    """One window of the log: drift counts, rows, requests, latency histogram, and the
    rows breaking each rule of the data contract (``(column, problem) → rows``)."""

    summary: Summary
    rows: int
    requests: int
    latency: np.ndarray
    integrity: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)

    def __add__(self, other: WindowStats) -> WindowStats:
        integrity = dict(self.integrity)
        for key, count in other.integrity.items():
            integrity[key] = integrity.get(key, 0) + count
        return WindowStats(
            self.summary + other.summary,
            self.rows + other.rows,
            self.requests + other.requests,
            self.latency + other.latency,
            integrity,
        )


def _row_contract(contract: Contract, columns: Sequence[str]) -> Contract | None:
    """The part of ``contract`` that a window of the log can be checked against, row by
    row: the rules of each logged column (a personal column only for missing values: the
    log holds its pseudonyms) and the cross-column rules over logged, non-personal
    columns. Key, uniqueness and duplicate-row checks span rows, so they are left out: a
    window is counted chunk by chunk and the counts add up. ``None`` when no column of
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
    from workbench.monitoring._timeline import problems_of

    checked = _row_contract(contract, list(rows.columns)) if contract is not None else None
    if checked is None:
        return pd.DataFrame({"row": [], "column": [], "problem": []})
    failures = check_rows(rows[checked.names], checked, source="inference log")
    found: pd.DataFrame = problems_of(failures)[["row", "column", "problem"]]
    return found


def _stats_of(
    part: pd.DataFrame, profile: ReferenceProfile, window: str, contract: Contract | None = None
) -> dict[Any, WindowStats]:
    out = {}
    part = part.reset_index(drop=True)
    keys = _window_keys(part, window, "timestamp")
    broken = _violations(part, contract)  # once per partition, then split by window
    broken["window"] = keys.to_numpy()[broken["row"].to_numpy(dtype=np.int64)]
    for key, rows in part.groupby(keys, sort=True):
        per_request = rows.drop_duplicates("request_id")["latency_ms"].to_numpy(dtype=float)
        here = broken[broken["window"] == key]
        counted = here.groupby(["column", "problem"], sort=True)["row"].nunique()
        out[key] = WindowStats(
            profile.summarize(rows),
            len(rows),
            len(per_request),
            np.histogram(per_request, LATENCY_EDGES)[0],
            {(str(c), str(p)): int(n) for (c, p), n in counted.items()},
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
    """What :func:`collect` keeps of a log: per window, and what to do with a range."""

    profile: ReferenceProfile
    windows: dict[Any, WindowStats]
    model_name: str
    model_version: str

    @property
    def starts(self) -> list[Any]:
        return list(self.windows)

    def between(self, first: Any = None, last: Any = None) -> WindowStats:
        """The windows from ``first`` to ``last`` (inclusive; default: all), added up."""
        chosen = [
            stats
            for start, stats in self.windows.items()
            if (first is None or start >= first) and (last is None or start <= last)
        ]
        if not chosen:
            raise MonitoringError(f"No window of the log between {first} and {last}.")
        total = chosen[0]
        for stats in chosen[1:]:
            total = total + stats
        return total

    def drift(self, first: Any = None, last: Any = None) -> DriftSnapshot:
        stats = self.between(first, last)
        return compute_drift(
            self.profile,
            stats.summary,
            metadata={
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
    window: str = "1D",
    model_name: str = "",
    model_version: str = "",
    contract: Contract | None = None,
    progress: bool = True,
    scheduler: str | None = None,
) -> LogOverview:
    """Summaries of the inference log at ``log_dir`` per ``window``, in one pass over its
    segments (with ``contract``, the rows breaking each of its column rules too), on local
    threads or on the Dask cluster at ``scheduler`` (default: the ``dask_scheduler``
    setting).

    Raises:
        MonitoringError: No segment in ``log_dir``, or it lacks every profiled column.
    """
    from workbench._progress import compute_with_progress, map_with_progress, scheduler_address
    from workbench.serving import LogFolder

    place = LogFolder(log_dir)
    segments = place.glob("segment-*.parquet") if place.exists() else []
    if not segments:
        raise MonitoringError(f"No inference log segments at {place}/segment-*.parquet.")
    local = place.local and scheduler_address(scheduler) is None
    if local:  # the same frames as Dask's, read without importing it (a second or two)
        columns = _columns_of(segments[0])
    else:
        import dask.dataframe as dd

        log = dd.read_parquet(segments if place.local else f"{place}/segment-*.parquet")
        columns = list(log.columns)
    names = [c for c in profile.columns if c in columns]
    if not names:
        raise MonitoringError(
            f"The log at {log_dir} has none of the profiled columns {profile.columns}."
        )
    subset = profile.subset(names)
    ruled = [r.name for r in contract.columns if r.name in columns] if contract else []
    needed = list(dict.fromkeys([*names, *ruled, "timestamp", "request_id", "latency_ms"]))
    partials: list[dict[Any, WindowStats]]
    if local:
        partials = map_with_progress(
            lambda path: _stats_of(_read_like_dask(path, needed), subset, window, contract),
            segments,
            desc="reading the log",
            show=progress,
        )
    else:
        from dask.delayed import delayed

        tasks = [delayed(_stats_of)(p, subset, window, contract) for p in log[needed].to_delayed()]
        partials = compute_with_progress(
            tasks, desc="reading the log", show=progress, scheduler=scheduler
        )
    merged: dict[Any, WindowStats] = {}
    for partial in partials:
        for key, stats in partial.items():
            merged[key] = merged[key] + stats if key in merged else stats
    if not merged:
        raise MonitoringError(f"The inference log at {log_dir} has no rows.")
    return LogOverview(subset, dict(sorted(merged.items())), model_name, model_version)


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

    table = pq.ParquetFile(segment, pre_buffer=True).read(
        columns=columns, use_threads=False, use_pandas_metadata=True
    )
    frame: pd.DataFrame = table.to_pandas(
        use_threads=False, ignore_metadata=False, types_mapper=types_mapper
    )
    return frame


def _kpi_html(cells: list[tuple[str, str, str]]) -> str:
    boxes = "".join(
        f"<div style='padding:8px 16px;border:1px solid #ddd;border-radius:6px'>"
        f"<div style='font-size:11px;color:#666'>{label}</div>"
        f"<div style='font-size:18px;color:{color}'>{value}</div></div>"
        for label, value, color in cells
    )
    return f"<div style='display:flex;gap:12px;flex-wrap:wrap'>{boxes}</div>"


class MonitoringDashboard:
    """KPIs, drift, performance, errors and alerts of a served model, for a date range.

    Everything is computed once from the log's summaries (:func:`collect`); moving the
    date range adds up windows again, no log is read. Display with
    ``display(dashboard.widget)`` (JupyterLab or Voilà).

    Args:
        overview: From :func:`collect`.
        performance: Realized metrics per window (``performance_over_time``), if actuals.
        estimated: Estimated metrics per window (``CBPE.estimate_over_time``), if any.
        errors: Errors per window (``errors_over_time``).
        thresholds: ``{"mae": ("max", 4.0)}``: drawn, and alerted on.
        metric: The performance metric drawn first.
    """

    def __init__(
        self,
        overview: LogOverview,
        *,
        performance: pd.DataFrame | None = None,
        estimated: pd.DataFrame | None = None,
        errors: pd.DataFrame | None = None,
        thresholds: dict[str, tuple[str, float]] | None = None,
        metric: str | None = None,
    ):
        from workbench._display import figure_output
        from workbench._imports import require
        from workbench.monitoring._figures import (
            distribution_figure,
            drift_table_figure,
            metric_figure,
        )

        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self._widgets, self._show = widgets, figure_output
        self._distribution_figure = distribution_figure
        self._drift_table_figure = drift_table_figure
        self.overview = overview
        self.performance = performance
        self.estimated = estimated
        self.errors = errors
        self.thresholds = resolve_thresholds(  # an old name (f1) read as the one it meant
            thresholds or {}, [*_columns(performance), *_columns(estimated)]
        )
        self.alerts: list[Alert] = []
        if performance is not None and self.thresholds:
            usable = {k: v for k, v in self.thresholds.items() if k in performance.columns}
            self.alerts = check_thresholds(performance, usable)
        if estimated is not None and len(estimated) and self.thresholds:
            # before labels, the estimate is what can cross a bound (said as estimated)
            named = estimated.rename(columns={k: f"estimated {k}" for k in self.thresholds})
            self.alerts += check_thresholds(
                named,
                {f"estimated {k}": v for k, v in self.thresholds.items() if k in estimated},
            )
        starts = overview.starts
        daily = all(getattr(s, "hour", 0) == 0 and getattr(s, "minute", 0) == 0 for s in starts)
        labels = [str(s)[:10] if daily else str(s)[:16] for s in starts]
        self.range = widgets.SelectionRangeSlider(
            options=list(zip(labels, starts, strict=True)),
            index=(0, len(starts) - 1),
            description="dates",
            layout=widgets.Layout(width="90%"),
            style={"description_width": "initial"},
            continuous_update=False,
        )
        self.kpis = widgets.HTML()
        self.table = widgets.Output(layout=widgets.Layout(width="100%"))
        self.picker = widgets.Dropdown(description="feature")
        self.distribution = widgets.Output(layout=widgets.Layout(width="100%"))
        self.snapshot = overview.drift()
        names = [c.column for c in self.snapshot.columns]
        self.picker.options = names
        self.picker.value = (self.snapshot.drifted_columns or names)[0]
        self.figure = distribution_figure(self.snapshot, self.picker.value)
        tabs = [
            widgets.VBox([self.table, self.picker, self.distribution]),
        ]
        titles = ["Drift"]
        self.metric_output = widgets.Output(layout=widgets.Layout(width="100%"))
        metrics = _metrics(performance) + [
            m for m in _metrics(estimated) if m not in _metrics(performance)
        ]
        if metrics:
            first = metric if metric in metrics else metrics[0]
            self.metric_picker = widgets.Dropdown(
                options=metrics, value=first, description="metric"
            )
            self.metric_picker.observe(lambda _: self._draw_metric(metric_figure), names="value")
            self._draw_metric(metric_figure)
            tabs.append(widgets.VBox([self.metric_picker, self.metric_output]))
            titles.append("Performance" if performance is not None else "Performance (estimated)")
        self.errors_output = widgets.Output(layout=widgets.Layout(width="100%"))
        if errors is not None and len(errors):
            self._show(
                self.errors_output,
                metric_figure(errors, "errors", title="refused or failed requests"),
            )
            tabs.append(self.errors_output)
            titles.append("Errors")
        self.integrity = widgets.HTML()
        tabs.append(self.integrity)
        titles.append("Integrity")
        alert_rows = "".join(f"<li>{a.reason}</li>" for a in self.alerts) or "<li>none</li>"
        tabs.append(widgets.HTML(f"<ul>{alert_rows}</ul>"))
        titles.append(f"Alerts ({len(self.alerts)})")
        self.tabs = widgets.Tab(children=tabs)
        for i, title in enumerate(titles):
            self.tabs.set_title(i, title)
        self.picker.observe(self._redraw_distribution, names="value")
        self.range.observe(self._redraw_range, names="value")
        self._draw()
        self.widget = widgets.VBox([self.kpis, self.range, self.tabs])

    def _draw_metric(self, metric_figure: Any) -> None:
        name = self.metric_picker.value
        threshold = self.thresholds.get(name)
        estimated = self.estimated if name in _metrics(self.estimated) else None
        if name in _metrics(self.performance):
            self.metric_figure = metric_figure(
                self.performance, name, threshold=threshold, estimated=estimated
            )
        else:  # no labels yet: the estimate alone, its windows past the bound in red
            self.metric_figure = metric_figure(
                estimated, name, threshold=threshold, title=f"{name} (estimated, no labels yet)"
            )
        self._show(self.metric_output, self.metric_figure)

    def _draw(self) -> None:
        first, last = self.range.value
        self.snapshot = self.overview.drift(first, last)
        kpis = self.overview.kpis(first, last)
        drifted = len(self.snapshot.drifted_columns)
        color = "#d62728" if self.snapshot.dataset_drift else ("#ff7f0e" if drifted else "#2ca02c")
        errors = 0
        if self.errors is not None and len(self.errors):
            inside = (self.errors["window"] >= first) & (self.errors["window"] <= last)
            errors = int(self.errors.loc[inside, "errors"].sum())
        meta = self.snapshot.metadata
        self.kpis.value = _kpi_html(
            [
                (
                    "model",
                    f"{meta.get('model_name', '-')} v{meta.get('model_version', '-')}",
                    "#222",
                ),
                ("requests", f"{kpis['requests']:,}", "#222"),
                ("rows scored", f"{kpis['rows']:,}", "#222"),
                ("errors", f"{errors:,}", "#d62728" if errors else "#2ca02c"),
                (
                    "latency p50 / p95",
                    f"{kpis['latency_p50_ms']:.3g} / {kpis['latency_p95_ms']:.3g} ms",
                    "#222",
                ),
                ("drifted features", f"{drifted} / {len(self.snapshot.columns)}", color),
                ("alerts", f"{len(self.alerts)}", "#d62728" if self.alerts else "#2ca02c"),
            ]
        )
        broken = self.overview.integrity(first, last)
        self.integrity.value = (
            "<p>No logged row breaks the data contract in these dates.</p>"
            if broken.empty
            else "<p>Rows the model received that break the data contract:</p>"
            + broken.to_html(index=False, float_format=lambda v: f"{v:.2%}")
        )
        self._show(self.table, self._drift_table_figure(self.snapshot))
        self._redraw_distribution({"new": self.picker.value})

    def _redraw_range(self, change: dict[str, Any]) -> None:
        self._draw()

    def _redraw_distribution(self, change: dict[str, Any]) -> None:
        self.figure = self._distribution_figure(self.snapshot, change["new"])
        self._show(self.distribution, self.figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _columns(frame: pd.DataFrame | None) -> list[str]:
    return [] if frame is None else [str(c) for c in frame.columns]


def _metrics(frame: pd.DataFrame | None) -> list[str]:
    """The metric columns of a per-window frame that have a value somewhere."""
    if frame is None or not len(frame):
        return []
    return [
        c
        for c in frame.columns
        if c not in ("window", "rows", "labelled") and frame[c].notna().any()
    ]


def open_dashboard(
    model_name: str,
    *,
    alias: str = "champion",
    log_dir: str | Path | None = None,
    window: str = "1D",
    thresholds: dict[str, tuple[str, float]] | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> MonitoringDashboard:
    """The dashboard of ``model_name@alias`` over its inference log: drift from the
    reference profile stored with the version, realized performance where actuals were
    recorded (``log_actuals``), for a classifier the performance estimated from the logged
    class probabilities before labels (:func:`estimate_from_log`), errors from the
    server's error log."""
    import pandas as pd

    from workbench._settings import get_settings
    from workbench._versions import VersionArtifacts
    from workbench.monitoring._timeline import errors_over_time, reference_profile_of
    from workbench.serving import join_actuals, read_actuals

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
        window=window,
        model_name=model_name,
        model_version=str(version.version),
        contract=contract,
        progress=progress,
        scheduler=s.dask_scheduler or "local",
    )
    scored = None
    if version.reference_scores_path is not None:
        scored = pd.read_parquet(version.reference_scores_path)
    performance = None
    if len(read_actuals(folder)):
        import dask.dataframe as dd

        columns = ["request_id", "row_in_request", "prediction", "timestamp"]
        log = dd.read_parquet(f"{folder.rstrip('/')}/segment-*.parquet", columns=columns)
        joined = join_actuals(log.compute(), folder)
        if joined["actual"].notna().any():
            performance = performance_over_time(
                joined,
                task=version.task,
                window=window,
                classes=reference_classes(scored)[0] if scored is not None else None,
            )
    estimated = None
    if scored is not None:
        estimated = estimate_from_log(
            folder, scored, model_version=str(version.version), window=window
        )
    errors = errors_over_time(folder, window)
    return MonitoringDashboard(
        overview,
        performance=performance,
        estimated=estimated,
        errors=errors,
        thresholds=thresholds,
    )


def estimate_from_log(
    folder: str | Path,
    reference_scores: pd.DataFrame,
    *,
    model_version: str | None = None,
    window: str | int = "1D",
) -> pd.DataFrame | None:
    """Performance estimated per window before labels arrive (confidence-based, CBPE).

    Calibrates :class:`CBPE` on the classifier's scores and labels of the reference
    (``reference_scores.parquet``, stored by ``package_model``: a ``label`` column and one
    ``proba_<class>`` column per class), then reads only the logged scores of
    ``model_version`` (the server logs them for scikit-learn classifiers).

    Returns:
        One row per window with ``accuracy``, ``precision_*``, ``recall_*``, ``f1_*`` and
        ``roc_auc`` (``_binary`` for two classes, ``_macro`` for more), or ``None`` when
        the log holds no scores of this version.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    from workbench.serving._log import LogFolder

    classes, columns = reference_classes(reference_scores)
    used = columns[1:] if len(columns) == 2 else columns  # binary: the positive class
    cbpe = CBPE().fit(reference_scores[used], reference_scores["label"], classes=classes)
    place = LogFolder(folder)
    files = place.glob("segment-*.parquet")
    if not files:
        return None
    filesystem = None if place.local else place.fs
    first = ds.dataset(files[0], format="parquet", filesystem=filesystem).schema
    schema = pa.schema(
        [
            first.field("timestamp"),
            pa.field("model_version", pa.string()),
            *(pa.field(c, pa.float64()) for c in used),
        ]
    )
    data = ds.dataset(files, format="parquet", filesystem=filesystem, schema=schema)
    condition = ds.field(used[0]).is_valid()
    if model_version is not None:
        condition = condition & (ds.field("model_version") == model_version)
    frame = data.to_table(filter=condition).to_pandas()
    if frame.empty:
        return None
    return cbpe.estimate_over_time(frame, used, window=window)
