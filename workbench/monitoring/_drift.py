"""Per-column drift with Evidently's default test choice, as a saveable snapshot.

The default test per column follows Evidently's documented rules, so verdicts compare:

* reference of at most 1000 rows: numeric columns (more than 5 distinct values) use the
  two-sample Kolmogorov–Smirnov test, others chi-square; drift when p < 0.05;
* larger reference: numeric columns use the Wasserstein distance normed by the
  reference's standard deviation, others the Jensen–Shannon distance; drift when the
  distance is at least 0.1.

The dataset drifts when at least half of the columns do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import MonitoringError
from workbench._imports import require

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnDrift", "DriftSnapshot", "compute_drift", "latest_snapshot"]

_SMALL_REFERENCE = 1000
_FEW_DISTINCT = 5
_BINS = 30


@dataclasses.dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict and the summaries needed to draw it.

    Attributes:
        column: Column name.
        kind: ``numeric`` or ``categorical``.
        test: ``ks``, ``chisquare``, ``wasserstein`` or ``jensenshannon``.
        statistic: The test's value (a p-value for ``ks``/``chisquare``, else a distance).
        threshold: The bound the statistic is compared with.
        drifted: The verdict.
        bins: Bin labels: left edges for numeric columns, categories otherwise.
        reference: Share of reference rows per bin.
        current: Share of current rows per bin.
        reference_missing: Share of missing reference values.
        current_missing: Share of missing current values.
        reference_mean: Mean of the reference (numeric columns), else ``None``.
        current_mean: Mean of the current data (numeric columns), else ``None``.
        bin_width: Width of numeric bins, else ``None``.
    """

    column: str
    kind: str
    test: str
    statistic: float
    threshold: float
    drifted: bool
    bins: tuple[Any, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    reference_missing: float
    current_missing: float
    reference_mean: float | None = None
    current_mean: float | None = None
    bin_width: float | None = None


@dataclasses.dataclass(frozen=True)
class DriftSnapshot:
    """Drift of every monitored column between a reference and a current frame.

    Attributes:
        columns: One :class:`ColumnDrift` per column.
        reference_rows: Rows in the reference.
        current_rows: Rows in the current data.
        created_at: When it was computed (UTC, ISO 8601).
        drift_share: Share of columns that must drift for dataset drift.
        metadata: Free context (model name and version, data window, ...).
    """

    columns: tuple[ColumnDrift, ...]
    reference_rows: int
    current_rows: int
    created_at: str
    drift_share: float = 0.5
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns whose test says they drifted."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share_drifted >= self.drift_share

    def column(self, name: str) -> ColumnDrift:
        """The result for one column."""
        for c in self.columns:
            if c.column == name:
                return c
        raise MonitoringError(
            f"The snapshot has no column {name!r}. Columns: {[c.column for c in self.columns]}."
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftSnapshot:
        try:
            columns = tuple(
                ColumnDrift(
                    **{
                        **c,
                        "bins": tuple(c["bins"]),
                        "reference": tuple(c["reference"]),
                        "current": tuple(c["current"]),
                    }
                )
                for c in data["columns"]
            )
            return cls(**{**data, "columns": columns, "metadata": dict(data.get("metadata", {}))})
        except (KeyError, TypeError) as exc:
            raise MonitoringError(f"Not a drift snapshot: {exc}") from exc

    def save(self, path: str | Path) -> Path:
        """Write the snapshot as JSON (creating folders) and return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True))
        return target

    @classmethod
    def load(cls, path: str | Path) -> DriftSnapshot:
        """Read a snapshot written by :meth:`save`.

        Raises:
            MonitoringError: The file is missing or is not a snapshot.
        """
        source = Path(path)
        if not source.is_file():
            raise MonitoringError(f"No drift snapshot at {source}.")
        try:
            data = json.loads(source.read_text())
        except json.JSONDecodeError as exc:
            raise MonitoringError(f"{source} is not valid JSON: {exc}.") from exc
        return cls.from_dict(data)


def latest_snapshot(folder: str | Path) -> Path:
    """The newest ``drift-*.json`` in ``folder``.

    Raises:
        MonitoringError: There is none (run ``workbench demo`` or ``compute_drift`` first).
    """
    candidates = sorted(Path(folder).glob("drift-*.json"))
    if not candidates:
        raise MonitoringError(
            f"No drift snapshot in {folder}. Run `workbench demo`, or compute one with "
            f"workbench.monitoring.compute_drift(...).save(...)."
        )
    return candidates[-1]


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def _numeric(column: str, ref: pd.Series, cur: pd.Series, small: bool) -> ColumnDrift:
    import numpy as np

    stats = require("scipy.stats", feature="drift tests")
    r, c = ref.dropna().to_numpy(dtype=float), cur.dropna().to_numpy(dtype=float)
    if small:
        test, threshold = "ks", 0.05
        statistic = float(stats.ks_2samp(r, c).pvalue)
        drifted = statistic < threshold
    else:
        test, threshold = "wasserstein", 0.1
        spread = float(np.std(r))
        distance = float(stats.wasserstein_distance(r, c))
        statistic = distance / spread if spread > 0 else (0.0 if distance == 0 else float("inf"))
        drifted = statistic >= threshold
    low, high = float(min(r.min(), c.min())), float(max(r.max(), c.max()))
    edges = np.linspace(low, high if high > low else low + 1.0, _BINS + 1)
    ref_hist = np.histogram(r, edges)[0] / max(len(r), 1)
    cur_hist = np.histogram(c, edges)[0] / max(len(c), 1)
    return ColumnDrift(
        column=column,
        kind="numeric",
        test=test,
        statistic=statistic,
        threshold=threshold,
        drifted=bool(drifted),
        bins=tuple(float(e) for e in edges[:-1]),
        reference=tuple(float(v) for v in ref_hist),
        current=tuple(float(v) for v in cur_hist),
        reference_missing=float(ref.isna().mean()),
        current_missing=float(cur.isna().mean()),
        reference_mean=float(r.mean()),
        current_mean=float(c.mean()),
        bin_width=float(edges[1] - edges[0]),
    )


def _categorical(column: str, ref: pd.Series, cur: pd.Series, small: bool) -> ColumnDrift:
    import numpy as np

    stats = require("scipy.stats", feature="drift tests")
    distance = require("scipy.spatial.distance")
    r, c = ref.dropna().astype(str), cur.dropna().astype(str)
    keys = sorted(set(r.unique()) | set(c.unique()))
    ref_counts = r.value_counts().reindex(keys, fill_value=0).to_numpy(dtype=float)
    cur_counts = c.value_counts().reindex(keys, fill_value=0).to_numpy(dtype=float)
    ref_share = ref_counts / max(ref_counts.sum(), 1.0)
    cur_share = cur_counts / max(cur_counts.sum(), 1.0)
    if small:
        test, threshold = "chisquare", 0.05
        # Expected current counts under the reference's shares (as Evidently does); a
        # category unseen in the reference gets a tiny share so the test stays defined.
        expected = np.maximum(ref_share, 1e-6)
        expected = expected / expected.sum() * cur_counts.sum()
        statistic = float(stats.chisquare(cur_counts, expected).pvalue) if len(keys) > 1 else 1.0
        drifted = statistic < threshold
    else:
        test, threshold = "jensenshannon", 0.1
        statistic = float(distance.jensenshannon(ref_share, cur_share)) if len(keys) else 0.0
        drifted = statistic >= threshold
    return ColumnDrift(
        column=column,
        kind="categorical",
        test=test,
        statistic=statistic,
        threshold=threshold,
        drifted=bool(drifted),
        bins=tuple(keys),
        reference=tuple(float(v) for v in ref_share),
        current=tuple(float(v) for v in cur_share),
        reference_missing=float(ref.isna().mean()),
        current_missing=float(cur.isna().mean()),
    )


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    drift_share: float = 0.5,
    metadata: Mapping[str, Any] | None = None,
) -> DriftSnapshot:
    """Test every column of ``columns`` for drift from ``reference`` to ``current``.

    Args:
        reference: The data the model was trained on.
        current: Production data (for example the inference log's inputs).
        columns: Columns to test (default: every column the two frames share).
        drift_share: Share of drifted columns that makes the dataset drift, in (0, 1].
        metadata: Context stored with the snapshot.

    Returns:
        A :class:`DriftSnapshot`.

    Raises:
        MonitoringError: A column is missing, a frame is empty, or ``drift_share`` is out
            of range.

    Example:
        >>> import pandas as pd
        >>> ref = pd.DataFrame({"x": range(100)})
        >>> snap = compute_drift(ref, ref + 50)
        >>> snap.column("x").test, snap.drifted_columns
        ('ks', ['x'])
    """
    if not 0 < drift_share <= 1:
        raise MonitoringError(f"drift_share must be in (0, 1]. Got {drift_share!r} instead.")
    names = (
        list(columns)
        if columns is not None
        else [c for c in reference.columns if c in current.columns]
    )
    for label, frame in (("reference", reference), ("current", current)):
        absent = [c for c in names if c not in frame.columns]
        if absent:
            raise MonitoringError(f"The {label} frame lacks columns {absent}.")
        if frame.empty:
            raise MonitoringError(f"The {label} frame is empty; drift needs rows on both sides.")
    small = len(reference) <= _SMALL_REFERENCE
    results = []
    for name in names:
        ref, cur = reference[name], current[name]
        if ref.dropna().empty or cur.dropna().empty:
            raise MonitoringError(
                f"Column {name!r} has no values in the "
                f"{'reference' if ref.dropna().empty else 'current'} frame; drop it or fix it."
            )
        numeric = _is_numeric(ref) and ref.nunique() > _FEW_DISTINCT
        results.append(
            _numeric(name, ref, cur, small) if numeric else _categorical(name, ref, cur, small)
        )
    return DriftSnapshot(
        columns=tuple(results),
        reference_rows=len(reference),
        current_rows=len(current),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        drift_share=drift_share,
        metadata=dict(metadata or {}),
    )
