"""``profile``: a fast, exact profile of a pandas or Dask DataFrame, as a saveable record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from workbench._exceptions import DataError
from workbench.data._mask import mask_value
from workbench.explore._stats import (
    EXACT_FLOAT,
    NUMBER_FAMILIES,
    Counts,
    PairSums,
    Plan,
    RerankPlan,
    Spec,
    _workers,
    category_label,
    column_family,
    correlation_ratio,
    cramers_v,
    merge_counts,
    number_summary,
    offset,
    pass_one,
    pass_three,
    pass_two,
    pearson,
    pearson_of,
    quantile,
    rerank_plan,
)

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
        count: Non-missing cells (±inf included).
        missing: Missing cells (NaN, None, NA, NaT).
        distinct: Distinct non-missing values (for categories: by type and value).
        min, max, mean, std, skew: Numeric summaries over the finite values (``std`` with
            ddof=1, ``skew`` the adjusted Fisher–Pearson coefficient, as pandas computes
            them); an integer column's ``min``/``max`` are exact integers; datetimes give
            ``min``/``max`` as ISO text.
        quantiles: ``{"5%": …, "25%": …, "50%": …, "75%": …, "95%": …}`` (linear
            interpolation).
        histogram: ``(edges, counts)`` of 30 equal bins over [min, max].
        top: The most frequent values with their counts (booleans as booleans, numbers
            as numbers, datetimes as ISO text).
        zeros: Cells equal to zero.
        outliers: Finite cells outside [Q1 − 1.5·IQR, Q3 + 1.5·IQR].
        infinite: Cells that are ±inf: counted, but left out of every statistic above
            and of the correlations.
        warnings: Plain-language warnings (constant, high cardinality, skew, imbalance,
            mostly missing, mixed types, infinite values).
        frequency: For datetimes, the most common step between distinct times (on the
            calendar for steps of a day or more: ``1 month``, ``1 year``, ``1 business
            day``).
        coverage: For datetimes, the share of steps between min and max that have data.
        gaps: For datetimes, the longest gaps (steps with no data):
            ``(from, to, steps missing)``.
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
    infinite: int = 0
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
        correlations: ``pearson`` and ``spearman`` (numbers, pairwise-complete over
            finite values, as pandas' ``DataFrame.corr``), ``cramers_v`` (categories),
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
    if family in NUMBER_FAMILIES:
        n = int(counts.counts.sum())
        exact = family != "float" and n > 1 and len(counts.values) == n
        return "identifier" if exact else "numeric"  # distinct integers name rows
    n = int(counts.counts.sum())
    distinct = len(counts.values)
    if distinct <= max_categories:
        return "categorical"
    if distinct == n and n > 1:
        return "identifier"
    return "text"


def _iso(value: int, unit: str, tz: str | None) -> str:
    import pandas as pd

    stamp = pd.Timestamp(np.datetime64(int(value), cast(Any, unit)))
    return (stamp.tz_localize("UTC").tz_convert(tz) if tz else stamp).isoformat()


def _dtype_label(dtype: Any) -> str:
    """The dtype as shown: every text dtype is ``str`` (pandas 3 says ``str``, Dask's
    pyarrow strings ``string``; the values are the same)."""
    import pandas as pd

    return "str" if isinstance(dtype, pd.StringDtype) else str(dtype)


def _column(
    spec: Spec,
    dtype: str,
    counts: Counts,
    max_categories: int,
    pii: bool,
    tz: str | None,
    top_n: int,
) -> ColumnProfile:
    family = spec.family
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
        (mask_value(v) if pii else _plain(v, family, counts.unit, tz), int(c))
        for v, c in zip(counts.values[order], counts.counts[order], strict=True)
    )
    base: dict[str, Any] = {
        "name": spec.name,
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
    if family in NUMBER_FAMILIES:
        return _number_column(base, counts, pii, warnings)
    if family == "datetime" and n:
        v = counts.values
        frequency, coverage, gaps = _cadence(v, counts.unit, tz)
        if coverage is not None and coverage < 0.9:
            warnings.append(f"gaps: {coverage:.0%} of {frequency} steps have data")
        return ColumnProfile(
            **base,
            min=_iso(v[0], counts.unit, tz),
            max=_iso(v[-1], counts.unit, tz),
            frequency=frequency,
            coverage=coverage,
            gaps=gaps,
            warnings=tuple(warnings),
        )
    return ColumnProfile(**base, warnings=tuple(warnings))


def _number_column(
    base: dict[str, Any], counts: Counts, pii: bool, warnings: list[str]
) -> ColumnProfile:
    """Statistics of a number over its finite values (±inf are counted apart)."""
    values, tally = counts.finite()
    n = int(tally.sum())
    infinite = int(counts.counts.sum()) - n
    if infinite:
        warnings.append(f"{infinite:,} infinite values (±inf), left out of the statistics")
    if n == 0:
        return ColumnProfile(**base, infinite=infinite, warnings=tuple(warnings))
    # Integers beyond 2**53 lose digits as floats: work on exact differences from the
    # smallest value, and add it back to what is reported.
    big = values.dtype.kind in "iu" and max(abs(int(values[0])), abs(int(values[-1]))) > EXACT_FLOAT
    origin: Any = values[0].item() if big else 0
    v = offset(values, origin) if big else values.astype(np.float64, copy=False)
    cum = np.cumsum(tally)

    def below(x: float, side: Literal["left", "right"] = "left") -> int:
        """How many values are < x (``left``) or <= x (``right``)."""
        at = int(np.searchsorted(v, x, side=side))
        return int(cum[at - 1]) if at else 0

    weights = None if len(v) == n else tally.astype("float64")
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
    q = {f"{int(p * 100)}%": quantile(v, tally, p, cum) for p in QUANTILES}
    iqr = q["75%"] - q["25%"]
    low, high = q["25%"] - 1.5 * iqr, q["75%"] + 1.5 * iqr
    outliers = below(low) + n - below(high, "right")
    edges = np.linspace(v[0], v[-1] if v[-1] > v[0] else v[0] + 1.0, 31)
    # numpy's bins: [e_i, e_i+1), the last one closed
    cuts = [0, *(below(e) for e in edges[1:-1]), n]
    hist = np.diff(cuts)
    zeros = int(tally[values == 0].sum())
    shift = float(origin)
    return ColumnProfile(
        **base,
        min=None if pii else values[0].item(),
        max=None if pii else values[-1].item(),
        mean=None if pii else shift + mean,
        std=std,
        skew=skew,
        quantiles={} if pii else {k: shift + x for k, x in q.items()},
        histogram=((), ())
        if pii
        else (tuple(shift + float(e) for e in edges), tuple(hist.tolist())),
        zeros=zeros,
        outliers=outliers,
        infinite=infinite,
        warnings=tuple(warnings),
    )


def _cadence(
    v: np.ndarray, unit: str, tz: str | None
) -> tuple[str | None, float | None, tuple[tuple[str, str, int], ...]]:
    """The step between a datetime's distinct values, how many of the steps between its
    first and last value have data, and its longest gaps: ``(from, to, steps missing)``.

    Steps of a day or more are taken on the calendar of the column's time zone, so a
    yearly series has no gap in leap years, a monthly one none in 31-day months, a daily
    one none where daylight saving time makes a day 23 or 25 hours long, and one on
    business days none over weekends.
    """
    import pandas as pd

    if len(v) < 2:
        return None, None, ()
    steps = np.diff(v)
    values, tally = np.unique(steps, return_counts=True)
    modal = int(values[np.argmax(tally)])
    day = int(np.array(1, dtype="m8[D]").astype(f"m8[{unit}]").astype(np.int64))
    grid, step, label = v, modal, str(pd.Timedelta(np.timedelta64(modal, cast(Any, unit))))
    if modal >= day - day // 24:  # a day or more, give or take an hour of DST
        stamps = pd.DatetimeIndex(v.view(f"datetime64[{unit}]"))
        wall = stamps if not tz else stamps.tz_localize("UTC").tz_convert(tz).tz_localize(None)
        calendar = _calendar(wall, day)
        if calendar is not None:
            grid, label_of = calendar
            grid_steps = np.diff(grid)
            if (grid_steps > 0).all():
                counted, times = np.unique(grid_steps, return_counts=True)
                step = int(counted[np.argmax(times)])
                label = label_of(step)
            else:
                grid = v
    grid_steps = np.diff(grid)
    expected = int((grid[-1] - grid[0]) // step) + 1
    coverage = float(min(len(v) / expected, 1.0))
    # a gap: at least one step with no data (a longer, off-grid step is not one)
    big = np.flatnonzero(grid_steps >= 2 * step)
    longest = big[np.argsort(-grid_steps[big], kind="stable")][:5]
    gaps = tuple(
        (_iso(v[i], unit, tz), _iso(v[i + 1], unit, tz), int(grid_steps[i] // step) - 1)
        for i in longest
    )
    return label, coverage, gaps


def _calendar(wall: Any, day: int) -> tuple[np.ndarray, Any] | None:
    """Positions of wall-clock stamps on a calendar (months, business days or days) and
    how to name a step there; ``None`` when they keep no calendar."""
    import pandas as pd

    ticks = wall.asi8
    time_of_day = ticks % day
    if (time_of_day != time_of_day[0]).any():
        return None
    days = ticks // day
    if (wall.day == wall.day[0]).all() or wall.is_month_end.all():
        months = (wall.year * 12 + wall.month - 1).to_numpy(dtype=np.int64)
        if (np.diff(months) >= 1).all():

            def months_label(step: int) -> str:
                if step % 12 == 0:
                    years = step // 12
                    return f"{years} year" + ("s" if years > 1 else "")
                return f"{step} month" + ("s" if step > 1 else "")

            return months, months_label
    dates = days.astype("datetime64[D]")
    weekdays = ((days + 3) % 7) < 5  # 1970-01-01 was a Thursday
    if weekdays.all() and days[-1] - days[0] >= 14:
        business = np.busday_count(dates[0], dates)

        def business_label(step: int) -> str:
            return f"{step} business day" + ("s" if step > 1 else "")

        if np.unique(np.diff(days)).size > 1:  # Fridays to Mondays: business days
            return business.astype(np.int64), business_label

    def days_label(step: int) -> str:
        return str(pd.Timedelta(days=step))

    return days.astype(np.int64), days_label


def _top(counts: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest counts, ties in value order (as a stable sort gives),
    without sorting all of them: a column of distinct floats has as many counts as rows."""
    if len(counts) <= n:
        return np.argsort(-counts, kind="stable")
    threshold = -np.partition(-counts, n - 1)[n - 1]
    candidates = np.flatnonzero(counts >= threshold)
    ordered: np.ndarray = candidates[np.argsort(-counts[candidates], kind="stable")][:n]
    return ordered


def _plain(value: Any, family: str, unit: str, tz: str | None) -> Any:
    if family == "datetime":
        return _iso(int(value), unit, tz)
    if family in ("object", "bool"):
        return category_label(value)
    return value.item() if hasattr(value, "item") else value


def _partitions(data: Any) -> tuple[list[Any], bool]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return [data], False
    if hasattr(data, "to_delayed") and hasattr(data, "npartitions"):
        return list(data.to_delayed()), True
    raise DataError(f"profile takes a pandas or Dask DataFrame. Got {type(data).__name__} instead.")


def _specs(meta: pd.DataFrame) -> list[Spec]:
    """How to read each column; column labels need not be text, but must name one column
    each, also as text (the profile's names)."""
    specs: list[Spec] = []
    seen: dict[str, Any] = {}
    for position, label in enumerate(meta.columns):
        name = str(label)
        if name in seen:
            raise DataError(
                f"Columns {seen[name]!r} and {label!r} (position {position}) both have the "
                f"name {name!r}: profile names columns by their label as text. Rename one."
            )
        seen[name] = label
        family, unit = column_family(meta.iloc[:, position])
        specs.append(Spec(label, name, family, unit))
    return specs


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
    partition is read two or three times (per-column value counts, then bivariate sums,
    then — only for pairs of numbers missing on different rows — re-ranked sums), on
    threads or on the Dask cluster of the ``dask_scheduler`` setting, and the small
    summaries are merged. What a pass needs of the merged summaries goes to the cluster
    once (scattered), and only for the columns it uses. Statistics are exact on the full
    data; only figures sample points.

    Missing values (NaN, None, NA, NaT) are left out of every statistic. A number that is
    ±inf counts as present (``count``, ``distinct``, top values, ``infinite``) but every
    statistic that does arithmetic — min, max, mean, std, skew, quantiles, histogram,
    outliers, correlations — is over finite values; in correlations a non-finite cell
    counts as missing, as in pandas' ``DataFrame.corr``.

    Pearson and Spearman are pairwise-complete, as pandas' ``DataFrame.corr`` computes
    them: a pair of numbers is compared on the rows where both are finite, and for
    Spearman each is ranked among those rows (ties averaged), as SciPy's ``spearmanr``
    with ``nan_policy="omit"`` does for one pair. Cramér's V is SciPy's (no bias
    correction); the correlation ratio is η.

    Integers stay integers (values beyond 2**53 stay distinct); an integer column whose
    every value is distinct is an ``identifier``. Categories are told apart by type and
    value (1, "1" and True are three values, and the column gets a "mixed types"
    warning). Note that Dask converts object columns to text by default
    (``dataframe.convert-string``), so a mixed column read that way holds text.

    Args:
        data: The frame. Column labels need not be text; the profile names each column
            by its label as text.
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
        DataError: ``data`` is not a DataFrame, ``target`` is not one of its columns, or
            two column labels have the same text.

    Example:
        >>> import pandas as pd
        >>> p = profile(pd.DataFrame({"x": [1.0, 2.0, None]}), progress=False)
        >>> p.column("x").missing, p.column("x").mean
        (1, 1.5)
    """
    from dask.delayed import delayed

    from workbench._progress import compute_with_progress, scheduler_address

    parts, lazy = _partitions(data)
    meta = cast("pd.DataFrame", data._meta if lazy else data)
    specs = _specs(meta)
    names = [s.name for s in specs]
    if target is not None and target not in names:
        raise DataError(f"The target {target!r} is not a column. Columns: {names}.")
    personal = set(pii) | set(getattr(contract, "pii_columns", ()))
    tzs = {
        s.name: str(getattr(meta[s.label].dt, "tz", None) or "") or None
        for s in specs
        if s.family == "datetime"
    }
    address = scheduler_address(None) if lazy else None

    def run(step: Any, columns: Sequence[Spec], *shared: Any, desc: str) -> list[Any]:
        """``step(partition, *shared)`` over every partition of ``columns``."""
        if not lazy:
            return [step(parts[0], *shared)]
        chunks = cast(Any, data)[[s.label for s in columns]].to_delayed()
        handles = [_share(item, address) for item in shared]
        tasks = [delayed(step)(chunk, *handles) for chunk in chunks]
        return compute_with_progress(tasks, desc=desc, show=progress)

    firsts = (
        run(pass_one, specs, specs, desc="profiling: counts")
        if lazy
        else [pass_one(parts[0], specs, keep_ranks=True)]
    )
    merged = [merge_counts([f[i] for f in firsts]) for i in range(len(specs))]
    del firsts
    rows = merged[0].rows if specs else len(meta)

    def build(i: int) -> ColumnProfile:
        spec = specs[i]
        dtype = _dtype_label(meta[spec.label].dtype)
        return _column(
            spec, dtype, merged[i], max_categories, spec.name in personal, tzs.get(spec.name), top
        )

    with ThreadPoolExecutor(_workers()) as pool:  # numpy releases the GIL: use every core
        columns = tuple(pool.map(build, range(len(specs))))
    numeric = [i for i, c in enumerate(columns) if c.kind == "numeric" and c.count - c.infinite > 1]
    categorical = [
        i
        for i, c in enumerate(columns)
        if c.kind in ("categorical", "boolean") and 1 <= c.distinct <= max_categories
    ]
    plan = _plan(specs, merged, numeric, categorical, whole=not lazy)
    used = [*plan.numeric, *plan.categorical]
    # one column has no pair: a second read (and the plan sent for it) would be for nothing
    sums = _total(run(pass_two, used, plan, desc="profiling: pairs")) if len(used) > 1 else None
    reranked: dict[tuple[str, str], np.ndarray] = {}
    numeric_names = [s.name for s in plan.numeric]
    rerank = rerank_plan(plan, sums, numeric_names) if sums is not None else None
    if rerank is not None:  # pairs of numbers missing on different rows: re-rank them
        for part in run(pass_three, plan.numeric, plan, rerank, desc="profiling: ranks"):
            for pair, values in part.items():
                reranked[pair] = reranked[pair] + values if pair in reranked else values
    correlations = _correlations(sums, plan, reranked)
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


def _share(item: Any, address: str | None) -> Any:
    """One handle on ``item`` for every task: scattered once to the cluster's workers
    (tasks name it, instead of each carrying a copy in the graph), or one graph node on
    local threads."""
    import uuid

    from dask.delayed import delayed

    if address is not None and isinstance(item, Plan | RerankPlan):
        from workbench._progress import scheduler_client

        return scheduler_client(address).scatter(item, hash=False)
    return delayed(item, name=f"profile-{type(item).__name__}-{uuid.uuid4().hex}", traverse=False)


def _plan(
    specs: Sequence[Spec],
    merged: Sequence[Counts],
    numeric: Sequence[int],
    categorical: Sequence[int],
    whole: bool,
) -> Plan:
    numbers = {specs[i].name: number_summary(merged[i], whole) for i in numeric}
    gather: dict[str, str] = {}
    for i in numeric:
        lacking = merged[i].rows - numbers[specs[i].name].finite
        if lacking:
            has = numbers[specs[i].name].finite
            gather[specs[i].name] = "missing" if lacking <= has else "present"
    return Plan(
        numeric=tuple(specs[i] for i in numeric),
        categorical=tuple(specs[i] for i in categorical),
        numbers=numbers,
        levels={
            specs[i].name: (merged[i].values, merged[i].codes if whole else None)
            for i in categorical
        },
        gather=gather,
        whole=whole,
    )


def _total(parts: Sequence[PairSums]) -> PairSums:
    total = parts[0]
    for more in parts[1:]:
        total = total + more
    return total


def _matrix(method: str, cols: Sequence[str], values: np.ndarray) -> Correlations:
    return Correlations(method, tuple(cols), tuple(tuple(float(v) for v in r) for r in values))


def _correlations(
    sums: PairSums | None, plan: Plan, reranked: Mapping[tuple[str, str], np.ndarray]
) -> dict[str, Correlations]:
    numeric = [s.name for s in plan.numeric]
    categorical = [s.name for s in plan.categorical]
    k = len(categorical)
    if sums is None:  # at most one column: a number correlates 1 with itself unless constant
        one = np.diag([1.0 if len(plan.numbers[x].values) > 1 else np.nan for x in numeric])
        sums = PairSums(one, one, one, one, one, one, one, one, {}, {})
        spearman, pearson_ = one, one
    else:
        spearman = pearson(sums.rn, sums.rsx, sums.rsxx, sums.rsxy)
        pearson_ = pearson(sums.n, sums.sx, sums.sxx, sums.sxy)
    index = {name: i for i, name in enumerate(numeric)}
    for (x, y), values in reranked.items():
        spearman[index[x], index[y]] = spearman[index[y], index[x]] = pearson_of(values)
    out = {
        "pearson": _matrix("pearson", numeric, pearson_),
        "spearman": _matrix("spearman", numeric, spearman),
    }
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
