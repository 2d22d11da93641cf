"""Mergeable partition summaries: a few passes per partition, merged, then exact statistics.
It is one job, kept in one module because each pass reads exactly what the one before
kept: the three passes share their summary types (``Counts``, ``Plan``, ``PairSums``,
``RerankPlan``) and the rank arithmetic, and are checked together against pandas and
SciPy.

Pass 1 keeps, per column, the distinct non-missing values with their counts. Everything
univariate (quantiles, histograms, distinct counts, moments, outliers, top values, time
gaps) follows exactly from those counts, whatever the number of partitions.

Pass 2 uses a :class:`Plan` built from the merged counts (each number's distinct finite
values for its ranks, each category's levels) to accumulate the bivariate sums:
pairwise-complete Pearson, Spearman on each column's ranks, contingency tables for
Cramér's V and per-category sums for the correlation ratio. Where one number is missing
on rows where another is present, it also gathers the other's values on those rows.

Pass 3 (only for pairs of numbers whose rows of presence differ) re-ranks each column
over the rows where both are present, as pandas' and SciPy's Spearman do: a value's
rank among those rows is its rank among all the column's values less the values on the
rows the other column lacks (gathered in pass 2), so the sums stay mergeable.

What counts as missing: NaN, None, NA and NaT. A number that is ±inf is counted (in
``count``, ``distinct``, top values) but is not a finite number: every statistic that
does arithmetic (min, max, moments, quantiles, histogram, outliers, every correlation)
is over finite values, and a pair of numbers is compared on rows where both are finite,
as pandas' ``DataFrame.corr`` does.

Integers are kept as integers (int64, or uint64), so values above 2**53 stay distinct;
their moments are computed on exact differences from one of the values.

Categories are keyed by type and value: 1, 1.0, "1" and True are four different values
(Python's ``==`` would merge three of them, and which label survived would depend on
which came first).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Counts",
    "PairSums",
    "Plan",
    "Spec",
    "merge_counts",
    "pass_one",
    "pass_three",
    "pass_two",
    "quantile",
]

NUMBER_FAMILIES = ("float", "int", "uint")
EXACT_FLOAT = 2**53  # integers up to this are exact in float64


@dataclasses.dataclass(frozen=True)
class Spec:
    """How to read one column: its label in the frame, its name in the profile, its
    storage family (``float``, ``int``, ``uint``, ``bool``, ``datetime``, ``object``) and,
    for datetimes, the numpy unit (``s``, ``ms``, ``us``, ``ns``) its values are kept in."""

    label: Any
    name: str
    family: str
    unit: str = ""


def column_family(series: pd.Series) -> tuple[str, str]:
    """The storage family of a column and, for datetimes, its unit."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool", ""
    if pd.api.types.is_datetime64_any_dtype(dtype):
        unit = getattr(dtype, "unit", None) or np.datetime_data(cast(Any, dtype))[0]
        return "datetime", str(unit)
    if pd.api.types.is_integer_dtype(dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        wide = np.dtype(cast(Any, getattr(dtype, "numpy_dtype", dtype))).itemsize == 8
        return ("uint" if unsigned and wide else "int"), ""
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "float", ""
    return "object", ""


@dataclasses.dataclass
class Counts:
    """Distinct non-missing values of one column (sorted) and their counts.

    Attributes:
        values: Distinct values: float64 (±inf included), int64 or uint64 for numbers;
            int64 in ``unit`` for datetimes; category keys (see :func:`category_key`).
        counts: How often each occurs.
        missing: Missing cells.
        rows: All cells.
        types: Python type names of an object column's values (mixed-type detection).
        unit: Datetimes: the numpy unit of ``values``.
        ranks: Each row's average rank among the finite values (when one partition is
            the whole frame and the column is a number).
        order: The finite rows in ascending order of value (idem).
        codes: Each row's position in ``values`` (-1: missing), for categories (idem).
    """

    values: np.ndarray
    counts: np.ndarray
    missing: int
    rows: int
    types: frozenset[str] = frozenset()
    unit: str = ""
    ranks: np.ndarray | None = None
    order: np.ndarray | None = None
    codes: np.ndarray | None = None

    def finite(self) -> tuple[np.ndarray, np.ndarray]:
        """The finite values and their counts (a number's ±inf left out)."""
        v = self.values
        if v.dtype.kind != "f" or not len(v) or (np.isfinite(v[0]) and np.isfinite(v[-1])):
            return v, self.counts
        lo = int(np.searchsorted(v, -np.inf, side="right"))
        hi = int(np.searchsorted(v, np.inf, side="left"))
        return v[lo:hi], self.counts[lo:hi]


# ---------------------------------------------------------------------- categories
def _plain_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _type_name(value: Any) -> str:
    return type(_plain_scalar(value)).__name__


def category_key(value: Any) -> str:
    """A text key that tells types apart: a text value is its own key (unless it starts
    with NUL); any other value is ``NUL type NUL text``, so 1, 1.0, "1" and True differ."""
    value = _plain_scalar(value)
    if isinstance(value, str):
        return value if not value.startswith("\x00") else f"\x00str\x00{value}"
    text = repr(value + 0.0) if isinstance(value, float) else str(value)  # -0.0 is 0.0
    return f"\x00{type(value).__name__}\x00{text}"


def category_label(key: str) -> Any:
    """The value a :func:`category_key` stands for, as a JSON-friendly scalar (a type
    other than text, bool, int and float comes back as its text)."""
    if not key.startswith("\x00"):
        return key
    _, kind, text = key.split("\x00", 2)
    if kind == "bool":
        return text == "True"
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    return text


def factorize(series: pd.Series) -> tuple[np.ndarray, Any]:
    """Codes (-1: missing) and distinct values of a column, values of different types kept
    apart: pandas' own factorize hashes 1, 1.0 and True alike and keeps whichever came
    first, so an object column is factorized one Python type at a time."""
    import pandas as pd

    if not pd.api.types.is_object_dtype(series.dtype) or series.empty:
        return pd.factorize(series, use_na_sentinel=True)
    array = series.to_numpy(dtype=object)
    kinds, types = pd.factorize(_TYPE_OF(array))
    if len(types) <= 1:
        return pd.factorize(array, use_na_sentinel=True)
    codes = np.full(len(array), -1, dtype=np.intp)
    uniques: list[Any] = []
    for k in range(len(types)):
        rows = np.flatnonzero(kinds == k)
        local, distinct = pd.factorize(array[rows], use_na_sentinel=True)
        codes[rows] = np.where(local >= 0, local + len(uniques), -1)
        uniques.extend(distinct)
    return codes, np.array([*uniques, None], dtype=object)[:-1]


_TYPE_OF = np.frompyfunc(type, 1, 1)


def _category_keys(series: pd.Series, uniques: Any) -> tuple[np.ndarray, frozenset[str]]:
    import pandas as pd

    if isinstance(series.dtype, pd.StringDtype):  # all text: keys are the values
        keys = np.asarray(uniques, dtype=object)
        if len(keys):
            escape = pd.Series(keys, dtype=object).str.startswith("\x00").to_numpy(dtype=bool)
            if escape.any():
                keys[escape] = [category_key(k) for k in keys[escape]]
        return keys, frozenset({"str"}) if len(keys) else frozenset()
    plain = [_plain_scalar(u) for u in uniques]
    keys = np.array([category_key(u) for u in plain], dtype=object)
    types: frozenset[str] = frozenset()
    if pd.api.types.is_object_dtype(series.dtype):
        types = frozenset(type(u).__name__ for u in plain)
    return keys, types


# ---------------------------------------------------------------------- numbers
def _storage(family: str) -> str:
    return {"int": "int64", "uint": "uint64"}.get(family, "float64")


def numbers(series: pd.Series, family: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A number column's values in its storage dtype, and which are present (``None``:
    all); for floats, missing values are NaN."""
    dtype = _storage(family)
    if family == "float":
        if series.dtype == np.float64:  # a view, NaN already
            array = series.to_numpy()
        else:
            array = series.to_numpy(dtype="float64", na_value=np.nan)
        present = ~np.isnan(array)
        return array, None if present.all() else present
    if series.hasnans:  # a nullable integer column
        present = series.notna().to_numpy(dtype=bool)
        return series.to_numpy(dtype=dtype, na_value=0), present
    return series.to_numpy(dtype=dtype), None


def finite_mask(array: np.ndarray, present: np.ndarray | None) -> np.ndarray:
    if array.dtype.kind == "f":
        finite: np.ndarray = np.isfinite(array)
        return finite
    return np.ones(len(array), dtype=bool) if present is None else present


def offset(values: np.ndarray, pivot: Any) -> np.ndarray:
    """``values - pivot`` as float64, exact before the one final rounding: for integers
    beyond 2**53 the difference is taken in 64-bit integers (modulo 2**64, which is
    exact as the true difference fits), not after a lossy cast to float."""
    if values.dtype.kind == "f":
        shifted: np.ndarray = np.subtract(values, float(pivot))
        return shifted
    wrapped = values.astype(np.uint64)
    p = np.uint64(int(pivot) % 2**64)
    above = values >= pivot
    result = np.empty(len(values))
    result[above] = (wrapped[above] - p).astype(np.float64)
    result[~above] = -(p - wrapped[~above]).astype(np.float64)
    return result


def _argsort_present(array: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Positions of the present values of ``array``, in ascending order of value.

    NaN is taken out first: numpy's argsort is about 2.5 times slower on arrays that
    hold NaN than on the same values without.
    """
    if present is None and array.dtype.kind == "f":
        present = ~np.isnan(array)
        if present.all():
            present = None
    if present is None:
        return np.argsort(array)
    where = np.flatnonzero(present)
    return where[np.argsort(array[where])]


def _unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if values.size == 0:
        return values, np.zeros(0, dtype=np.int64)
    ordered = np.sort(values)  # equal values are alike: no need for a (slower) stable sort
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, ordered.size])
    return ordered[starts], counts.astype(np.int64)


# ---------------------------------------------------------------------- pass 1
def _summarize(series: pd.Series, spec: Spec, keep_ranks: bool = False) -> Counts:
    rows = len(series)
    family = spec.family
    if family in NUMBER_FAMILIES:
        # One argsort gives the distinct values, their counts and every row's rank.
        array, present = numbers(series, family)
        order = _argsort_present(array, present)
        n = len(order)
        ordered = array[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if n else order[:0]
        counts = np.diff(np.r_[starts, n]).astype(np.int64)
        values = ordered[starts]
        ranks = finite_order = None
        if keep_ranks:
            # ranks among the finite values: -inf sorts first, +inf last
            below, above = 0, n
            if array.dtype.kind == "f":
                below = int(np.searchsorted(ordered, -np.inf, side="right"))
                above = int(np.searchsorted(ordered, np.inf, side="left"))
            rank_of = np.cumsum(counts) - counts - below + (counts + 1) / 2.0
            if array.dtype.kind == "f":
                rank_of[~np.isfinite(values)] = np.nan
            ranks = np.full(rows, np.nan)
            ranks[order] = np.repeat(rank_of, counts)
            small = np.int32 if rows < 2**31 else np.int64
            finite_order = order[below:above].astype(small)
        return Counts(values, counts, rows - n, rows, ranks=ranks, order=finite_order)
    if family == "datetime":
        times = series.dropna()
        missing = rows - len(times)
        if getattr(times.dt, "tz", None) is not None:
            times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = times.to_numpy()
        if stamps.dtype != np.dtype(f"datetime64[{spec.unit}]"):
            stamps = stamps.astype(f"datetime64[{spec.unit}]")
        values, counts = _unique_counts(stamps.view("int64"))
        return Counts(values, counts, missing, rows, unit=spec.unit)
    # categories: factorize, key the distinct values by type and value, count each code
    local, uniques = factorize(series)
    missing = int(np.count_nonzero(local < 0))
    keys, types = _category_keys(series, uniques)
    values, to_sorted = np.unique(keys, return_inverse=True)
    codes = np.where(local >= 0, to_sorted[np.maximum(local, 0)], -1) if len(keys) else local
    counts = np.bincount(codes[codes >= 0], minlength=len(values)).astype(np.int64)
    return Counts(
        values.astype(object), counts, missing, rows, types, codes=codes if keep_ranks else None
    )


def pass_one(frame: pd.DataFrame, specs: Sequence[Spec], keep_ranks: bool = False) -> list[Counts]:
    """Counts of every column of one partition (and row ranks, when it is the only one).

    When the partition is the whole frame (``keep_ranks``), columns are summarised on
    threads: sorting releases the GIL, so every core works, as Dask's threads do across
    partitions otherwise.
    """
    if keep_ranks and len(frame) >= _PARALLEL_ROWS and len(specs) > 1:

        def one(spec: Spec) -> Counts:
            column: pd.Series = frame[spec.label]
            return _summarize(column, spec, True)

        with ThreadPoolExecutor(_workers()) as pool:
            return list(pool.map(one, specs))
    return [_summarize(frame[spec.label], spec, keep_ranks) for spec in specs]


_PARALLEL_ROWS = 100_000


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def merge_counts(parts: Sequence[Counts]) -> Counts:
    """Merge the counts of one column over partitions."""
    import pandas as pd

    if len(parts) == 1:
        return parts[0]

    values = [p.values for p in parts if p.values.size]
    missing = sum(p.missing for p in parts)
    rows = sum(p.rows for p in parts)
    types = frozenset().union(*(p.types for p in parts))
    unit = parts[0].unit
    if not values:
        empty = np.zeros(0, dtype=np.int64)
        return Counts(parts[0].values[:0], empty, missing, rows, types, unit)
    if values[0].dtype == object:
        merged = (
            pd.Series(
                np.concatenate([p.counts for p in parts if p.values.size]),
                index=np.concatenate(values),
            )
            .groupby(level=0)
            .sum()
        )
        keys = merged.index.to_numpy(dtype=object)
        return Counts(keys, merged.to_numpy(dtype=np.int64), missing, rows, types, unit)
    all_values, all_counts = _reduce(
        np.concatenate(values), np.concatenate([p.counts for p in parts if p.values.size])
    )
    return Counts(all_values, all_counts, missing, rows, types, unit)


def _reduce(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ``values`` with their summed ``counts``."""
    if not len(values):
        return values, counts
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return values[starts], np.add.reduceat(counts, starts)


def quantile(
    values: np.ndarray, counts: np.ndarray, q: float, cum: np.ndarray | None = None
) -> float:
    """The ``q`` quantile with linear interpolation (pandas' and numpy's default).

    ``cum`` is ``np.cumsum(counts)``, when the caller has it already.
    """
    cum = np.cumsum(counts) if cum is None else cum
    n = int(cum[-1]) if len(cum) else 0
    if n == 0:
        return float("nan")
    position = q * (n - 1)
    lo, hi = int(np.floor(position)), int(np.ceil(position))
    v_lo = float(values[np.searchsorted(cum, lo, side="right")])
    v_hi = float(values[np.searchsorted(cum, hi, side="right")])
    return v_lo + (v_hi - v_lo) * (position - lo)


# ---------------------------------------------------------------------- pass 2
@dataclasses.dataclass
class NumberSummary:
    """What a pass needs of one number: its distinct finite values and their counts
    (``None``: each value occurs once), the shift its values are centred on, and — when
    the pass sees the whole frame — each row's rank and the finite rows in value order."""

    values: np.ndarray
    counts: np.ndarray | None
    shift: Any
    finite: int
    ranks: np.ndarray | None = None
    order: np.ndarray | None = None

    def rank_table(self) -> np.ndarray:
        """The average rank (1-based, ties averaged) of each distinct value."""
        if self.counts is None:
            return np.arange(1, len(self.values) + 1, dtype=np.float64)
        before = np.cumsum(self.counts) - self.counts
        table: np.ndarray = before + (self.counts + 1) / 2.0
        return table


@dataclasses.dataclass
class Plan:
    """Everything passes 2 and 3 need, built once from the merged pass-1 counts and
    shipped once to where the partitions are (scattered to a cluster's workers): only
    the columns the passes use, each as small as it can be.

    Attributes:
        numeric: The numbers compared pairwise.
        categorical: The categories compared pairwise and with the numbers.
        numbers: Each number's :class:`NumberSummary`.
        levels: Each category's keys (sorted) and, for the whole frame, each row's code.
        gather: For each number with non-finite values (``y``): ``"missing"`` gathers the
            other numbers' values on the rows ``y`` lacks, ``"present"`` (when ``y`` lacks
            more rows than it has) on the rows it has.
        whole: The pass sees the whole frame (one partition): rows' ranks and codes are
            given.
    """

    numeric: tuple[Spec, ...]
    categorical: tuple[Spec, ...]
    numbers: dict[str, NumberSummary]
    levels: dict[str, tuple[np.ndarray, np.ndarray | None]]
    gather: dict[str, str]
    whole: bool = False


def number_summary(counts: Counts, keep_rows: bool) -> NumberSummary:
    values, tally = counts.finite()
    shift: Any = 0.0
    if len(values):
        if values.dtype.kind == "f":
            shift = float(np.average(values, weights=tally))
        else:
            shift = values[len(values) // 2].item()  # an exact integer inside the range
    return NumberSummary(
        values,
        None if len(tally) == 0 or int(tally.max()) == 1 else tally,
        shift,
        int(tally.sum()),
        counts.ranks if keep_rows else None,
        counts.order if keep_rows else None,
    )


@dataclasses.dataclass
class PairSums:
    """Bivariate sums of one partition (added up over partitions).

    Numeric columns are centred (``shift``) before summing, so the sums stay accurate
    for columns with a large mean and a small spread.
    """

    n: np.ndarray  # pairwise-complete counts, k × k
    sx: np.ndarray  # sum of x_i over rows where x_j is present
    sxx: np.ndarray
    sxy: np.ndarray
    rn: np.ndarray  # the same for ranks
    rsx: np.ndarray
    rsxx: np.ndarray
    rsxy: np.ndarray
    tables: dict[tuple[str, str], np.ndarray]  # contingency tables of category pairs
    groups: dict[tuple[str, str], np.ndarray]  # (category, number) → [n, sum, sumsq] per level
    # (x, y) → x's distinct values and counts on the rows Plan.gather names for y
    gathered: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = dataclasses.field(
        default_factory=dict
    )

    def __add__(self, other: PairSums) -> PairSums:
        gathered = dict(self.gathered)
        for key, (v, c) in other.gathered.items():
            if key in gathered:
                gathered[key] = _reduce(
                    np.concatenate([gathered[key][0], v]), np.concatenate([gathered[key][1], c])
                )
            else:
                gathered[key] = (v, c)
        return PairSums(
            self.n + other.n,
            self.sx + other.sx,
            self.sxx + other.sxx,
            self.sxy + other.sxy,
            self.rn + other.rn,
            self.rsx + other.rsx,
            self.rsxx + other.rsxx,
            self.rsxy + other.rsxy,
            {k: v + other.tables[k] for k, v in self.tables.items()},
            {k: v + other.groups[k] for k, v in self.groups.items()},
            gathered,
        )


def _average_ranks(values: np.ndarray, finite: np.ndarray, summary: NumberSummary) -> np.ndarray:
    """Average rank (1-based, ties averaged) of each finite value among the column's
    finite values (NaN elsewhere)."""
    out = np.full(values.shape, np.nan)
    order = _sorted_finite(values, finite)
    # Searching sorted needles is cache-friendly: several times faster than random ones.
    out[order] = summary.rank_table()[np.searchsorted(summary.values, values[order])]
    return out


def _sorted_finite(values: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """The finite rows in ascending order of value."""
    return _argsort_present(values, None if finite.all() else finite)


_BLOCK = 1 << 16  # rows per block: work matrices of a few MB, reused by the allocator


@dataclasses.dataclass
class _Columns:
    """A partition's numbers, read once: values and which are finite."""

    values: list[np.ndarray]
    finite: list[np.ndarray]


def _read_numbers(frame: pd.DataFrame, plan: Plan) -> _Columns:
    values, finite = [], []
    for spec in plan.numeric:
        array, present = numbers(frame[spec.label], spec.family)
        values.append(array)
        finite.append(finite_mask(array, present))
    return _Columns(values, finite)


def pass_two(frame: pd.DataFrame, plan: Plan) -> PairSums:
    """Bivariate sums of one partition, given the plan built from the merged counts.

    The partition is processed in blocks of rows, so the work matrices stay small (the
    sums are additive, so the result is the same).
    """
    numeric = [s.name for s in plan.numeric]
    read = _read_numbers(frame, plan)
    ranks = [
        plan.numbers[name].ranks
        if plan.whole and plan.numbers[name].ranks is not None
        else _average_ranks(read.values[j], read.finite[j], plan.numbers[name])
        for j, name in enumerate(numeric)
    ]
    codes = {s.name: _codes(frame[s.label], plan, s.name) for s in plan.categorical}
    starts = list(range(0, max(len(frame), 1), _BLOCK))

    def block(start: int) -> PairSums:
        return _block_sums(start, plan, read, ranks, codes)

    if plan.whole and len(starts) > 1:  # the only partition: use every core, as pass one does
        with ThreadPoolExecutor(_workers()) as pool:
            parts = list(pool.map(block, starts))
    else:
        parts = [block(start) for start in starts]
    total = parts[0]
    for more in parts[1:]:
        total = total + more
    total.gathered = _gather(plan, read)
    return total


def _gather(plan: Plan, read: _Columns) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """For each number ``y`` with non-finite values, every other number's values on the
    rows ``y`` lacks (or has, when it lacks most): what pass 3 re-ranks by."""
    out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    names = [s.name for s in plan.numeric]
    for j, y in enumerate(names):
        how = plan.gather.get(y)
        if how is None:
            continue
        rows = ~read.finite[j] if how == "missing" else read.finite[j]
        where = np.flatnonzero(rows)
        for i, x in enumerate(names):
            if i != j:
                taken = read.values[i][where]
                out[(x, y)] = _unique_counts(taken[read.finite[i][where]])
    return out


def _codes(column: pd.Series, plan: Plan, name: str) -> np.ndarray:
    """Each row's position among the merged distinct values of a category (-1: missing)."""
    import pandas as pd

    keys, given = plan.levels[name]
    if plan.whole and given is not None:
        return given
    local, uniques = factorize(column)
    if not len(uniques):
        return np.full(len(column), -1)
    local_keys, _ = _category_keys(column, uniques)
    to_global = pd.Index(keys, dtype=object).get_indexer(pd.Index(local_keys, dtype=object))
    return np.where(local >= 0, to_global[np.maximum(local, 0)], -1)


def _block_sums(
    start: int,
    plan: Plan,
    read: _Columns,
    ranks: Sequence[np.ndarray | None],
    all_codes: Mapping[str, np.ndarray],
) -> PairSums:
    """The sums of one block of rows, in a few matrix products.

    ``g`` holds, side by side, each number's presence mask, its centred value and its
    square (0 where not finite); ``r`` the rank and squared rank. ``g.T @ mask`` gives the
    pairwise-complete counts, sums and sums of squares at once; per-category sums are a
    sparse indicator matrix times ``g``.
    """
    import scipy.sparse

    m = len(plan.numeric)
    categorical = [s.name for s in plan.categorical]
    stop = start + _BLOCK
    if m:
        rows = len(read.finite[0][start:stop])
    elif categorical:
        rows = len(all_codes[categorical[0]][start:stop])
    else:
        rows = 0
    g = np.empty((rows, 3 * m))
    r = np.empty((rows, 2 * m))
    mask, value, square = g[:, :m], g[:, m : 2 * m], g[:, 2 * m :]
    rank, rank2 = r[:, :m], r[:, m:]
    for j, spec in enumerate(plan.numeric):
        given = ranks[j]
        assert given is not None
        rank[:, j] = given[start:stop]
        value[:, j] = offset(read.values[j][start:stop], plan.numbers[spec.name].shift)
        mask[:, j] = read.finite[j][start:stop]
    present = mask.astype(bool)
    if not present.all():
        value[~present] = 0.0
        rank[~present] = 0.0
    np.square(value, out=square)
    np.square(rank, out=rank2)
    firsts = g.T @ mask  # 3m x m: counts, sums, sums of squares
    n, sx, sxx = firsts[:m], firsts[m : 2 * m], firsts[2 * m :]
    rank_firsts = r.T @ mask
    sxy = value.T @ value
    rsxy = rank.T @ rank

    # each category's level per row, with an extra last level for "missing"
    sizes = [len(plan.levels[a][0]) + 1 for a in categorical]
    level = np.empty((rows, len(categorical)), dtype=np.int64)
    for i, a in enumerate(categorical):
        codes = all_codes[a][start:stop]
        level[:, i] = np.where(codes >= 0, codes, sizes[i] - 1)
    tables = {}
    for i, a in enumerate(categorical):
        for k, b in enumerate(categorical[i + 1 :], start=i + 1):
            ka, kb = sizes[i], sizes[k]
            both = np.bincount(level[:, i] * kb + level[:, k], minlength=ka * kb)
            tables[(a, b)] = both.reshape(ka, kb)[:-1, :-1]
    groups = {}
    if categorical and m:
        # a sparse indicator: one row per (category, level), a 1 in every category's
        # level of each block row; times g, it sums counts, values and squares per level
        offsets = np.cumsum([0, *sizes])
        level += offsets[:-1]
        indicator = scipy.sparse.csc_matrix(
            (np.ones(level.size), level.ravel(), np.arange(0, level.size + 1, len(categorical))),
            shape=(int(offsets[-1]), rows),
        )
        per_level = indicator @ g
        for i, a in enumerate(categorical):
            own = per_level[offsets[i] : offsets[i + 1] - 1]
            for j, spec in enumerate(plan.numeric):
                groups[(a, spec.name)] = own[:, [j, m + j, 2 * m + j]].T.copy()
    return PairSums(
        n, sx, sxx, sxy, n.copy(), rank_firsts[:m], rank_firsts[m:], rsxy, tables, groups
    )


# ---------------------------------------------------------------------- pass 3
@dataclasses.dataclass
class RerankPlan:
    """The pairs of numbers pass 3 re-ranks, and by what.

    Attributes:
        pairs: ``(x, y)``: the two numbers, x before y in the plan.
        by: ``(x, y)`` → ``(how, values, cumulative counts)``: x's values on the rows
            ``Plan.gather`` names for y (``how``), with a leading 0 on the cumulative
            counts; absent when y is finite wherever x is (x keeps its ranks).
    """

    pairs: tuple[tuple[str, str], ...]
    by: dict[tuple[str, str], tuple[str, np.ndarray, np.ndarray]]


def rerank_plan(plan: Plan, sums: PairSums, numeric: Sequence[str]) -> RerankPlan | None:
    """The pairs whose rows of presence differ (``None``: no pair), from pass 2's sums."""
    index = {name: i for i, name in enumerate(numeric)}
    pairs: list[tuple[str, str]] = []
    by: dict[tuple[str, str], tuple[str, np.ndarray, np.ndarray]] = {}
    for x in numeric:
        for y in numeric:
            if index[x] >= index[y]:
                continue
            both = int(sums.n[index[x], index[y]])
            lacks = {
                (x, y): plan.numbers[x].finite - both,
                (y, x): plan.numbers[y].finite - both,
            }
            if both < 2 or not any(lacks.values()):
                continue
            pairs.append((x, y))
            for (a, b), lacking in lacks.items():
                if lacking:
                    values, counts = sums.gathered[(a, b)]
                    by[(a, b)] = (plan.gather[b], values, np.r_[0, np.cumsum(counts)])
    return RerankPlan(tuple(pairs), by) if pairs else None


def pass_three(
    frame: pd.DataFrame, plan: Plan, rerank: RerankPlan
) -> dict[tuple[str, str], np.ndarray]:
    """Per re-ranked pair: ``[n, Σrx, Σry, Σrx², Σry², Σrx·ry]`` over the rows where both
    are finite, each rank taken among those rows."""
    read = _read_numbers(frame, plan)
    position = {s.name: j for j, s in enumerate(plan.numeric)}
    columns: dict[str, _Sorted] = {}

    def within(x: str, y: str, both: np.ndarray) -> np.ndarray:
        """x's rank among the rows where y is finite too, on the rows ``both``."""
        column = columns[x]
        ranks: np.ndarray = column.ranks[both]
        if (x, y) not in rerank.by:  # y is finite wherever x is
            return ranks
        how, by_values, cumulative = rerank.by[(x, y)]
        below: np.ndarray = _below(column.values, by_values, cumulative)[column.place[both]]
        # on the rows y lacks: the global rank less the values there; on the rows y
        # has: counted directly, as ranks are (1-based, ties averaged)
        if how == "missing":
            np.subtract(ranks, below, out=ranks)
            return ranks
        below += 0.5
        return below

    def one(pair: tuple[str, str]) -> tuple[tuple[str, str], np.ndarray]:
        x, y = pair
        both = read.finite[position[x]] & read.finite[position[y]]
        rx, ry = within(x, y, both), within(y, x, both)
        # einsum, not BLAS: these run on the pool's threads, and a threaded BLAS under
        # each would oversubscribe the cores (ten times slower on a busy machine)
        products = [np.einsum("i,i->", a, b) for a, b in ((rx, rx), (ry, ry), (rx, ry))]
        sums = np.array([len(rx), rx.sum(), ry.sum(), *products])
        return (x, y), sums

    for name in sorted({p[0] for p in rerank.pairs} | {p[1] for p in rerank.pairs}):
        j = position[name]
        columns[name] = _sorted(read.values[j], read.finite[j], plan.numbers[name], plan.whole)
    if plan.whole and len(rerank.pairs) > 1:
        with ThreadPoolExecutor(_workers()) as pool:
            return dict(pool.map(one, rerank.pairs))
    return dict(map(one, rerank.pairs))


@dataclasses.dataclass
class _Sorted:
    """One number of a partition: its finite values in ascending order, each row's place
    among them (-1 where not finite) and each row's global rank."""

    values: np.ndarray
    place: np.ndarray
    ranks: np.ndarray


def _sorted(values: np.ndarray, finite: np.ndarray, summary: NumberSummary, whole: bool) -> _Sorted:
    if whole and summary.order is not None and summary.ranks is not None:
        order, ranks = summary.order, summary.ranks
    else:
        order = _sorted_finite(values, finite)
        ranks = np.full(len(values), np.nan)
        ranks[order] = summary.rank_table()[np.searchsorted(summary.values, values[order])]
    place = np.full(len(values), -1, dtype=np.int32 if len(values) < 2**31 else np.int64)
    place[order] = np.arange(len(order), dtype=place.dtype)
    return _Sorted(values[order], place, ranks)


def _below(ordered: np.ndarray, by_values: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """For each of the ascending ``ordered`` values: how many of the weighted values
    ``by_values`` (distinct, ascending, weights ``diff(cumulative)``) are below it, plus
    half of those equal to it.

    Each ``by_values`` entry is placed among ``ordered`` (m binary searches, not n): the
    count is a step function of the position there, rising by half an entry's weight
    where the values equal to it start and by the other half where they end.
    """
    n = len(ordered)
    half = 0.5 * np.diff(cumulative)
    where = np.concatenate(
        [
            np.searchsorted(ordered, by_values, side="left"),
            np.searchsorted(ordered, by_values, side="right"),
        ]
    )
    order = np.argsort(where, kind="stable")
    levels = np.r_[0.0, np.cumsum(np.concatenate([half, half])[order])]
    below: np.ndarray = np.repeat(levels, np.diff(np.r_[0, where[order], n]))
    return below


# ---------------------------------------------------------------------- statistics
def pearson(n: np.ndarray, sx: np.ndarray, sxx: np.ndarray, sxy: np.ndarray) -> np.ndarray:
    """Pairwise-complete Pearson correlations from summed (centred) moments."""
    sy, syy = sx.T, sxx.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        var_x = sxx - sx * sx / n
        var_y = syy - sy * sy / n
        r = cov / np.sqrt(var_x * var_y)
    r[(n < 2) | (var_x <= 0) | (var_y <= 0)] = np.nan
    clipped: np.ndarray = np.clip(r, -1.0, 1.0)
    return clipped


def pearson_of(sums: np.ndarray) -> float:
    """Pearson from ``[n, Σx, Σy, Σx², Σy², Σxy]``."""
    n, sx, sy, sxx, syy, sxy = (float(v) for v in sums)
    if n < 2:
        return float("nan")
    var_x, var_y = sxx - sx * sx / n, syy - sy * sy / n
    if var_x <= 0 or var_y <= 0:
        return float("nan")
    return float(np.clip((sxy - sx * sy / n) / np.sqrt(var_x * var_y), -1.0, 1.0))


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table (no bias correction), as scipy computes it."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    n = table.sum()
    if n == 0 or min(table.shape) < 2:
        return float("nan")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / n / (min(table.shape) - 1)))


def correlation_ratio(group: np.ndarray) -> float:
    """η: the share of a number's spread explained by a category (sqrt of SS_between/SS_total)."""
    counts, sums, squares = group
    n = counts.sum()
    if n < 2:
        return float("nan")
    total = squares.sum() - sums.sum() ** 2 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        between = np.nansum(np.where(counts > 0, sums**2 / counts, 0.0)) - sums.sum() ** 2 / n
    if total <= 0:
        return float("nan")
    return float(np.sqrt(max(min(between / total, 1.0), 0.0)))
