"""``profile``: a fast, exact profile of a pandas or Dask DataFrame, as a saveable record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench._exceptions import DataError
from workbench.data._mask import mask_value
from workbench.explore._stats import (
    Counts,
    PairSums,
    _workers,
    correlation_ratio,
    cramers_v,
    merge_counts,
    pass_one,
    pass_two,
    pearson,
    quantile,
)
from workbench.explore._stats import column_kind_of as _family

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnProfile", "Correlations", "Profile", "profile"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
KINDS = ("numeric", "categorical", "datetime", "boolean", "text", "identifier")


@dataclasses.dataclass(frozen=True)
class ColumnProfile:
    """Exact statistics of one column.

    Attributes:
        name: Column name.
        kind: ``numeric``, ``categorical``, ``datetime``, ``boolean``, ``text`` or
            ``identifier``.
        dtype: The pandas dtype.
        count: Non-missing cells.
        missing: Missing cells.
        distinct: Distinct non-missing values.
        min, max, mean, std, skew: Numeric summaries (``std`` with ddof=1, ``skew`` the
            adjusted Fisher–Pearson coefficient, as pandas computes them); datetimes give
            ``min``/``max`` as ISO text.
        quantiles: ``{"5%": …, "25%": …, "50%": …, "75%": …, "95%": …}`` (linear
            interpolation).
        histogram: ``(edges, counts)`` of 30 equal bins over [min, max].
        top: The most frequent values with their counts.
        zeros: Cells equal to zero.
        outliers: Cells outside [Q1 − 1.5·IQR, Q3 + 1.5·IQR].
        warnings: Plain-language warnings (constant, high cardinality, skew, imbalance,
            mostly missing, mixed types).
        frequency: For datetimes, the most common step between distinct times.
        coverage: For datetimes, the share of steps between min and max that have data.
        gaps: For datetimes, the longest gaps: ``(from, to, steps missing)``.
        pii: A personal column: top values masked, no min/max shown.
    """

    name: str
    kind: str
    dtype: str
    count: int
    missing: int
    distinct: int
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    skew: float | None = None
    quantiles: Mapping[str, float] = dataclasses.field(default_factory=dict)
    histogram: tuple[tuple[float, ...], tuple[int, ...]] = ((), ())
    top: tuple[tuple[Any, int], ...] = ()
    zeros: int = 0
    outliers: int = 0
    warnings: tuple[str, ...] = ()
    frequency: str | None = None
    coverage: float | None = None
    gaps: tuple[tuple[str, str, int], ...] = ()
    pii: bool = False

    @property
    def missing_share(self) -> float:
        total = self.count + self.missing
        return self.missing / total if total else 0.0


@dataclasses.dataclass(frozen=True)
class Correlations:
    """A square matrix of associations over ``columns`` (NaN where undefined)."""

    method: str
    columns: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]

    def get(self, a: str, b: str) -> float:
        return self.values[self.columns.index(a)][self.columns.index(b)]

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.values, index=self.columns, columns=self.columns)


@dataclasses.dataclass(frozen=True)
class Profile:
    """What :func:`profile` returns; saves to JSON and renders to static HTML.

    Attributes:
        rows: Number of rows.
        columns: One :class:`ColumnProfile` per column, in frame order.
        correlations: ``pearson`` and ``spearman`` (numbers), ``cramers_v`` (categories),
            ``correlation_ratio`` (category rows × number columns).
        target: The target column, when given.
        associations: Each feature's association with the target: ``(method, value)``.
        created_at: When it was computed (UTC).
        source: What was profiled.
    """

    rows: int
    columns: tuple[ColumnProfile, ...]
    correlations: Mapping[str, Correlations]
    target: str | None = None
    associations: Mapping[str, tuple[str, float]] = dataclasses.field(default_factory=dict)
    created_at: str = ""
    source: str = ""

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(f"The profile has no column {name!r}. Columns: {self.names}.")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def warnings(self) -> list[tuple[str, str]]:
        """Every ``(column, warning)``."""
        return [(c.name, w) for c in self.columns for w in c.warnings]

    def table(self) -> pd.DataFrame:
        """One row per column: kind, missing, distinct, range and warnings."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "column": c.name,
                    "kind": c.kind,
                    "missing": c.missing,
                    "missing %": round(100 * c.missing_share, 2),
                    "distinct": c.distinct,
                    "min": c.min,
                    "max": c.max,
                    "mean": c.mean,
                    "warnings": "; ".join(c.warnings),
                }
                for c in self.columns
            ]
        )

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        columns = tuple(
            ColumnProfile(
                **{
                    **c,
                    "histogram": (tuple(c["histogram"][0]), tuple(c["histogram"][1])),
                    "top": tuple((v, n) for v, n in c["top"]),
                    "warnings": tuple(c["warnings"]),
                    "gaps": tuple(tuple(g) for g in c["gaps"]),
                }
            )
            for c in data["columns"]
        )
        correlations = {
            k: Correlations(v["method"], tuple(v["columns"]), tuple(tuple(r) for r in v["values"]))
            for k, v in data["correlations"].items()
        }
        associations = {k: (v[0], v[1]) for k, v in data.get("associations", {}).items()}
        rest = {
            k: v for k, v in data.items() if k not in ("columns", "correlations", "associations")
        }
        return cls(columns=columns, correlations=correlations, associations=associations, **rest)

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), allow_nan=True))
        return target

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_html(self, path: str | Path | None = None) -> str:
        """A self-contained HTML report (plotly inlined): share it without a kernel."""
        from workbench.explore._figures import profile_html

        text = profile_html(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# ---------------------------------------------------------------------- computing
def _kind(family: str, counts: Counts, max_categories: int) -> str:
    if family == "bool":
        return "boolean"
    if family == "datetime":
        return "datetime"
    if family == "number":
        return "numeric"
    n = int(counts.counts.sum())
    distinct = len(counts.values)
    if distinct <= max_categories:
        return "categorical"
    if distinct == n and n > 1:
        return "identifier"
    return "text"


def _iso(ns: int, tz: str | None) -> str:
    import pandas as pd

    stamp = pd.Timestamp(int(ns), unit="ns", tz="UTC")
    return (stamp.tz_convert(tz) if tz else stamp.tz_localize(None)).isoformat()


def _column(
    name: str,
    dtype: str,
    family: str,
    counts: Counts,
    max_categories: int,
    pii: bool,
    tz: str | None,
    top_n: int,
) -> ColumnProfile:
    import pandas as pd

    n = int(counts.counts.sum())
    kind = _kind(family, counts, max_categories)
    warnings: list[str] = []
    distinct = len(counts.values)
    total = n + counts.missing
    if n == 0:
        warnings.append("all values missing")
    elif counts.missing / total > 0.5:
        warnings.append(f"mostly missing ({counts.missing / total:.0%})")
    if n > 0 and distinct == 1:
        warnings.append("constant")
    if len(counts.types) > 1:
        warnings.append(f"mixed types ({', '.join(sorted(counts.types))})")
    order = _top(counts.counts, top_n)
    top = tuple(
        (mask_value(v) if pii else _plain(v, family, tz), int(c))
        for v, c in zip(counts.values[order], counts.counts[order], strict=True)
    )
    base: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "dtype": dtype,
        "count": n,
        "missing": counts.missing,
        "distinct": distinct,
        "top": top,
        "pii": pii,
    }
    if kind in ("categorical", "boolean") and n:
        share = counts.counts.max() / n
        if distinct > 1 and share >= 0.9:
            warnings.append(f"imbalanced: the most frequent value is {share:.0%} of rows")
    if kind == "text" and distinct > max_categories:
        warnings.append(f"high cardinality ({distinct:,} distinct values)")
    if family == "number" and n:
        v = counts.values  # sorted: ranges, quantiles and bins are binary searches
        cum = np.cumsum(counts.counts)

        def below(x: float, side: Literal["left", "right"] = "left") -> int:
            """How many values are < x (``left``) or <= x (``right``)."""
            at = int(np.searchsorted(v, x, side=side))
            return int(cum[at - 1]) if at else 0

        weights = None if distinct == n else counts.counts.astype("float64")
        mean = float(np.average(v, weights=weights))
        centred = v - mean
        squared = centred * centred
        m2 = float(np.dot(squared, weights) if weights is not None else squared.sum())
        cubed = squared * centred
        m3 = float(np.dot(cubed, weights) if weights is not None else cubed.sum())
        std = float(np.sqrt(m2 / (n - 1))) if n > 1 else float("nan")
        skew = float("nan")
        if n > 2 and m2 > 0:
            g1 = (m3 / n) / (m2 / n) ** 1.5
            skew = float(g1 * np.sqrt(n * (n - 1)) / (n - 2))
        if np.isfinite(skew) and abs(skew) > 2:
            warnings.append(f"skewed (skew {skew:.1f})")
        q = {f"{int(p * 100)}%": quantile(v, counts.counts, p, cum) for p in QUANTILES}
        iqr = q["75%"] - q["25%"]
        low, high = q["25%"] - 1.5 * iqr, q["75%"] + 1.5 * iqr
        outliers = below(low) + n - below(high, "right")
        edges = np.linspace(v[0], v[-1] if v[-1] > v[0] else v[0] + 1.0, 31)
        # numpy's bins: [e_i, e_i+1), the last one closed
        cuts = [0, *(below(e) for e in edges[1:-1]), n]
        hist = np.diff(cuts)
        zeros = below(0.0, "right") - below(0.0)
        if (
            kind == "numeric"
            and distinct == n
            and n > 1
            and np.all(v == np.round(v))
            and ("int" in dtype.lower())
        ):
            kind = "identifier"
        return ColumnProfile(
            **{**base, "kind": kind},
            min=None if pii else float(v[0]),
            max=None if pii else float(v[-1]),
            mean=None if pii else mean,
            std=std,
            skew=skew,
            quantiles={} if pii else q,
            histogram=((), ()) if pii else (tuple(float(e) for e in edges), tuple(hist.tolist())),
            zeros=zeros,
            outliers=outliers,
            warnings=tuple(warnings),
        )
    if family == "datetime" and n:
        v = counts.values
        steps = np.diff(v)
        frequency: str | None = None
        coverage: float | None = None
        gaps: tuple[tuple[str, str, int], ...] = ()
        if len(steps):
            step_values, step_counts = np.unique(steps, return_counts=True)
            step = int(step_values[np.argmax(step_counts)])
            frequency = str(pd.Timedelta(step, unit="ns"))
            expected = int((v[-1] - v[0]) // step) + 1
            coverage = float(min(distinct / expected, 1.0)) if expected else 1.0
            big = np.flatnonzero(steps > step)
            longest = big[np.argsort(-steps[big], kind="stable")][:5]
            gaps = tuple(
                (_iso(v[i], tz), _iso(v[i + 1], tz), int(steps[i] // step) - 1) for i in longest
            )
            if coverage < 0.9:
                warnings.append(f"gaps: {coverage:.0%} of {frequency} steps have data")
        return ColumnProfile(
            **base,
            min=_iso(v[0], tz),
            max=_iso(v[-1], tz),
            frequency=frequency,
            coverage=coverage,
            gaps=gaps,
            warnings=tuple(warnings),
        )
    return ColumnProfile(**base, warnings=tuple(warnings))


def _top(counts: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest counts, ties in value order (as a stable sort gives),
    without sorting all of them: a column of distinct floats has as many counts as rows."""
    if len(counts) <= n:
        return np.argsort(-counts, kind="stable")
    threshold = -np.partition(-counts, n - 1)[n - 1]
    candidates = np.flatnonzero(counts >= threshold)
    ordered: np.ndarray = candidates[np.argsort(-counts[candidates], kind="stable")][:n]
    return ordered


def _plain(value: Any, family: str, tz: str | None) -> Any:
    if family == "datetime":
        return _iso(int(value), tz)
    return value.item() if hasattr(value, "item") else value


def _partitions(data: Any) -> tuple[list[Any], bool]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return [data], False
    if hasattr(data, "to_delayed") and hasattr(data, "npartitions"):
        return list(data.to_delayed()), True
    raise DataError(f"profile takes a pandas or Dask DataFrame. Got {type(data).__name__} instead.")


def profile(
    data: pd.DataFrame | Any,
    target: str | None = None,
    *,
    pii: Iterable[str] = (),
    contract: Any = None,
    max_categories: int = 50,
    top: int = 10,
    progress: bool = True,
    source: str = "",
) -> Profile:
    """Profile every column of ``data`` exactly, and the associations between them.

    Works on a pandas DataFrame and on a Dask DataFrame larger than memory: each
    partition is read twice (per-column value counts, then bivariate sums), partitions
    in parallel on threads, and the small summaries are merged. Statistics are exact on
    the full data; only figures sample points.

    Spearman is the Pearson correlation of each column's average ranks (ranks over all
    its non-missing values), on rows where both columns are present; with no missing
    values this is exactly scipy's and pandas' Spearman.

    Args:
        data: The frame.
        target: A column whose associations with every other column are reported.
        pii: Personal columns (top values masked, no range shown); a ``contract``'s
            ``pii`` columns are added.
        contract: A :class:`workbench.data.Contract`, for its personal columns.
        max_categories: Most distinct values for a text column to count as categorical.
        top: How many most-frequent values to keep per column.
        progress: Show a progress bar over partitions.
        source: A name for the data, shown in reports.

    Returns:
        A :class:`Profile`.

    Raises:
        DataError: ``data`` is not a DataFrame, or ``target`` is not one of its columns.

    Example:
        >>> import pandas as pd
        >>> p = profile(pd.DataFrame({"x": [1.0, 2.0, None]}), progress=False)
        >>> p.column("x").missing, p.column("x").mean
        (1, 1.5)
    """
    from dask.delayed import delayed

    from workbench._progress import compute_with_progress

    parts, lazy = _partitions(data)
    names = [str(c) for c in data.columns]
    if target is not None and target not in names:
        raise DataError(f"The target {target!r} is not a column. Columns: {names}.")
    personal = set(pii) | set(getattr(contract, "pii_columns", ()))
    meta = data._meta if hasattr(data, "_meta") else data
    families = {str(c): _family(meta[c]) for c in meta.columns}
    tzs = {
        c: str(getattr(meta[c].dt, "tz", None) or "") or None
        for c in families
        if families[c] == "datetime"
    }

    tasks = [delayed(pass_one)(p, families) for p in parts]
    firsts = (
        compute_with_progress(tasks, desc="profiling (1/2)", show=progress and lazy)
        if lazy
        else [pass_one(parts[0], families, keep_ranks=True)]
    )
    merged = {c: merge_counts([f[c] for f in firsts]) for c in families}
    rows = merged[names[0]].rows if names else 0

    def build(name: str) -> ColumnProfile:
        return _column(
            name,
            str(meta[name].dtype),
            families[name],
            merged[name],
            max_categories,
            name in personal,
            tzs.get(name),
            top,
        )

    with ThreadPoolExecutor(_workers()) as pool:  # numpy releases the GIL: use every core
        columns = tuple(pool.map(build, names))
    numeric = [c.name for c in columns if c.kind == "numeric" and c.count > 1]
    categorical = [
        c.name
        for c in columns
        if c.kind in ("categorical", "boolean") and 1 <= c.distinct <= max_categories
    ]
    means = {
        c.name: float(c.mean) if c.mean is not None else _mean(merged[c.name])
        for c in columns
        if c.name in numeric
    }
    tasks2 = [delayed(pass_two)(p, numeric, categorical, merged, means) for p in parts]
    seconds = (
        compute_with_progress(tasks2, desc="profiling (2/2)", show=progress and lazy)
        if lazy
        else [pass_two(parts[0], numeric, categorical, merged, means)]
    )
    sums: PairSums = seconds[0]
    for more in seconds[1:]:
        sums = sums + more
    correlations = _correlations(sums, numeric, categorical)
    associations = _associations(target, correlations, columns) if target else {}
    return Profile(
        rows=rows,
        columns=columns,
        correlations=correlations,
        target=target,
        associations=associations,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        source=source,
    )


def _mean(counts: Counts) -> float:
    n = counts.counts.sum()
    return float((counts.values * counts.counts).sum() / n) if n else 0.0


def _matrix(method: str, cols: Sequence[str], values: np.ndarray) -> Correlations:
    return Correlations(method, tuple(cols), tuple(tuple(float(v) for v in r) for r in values))


def _correlations(
    sums: PairSums, numeric: Sequence[str], categorical: Sequence[str]
) -> dict[str, Correlations]:
    out = {
        "pearson": _matrix("pearson", numeric, pearson(sums.n, sums.sx, sums.sxx, sums.sxy)),
        "spearman": _matrix("spearman", numeric, pearson(sums.rn, sums.rsx, sums.rsxx, sums.rsxy)),
    }
    k = len(categorical)
    v = np.eye(k)
    for i, a in enumerate(categorical):
        for j in range(i + 1, k):
            v[i, j] = v[j, i] = cramers_v(sums.tables[(a, categorical[j])])
    out["cramers_v"] = _matrix("cramers_v", categorical, v)
    # correlation ratio: rows are categories, columns numbers; stored square over both
    both = [*categorical, *numeric]
    eta = np.full((len(both), len(both)), np.nan)
    for i, a in enumerate(categorical):
        for j, b in enumerate(numeric):
            eta[i, k + j] = eta[k + j, i] = correlation_ratio(sums.groups[(a, b)])
    out["correlation_ratio"] = _matrix("correlation_ratio", both, eta)
    return out


def _associations(
    target: str, correlations: Mapping[str, Correlations], columns: Sequence[ColumnProfile]
) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    pearson_ = correlations["pearson"]
    cramer = correlations["cramers_v"]
    eta = correlations["correlation_ratio"]
    for name in (c.name for c in columns):
        if name == target:
            continue
        if target in pearson_.columns and name in pearson_.columns:
            out[name] = ("pearson", pearson_.get(target, name))
        elif target in cramer.columns and name in cramer.columns:
            out[name] = ("cramers_v", cramer.get(target, name))
        elif target in eta.columns and name in eta.columns:
            out[name] = ("correlation_ratio", eta.get(target, name))
    return out
