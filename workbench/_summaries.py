"""Mergeable summaries: drift without holding the data.

A :class:`Summary` holds, per profiled column, the counts drift needs: per numeric column
(:class:`NumericCounts`) the rows below and at each of a reference's cut points (every
distinct value when there are few, else quantiles, see :class:`ReferenceProfile`), per
categorical column (:class:`CategoricalCounts`) the rows of each category. It is computed
per chunk (a pandas frame, or each partition of a Dask frame) and summaries add up, so a
log larger than memory is one pass of small arrays. Every drift test then works on two
summaries; with every distinct reference value as a cut point the Kolmogorov–Smirnov
statistic is exact, and the distances on numeric columns assume values spread evenly
inside each of the (at most ``max_points``) bins. Outside the reference's range its CDF
is flat, so what current values lie there is kept apart, per end (a :class:`Tail`): the
sum of their distances from that end, which makes the Wasserstein distance there exact,
and a histogram of those distances for the figure and the binned tests. Current values
that are none of a few-valued reference's values (``unseen``) are counted one by one, so
the test choice, made when reference and current meet, counts the distinct values of
both, as Evidently does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CategoricalCounts",
    "Counts",
    "NumericCounts",
    "Summary",
    "Tail",
    "distinct_values",
    "kind_of",
]

#: Cut points per numeric column (all distinct values when there are at most this many).
MAX_POINTS = 1000
#: Numeric columns with at most this many distinct values, reference and current together,
#: are tested as categories (Evidently's rule).
FEW_DISTINCT = 5
#: Most buckets a :class:`Tail` keeps; past that their width doubles.
TAIL_BUCKETS = 512
#: A tail's first bucket width is the reference's range over this.
TAIL_RESOLUTION = 256


def tail_width(edges: np.ndarray) -> float:
    """The first bucket width of the tails of a column with cut points ``edges``: the
    reference's range over ``TAIL_RESOLUTION`` (for a constant reference, its magnitude,
    at least 1, over the same)."""
    span = float(edges[-1] - edges[0]) if len(edges) else 0.0
    if not span > 0:
        span = max(abs(float(edges[0])) if len(edges) else 0.0, 1.0)
    return span / TAIL_RESOLUTION


@dataclasses.dataclass
class Tail:
    """Current values beyond one end of the reference's cut points, by distance from it.

    ``distance`` is the sum of their distances from the end: outside the reference's range
    its CDF is flat, so that sum is all the Wasserstein distance there needs, exactly.
    ``buckets[k]`` counts the values at a distance in ``[k·width, (k+1)·width)``; the width
    starts at :func:`tail_width` and doubles (neighbouring buckets merged) whenever more
    than ``TAIL_BUCKETS`` are filled, so a tail stays small however far it reaches, and
    tails of chunks add up to the same result in any order.
    """

    width: float = 0.0
    buckets: dict[int, int] = dataclasses.field(default_factory=dict)
    distance: float = 0.0

    @classmethod
    def of(cls, distances: np.ndarray, width: float) -> Tail:
        """The tail of values at ``distances`` (> 0) beyond the end."""
        if not len(distances):
            return cls(width, {}, 0.0)
        keys = np.floor(distances / width)
        unique, counts = np.unique(keys, return_counts=True)
        while len(unique) > TAIL_BUCKETS:
            keys, width = np.floor(keys / 2), width * 2
            unique, counts = np.unique(keys, return_counts=True)
        return cls(
            width,
            {int(k): int(n) for k, n in zip(unique, counts, strict=True)},
            float(distances.sum()),
        )

    @property
    def count(self) -> int:
        return sum(self.buckets.values())

    def __add__(self, other: Tail) -> Tail:
        filled = [t for t in (self, other) if t.buckets]
        width = max((t.width for t in filled), default=max(self.width, other.width))
        merged: dict[int, int] = {}
        for tail in filled:
            factor = round(width / tail.width)  # a power of two
            for key, count in tail.buckets.items():
                merged[key // factor] = merged.get(key // factor, 0) + count
        while len(merged) > TAIL_BUCKETS:
            coarser: dict[int, int] = {}
            for key, count in merged.items():
                coarser[key // 2] = coarser.get(key // 2, 0) + count
            merged, width = coarser, width * 2
        return Tail(width, merged, self.distance + other.distance)

    def within(self, reach: np.ndarray, farthest: float) -> np.ndarray:
        """About how many values lie at a distance of at most each ``reach``: spread
        evenly inside each bucket, the farthest bucket ending at ``farthest`` (the
        distance of the current's extreme value, known exactly)."""
        reach = np.asarray(reach, dtype=float)
        if not self.buckets:
            return np.zeros(len(reach))
        keys = np.array(sorted(self.buckets), dtype=float)
        counts = np.array([self.buckets[int(k)] for k in keys], dtype=float)
        high = np.minimum((keys + 1) * self.width, farthest)
        low = np.minimum(keys * self.width, high)
        span = high - low
        t = reach[:, None]
        share = np.where(
            span > 0,
            np.clip((t - low) / np.where(span > 0, span, 1.0), 0.0, 1.0),
            (t >= high).astype(float),
        )
        within: np.ndarray = share @ counts
        return within

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "buckets": [[k, n] for k, n in sorted(self.buckets.items())],
            "distance": self.distance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tail:
        return cls(
            float(data["width"]),
            {int(k): int(n) for k, n in data["buckets"]},
            float(data["distance"]),
        )


@dataclasses.dataclass
class NumericCounts:
    """Counts of one numeric column against fixed cut points ``edges``.

    ``below[k]`` values are < ``edges[k]``, ``at_or_below[k]`` are ≤ it; ``rows`` counts
    every row, ``missing`` the missing ones (NaN, or ±inf, which no contract accepts).
    ``inside[j]`` sums, over the values strictly between ``edges[j]`` and
    ``edges[j + 1]``, their distance from ``edges[j]`` (``None`` in profiles stored before
    it was kept: values then count as spread evenly), so the area under the CDF over each
    bin is exact. ``low_tail`` and ``high_tail`` hold the values below the first and above
    the last cut point (:class:`Tail`); ``unseen`` counts the values that are none of the cut
    points, when there are at most ``FEW_DISTINCT`` of those (the ``FEW_DISTINCT``
    smallest such values: enough to tell whether the column has more distinct values
    than that, and exact when it does not).
    """

    below: np.ndarray
    at_or_below: np.ndarray
    rows: int
    missing: int
    total: float
    total_sq: float
    low: float
    high: float
    inside: np.ndarray | None = None
    low_tail: Tail = dataclasses.field(default_factory=Tail)
    high_tail: Tail = dataclasses.field(default_factory=Tail)
    unseen: dict[float, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, values: np.ndarray, edges: np.ndarray) -> NumericCounts:
        present = values[np.isfinite(values)]
        ordered = np.sort(present)
        below = np.searchsorted(ordered, edges, side="left").astype(np.int64)
        at_or_below = np.searchsorted(ordered, edges, side="right").astype(np.int64)
        width = tail_width(edges)
        # sorted, so bin j's values (edges[j] <= v < edges[j+1]; those on edges[j] add 0)
        # are one run: their distances from the bin's left edge, summed per run
        runs = np.diff(below)
        filled = runs > 0
        inside = np.zeros(len(runs))
        if filled.any():
            starts = (below[:-1] - below[0])[filled]
            span = ordered[below[0] : below[-1]]
            inside[filled] = np.add.reduceat(span, starts) - runs[filled] * edges[:-1][filled]
        unseen: dict[float, int] = {}
        if len(edges) <= FEW_DISTINCT and len(ordered):
            nearest = edges[np.minimum(np.searchsorted(edges, ordered), len(edges) - 1)]
            new, counts = np.unique(ordered[nearest != ordered], return_counts=True)
            unseen = {float(v): int(n) for v, n in zip(new[:FEW_DISTINCT], counts, strict=False)}
        return cls(
            below=below,
            at_or_below=at_or_below,
            rows=len(values),
            missing=len(values) - len(present),
            total=float(present.sum()),
            total_sq=float(np.square(present).sum()),
            low=float(ordered[0]) if len(ordered) else float("inf"),
            high=float(ordered[-1]) if len(ordered) else float("-inf"),
            inside=inside,
            low_tail=Tail.of(edges[0] - ordered[: below[0]], width) if len(edges) else Tail(),
            high_tail=Tail.of(ordered[at_or_below[-1] :] - edges[-1], width)
            if len(edges)
            else Tail(),
            unseen=unseen,
        )

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def mean(self) -> float:
        return self.total / self.present if self.present else float("nan")

    @property
    def std(self) -> float:
        """Population standard deviation (ddof 0, as NumPy and Evidently)."""
        if not self.present:
            return float("nan")
        return float(np.sqrt(max(self.total_sq / self.present - self.mean**2, 0.0)))

    def __add__(self, other: NumericCounts) -> NumericCounts:
        unseen = dict(self.unseen)
        for value, count in other.unseen.items():
            unseen[value] = unseen.get(value, 0) + count
        # the smallest values of the union are the smallest of each part: exact counts
        kept = sorted(unseen)[:FEW_DISTINCT]
        return NumericCounts(
            self.below + other.below,
            self.at_or_below + other.at_or_below,
            self.rows + other.rows,
            self.missing + other.missing,
            self.total + other.total,
            self.total_sq + other.total_sq,
            min(self.low, other.low),
            max(self.high, other.high),
            None if self.inside is None or other.inside is None else self.inside + other.inside,
            self.low_tail + other.low_tail,
            self.high_tail + other.high_tail,
            {v: unseen[v] for v in kept},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "below": self.below.tolist(),
            "at_or_below": self.at_or_below.tolist(),
            "rows": self.rows,
            "missing": self.missing,
            "total": self.total,
            "total_sq": self.total_sq,
            "low": self.low,
            "high": self.high,
            "inside": None if self.inside is None else self.inside.tolist(),
            "low_tail": self.low_tail.to_dict(),
            "high_tail": self.high_tail.to_dict(),
            "unseen": [[v, n] for v, n in sorted(self.unseen.items())],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericCounts:
        # profiles stored before tails were kept: a reference lies within its own cut
        # points, so its tails are empty and it has no unseen values; without ``inside``
        # its values count as spread evenly in each bin
        return cls(
            below=np.asarray(data["below"], dtype=np.int64),
            at_or_below=np.asarray(data["at_or_below"], dtype=np.int64),
            rows=int(data["rows"]),
            missing=int(data["missing"]),
            total=float(data["total"]),
            total_sq=float(data["total_sq"]),
            low=float(data["low"]),
            high=float(data["high"]),
            inside=None if data.get("inside") is None else np.asarray(data["inside"], dtype=float),
            low_tail=Tail.from_dict(data["low_tail"]) if "low_tail" in data else Tail(),
            high_tail=Tail.from_dict(data["high_tail"]) if "high_tail" in data else Tail(),
            unseen={float(v): int(n) for v, n in data.get("unseen", [])},
        )


@dataclasses.dataclass
class CategoricalCounts:
    """Counts of each category of one column (values as text), and missing values."""

    counts: dict[str, int]
    rows: int
    missing: int

    @classmethod
    def of(cls, values: pd.Series) -> CategoricalCounts:
        present = values.dropna()
        counts = present.astype(str).value_counts()
        return cls(
            {str(k): int(v) for k, v in counts.items()}, len(values), len(values) - len(present)
        )

    def __add__(self, other: CategoricalCounts) -> CategoricalCounts:
        merged = dict(self.counts)
        for key, value in other.counts.items():
            merged[key] = merged.get(key, 0) + value
        return CategoricalCounts(merged, self.rows + other.rows, self.missing + other.missing)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalCounts:
        return cls(dict(data["counts"]), int(data["rows"]), int(data["missing"]))


Counts = NumericCounts | CategoricalCounts


@dataclasses.dataclass
class Summary:
    """Counts of every profiled column over some rows; ``a + b`` merges two."""

    columns: dict[str, Counts]

    @property
    def rows(self) -> int:
        return next(iter(self.columns.values())).rows if self.columns else 0

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            {name: self.columns[name] + other.columns[name] for name in self.columns}  # type: ignore[operator]
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: {"kind": kind_of(c), **c.to_dict()} for name, c in self.columns.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        columns: dict[str, Counts] = {}
        for name, item in data.items():
            body = {k: v for k, v in item.items() if k != "kind"}
            columns[name] = (
                NumericCounts.from_dict(body)
                if item["kind"] == "numeric"
                else CategoricalCounts.from_dict(body)
            )
        return cls(columns)


def kind_of(counts: Counts) -> str:
    return "numeric" if isinstance(counts, NumericCounts) else "categorical"


def distinct_values(reference: Counts, current: Counts, edges: np.ndarray | None) -> int:
    """Distinct values of reference and current together (Evidently counts both).

    Exact up to ``FEW_DISTINCT``; above that, a number above ``FEW_DISTINCT`` (for a
    numeric column, the reference's cut points plus the current's unseen values kept).
    """
    if isinstance(reference, CategoricalCounts) and isinstance(current, CategoricalCounts):
        return len(set(reference.counts) | set(current.counts))
    if not isinstance(reference, NumericCounts) or not isinstance(current, NumericCounts):
        raise MonitoringError("Reference and current counts of a column differ in kind.")
    size = len(edges) if edges is not None else 0
    on_points = int((reference.at_or_below - reference.below).sum())
    if on_points != reference.present:  # quantile cut points: more values than points
        return max(size, FEW_DISTINCT + 1)
    return size + len(current.unseen)
