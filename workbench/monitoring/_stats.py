"""The drift tests, on summaries: a registry name → how to compute, how to decide.

Each test takes the reference's and the current data's counts of one column (see
:mod:`workbench._summaries`) and returns one number. ``p_value`` tests drift
when the number is *below* the threshold, ``distance`` tests when it is *at or above*.
The definitions follow Evidently's (``stattests``), so verdicts compare:

========================  ===========  ==============================================
test                      kind         computed as
========================  ===========  ==============================================
``ks``                    p_value      two-sample Kolmogorov–Smirnov (SciPy's p-value)
``chisquare``             p_value      current counts vs the reference's shares
``z``                     p_value      two-proportion z-test on the first category
``wasserstein``           distance     Wasserstein-1 / max(reference std, 0.001)
``jensenshannon``         distance     SciPy's Jensen–Shannon distance of the shares
``psi``                   distance     Σ (c − r) ln(c / r), zero shares as 0.0001
``kl``                    distance     Σ r ln(r / c), zero shares as 0.0001
``hellinger``             distance     ‖√r − √c‖₂ / √2
========================  ===========  ==============================================

Numeric columns enter the share-based tests as 30 equal-width bins over both ranges;
numeric columns with at most 5 distinct values, counting reference and current together,
as categories (a value only the current has is a category of its own).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._summaries import (
    FEW_DISTINCT,
    CategoricalCounts,
    Counts,
    NumericCounts,
    distinct_values,
)

__all__ = ["TESTS", "DriftTest", "default_test", "shares", "tested_as_numeric"]

_EPS = 0.0001
_BINS = 30


@dataclass(frozen=True)
class DriftTest:
    """One registered test."""

    name: str
    kind: str  # "p_value" or "distance"
    threshold: float
    compute: Callable[[Counts, Counts, np.ndarray | None], float]
    numeric_only: bool = False

    def drifted(self, value: float, threshold: float | None = None) -> bool:
        bound = self.threshold if threshold is None else threshold
        if math.isnan(value):
            return False
        return value < bound if self.kind == "p_value" else value >= bound


# -- numeric CDFs from counts -------------------------------------------------------------


def _cdf(c: NumericCounts, edges: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CDF just before and at each ``xs`` within the cut points' range: exact at the
    cut points, linear between."""
    n = max(c.present, 1)
    below, upto = c.below / n, c.at_or_below / n
    size = len(edges)
    k = np.clip(np.searchsorted(edges, xs, side="left"), 0, size - 1)
    left, right = np.empty(len(xs)), np.empty(len(xs))
    on_edge = edges[k] == xs
    left[on_edge], right[on_edge] = below[k[on_edge]], upto[k[on_edge]]
    inside = ~on_edge
    if inside.any():
        j = np.maximum(k[inside], 1)
        t = (xs[inside] - edges[j - 1]) / (edges[j] - edges[j - 1])
        left[inside] = right[inside] = upto[j - 1] + t * (below[j] - upto[j - 1])
    return left, right


def _cdf_anywhere(c: NumericCounts, edges: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The CDF at each ``xs``, also beyond the cut points (from the tails, not spread
    evenly up to the current's extreme)."""
    n = max(c.present, 1)
    out = np.empty(len(xs))
    first, last = edges[0], edges[-1]
    low, high = xs < first, xs > last
    inside = ~low & ~high
    if inside.any():
        out[inside] = _cdf(c, edges, xs[inside])[1]
    if low.any():  # values at or below x: those at least first - x below the first point
        tail = c.low_tail
        reach = first - xs[low]
        farthest = first - c.low
        out[low] = (tail.count - tail.within(np.nextafter(reach, -np.inf), farthest)) / n
    if high.any():
        out[high] = (c.at_or_below[-1] + c.high_tail.within(xs[high] - last, c.high - last)) / n
    return out


def _numeric_pair(ref: Counts, cur: Counts) -> tuple[NumericCounts, NumericCounts]:
    if not isinstance(ref, NumericCounts) or not isinstance(cur, NumericCounts):
        raise MonitoringError("This test applies to numeric columns only.")
    return ref, cur


def _ks(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    from scipy import stats
    from scipy.stats._stats_py import _attempt_exact_2kssamp

    r, c = _numeric_pair(ref, cur)
    assert edges is not None
    n1, n2 = r.present, c.present
    d = float(
        max(
            np.max(np.abs(r.below / n1 - c.below / n2)),
            np.max(np.abs(r.at_or_below / n1 - c.at_or_below / n2)),
            0.0,
        )
    )
    if max(n1, n2) <= 10_000:  # SciPy's method="auto"
        ok, d, prob = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
        if ok:
            return float(np.clip(prob, 0, 1))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def _area_under(c: NumericCounts, edges: np.ndarray) -> np.ndarray:
    """∫ F over each bin between consecutive cut points: exact from the counts and the
    summed distances of the values inside each bin (spread evenly when not stored)."""
    n = max(c.present, 1)
    width = np.diff(edges)
    within = c.below[1:] - c.at_or_below[:-1]  # values strictly inside each bin
    offsets = c.inside if c.inside is not None else within * width / 2
    area: np.ndarray = c.at_or_below[:-1] / n * width + (within * width - offsets) / n
    return area


def _wasserstein(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    """∫|F_ref − F_cur|, normed by the reference's standard deviation (at least 0.001, as
    Evidently).

    The cut points span the reference, so beyond them its CDF is 0 (below) or 1 (above)
    and the area there is the current's summed distance beyond each end: exact. In each
    bin between cut points the signed area ∫(F_ref − F_cur) is exact too (summed
    distances inside the bin); where the difference keeps its sign, that is the area;
    where it changes sign, it is taken to cross zero once, linearly, at the point that
    keeps the signed area.
    """
    r, c = _numeric_pair(ref, cur)
    assert edges is not None
    r_left, r_right = _cdf(r, edges, edges)
    c_left, c_right = _cdf(c, edges, edges)
    start = r_right[:-1] - c_right[:-1]  # each bin: just after one cut point...
    end = r_left[1:] - c_left[1:]  # ...and just before the next
    width = np.diff(edges)
    signed = _area_under(r, edges) - _area_under(c, edges)
    a, b = np.abs(start), np.abs(end)
    crosses = np.sign(start) * np.sign(end) < 0
    toward = np.where(start > 0, signed, -signed)  # the signed area, start's sign positive
    safe = np.where(crosses, a + b, 1.0)
    t = np.clip((2 * toward / np.where(width > 0, width, 1.0) + b) / safe, 0.0, 1.0)
    area = np.where(crosses, (a * t + b * (1 - t)) * width / 2, np.abs(signed))
    # a reference lies within its own cut points: its tails are empty
    beyond = (c.low_tail.distance + c.high_tail.distance) / max(c.present, 1)
    distance = float(np.sum(area)) + beyond
    return distance / max(r.std, 0.001)


def tested_as_numeric(ref: Counts, cur: Counts, edges: np.ndarray | None) -> bool:
    """Numeric, with more than ``FEW_DISTINCT`` distinct values in reference and current
    together (Evidently's rule); otherwise the column is tested as categories."""
    return isinstance(ref, NumericCounts) and distinct_values(ref, cur, edges) > FEW_DISTINCT


def shares(
    ref: Counts, cur: Counts, edges: np.ndarray | None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Category labels and the reference's and current shares over them.

    Categorical columns: every category of either side. Numeric columns with at most
    ``FEW_DISTINCT`` distinct values in reference and current together (tested as
    categories): each of those values, in order, a value only the current has among them.
    Other numeric columns: 30 equal-width bins over both ranges.
    """
    if isinstance(ref, CategoricalCounts) and isinstance(cur, CategoricalCounts):
        keys = sorted(set(ref.counts) | set(cur.counts))
        r = np.array([ref.counts.get(k, 0) for k in keys], dtype=float)
        c = np.array([cur.counts.get(k, 0) for k in keys], dtype=float)
        return keys, r / max(r.sum(), 1.0), c / max(c.sum(), 1.0)
    r_num, c_num = _numeric_pair(ref, cur)
    assert edges is not None
    if not tested_as_numeric(r_num, c_num, edges):  # a few values: categories
        at_r = dict(zip(edges.tolist(), (r_num.at_or_below - r_num.below).tolist(), strict=True))
        at_c = dict(zip(edges.tolist(), (c_num.at_or_below - c_num.below).tolist(), strict=True))
        at_c.update(c_num.unseen)
        values = sorted(set(at_r) | set(at_c))
        r = np.array([at_r.get(v, 0) for v in values], dtype=float)
        c = np.array([at_c.get(v, 0) for v in values], dtype=float)
        return [_label(v) for v in values], r / max(r.sum(), 1.0), c / max(c.sum(), 1.0)
    low, high = min(r_num.low, c_num.low), max(r_num.high, c_num.high)
    bounds = np.linspace(low, high if high > low else low + 1.0, _BINS + 1)
    r_cdf = _cdf_anywhere(r_num, edges, bounds)
    c_cdf = _cdf_anywhere(c_num, edges, bounds)
    r_cdf[0] = c_cdf[0] = 0.0
    r_cdf[-1] = c_cdf[-1] = 1.0
    return [_label(b) for b in bounds[:-1]], np.diff(r_cdf), np.diff(c_cdf)


def _label(value: float) -> str:
    return f"{value:.6g}"


def _chisquare(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    from scipy import stats

    keys, r, c = shares(ref, cur, edges)
    if len(keys) < 2:
        return 1.0
    observed = c * _present(cur)
    expected = np.maximum(r, 1e-6)
    expected = expected / expected.sum() * observed.sum()
    return float(stats.chisquare(observed, expected).pvalue)


def _z(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    from scipy import stats

    keys, r, c = shares(ref, cur, edges)
    if len(keys) < 2:
        return 1.0
    n1, n2 = _present(ref), _present(cur)
    p1, p2 = 1 - r[0], 1 - c[0]  # share of "not the first category", as Evidently
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    scale = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if scale == 0:
        return 1.0
    return float(2 * (1 - stats.norm.cdf(abs((p1 - p2) / scale))))


def _present(counts: Counts) -> int:
    return counts.rows - counts.missing


def _jensenshannon(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    from scipy.spatial import distance

    _, r, c = shares(ref, cur, edges)
    return float(distance.jensenshannon(r, c)) if len(r) else 0.0


def _floored(ref: Counts, cur: Counts, edges: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    _, r, c = shares(ref, cur, edges)
    return np.where(r == 0, _EPS, r), np.where(c == 0, _EPS, c)


def _psi(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    r, c = _floored(ref, cur, edges)
    return float(np.sum((c - r) * np.log(c / r)))


def _kl(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    from scipy import stats

    r, c = _floored(ref, cur, edges)
    return float(stats.entropy(r, c))


def _hellinger(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    _, r, c = shares(ref, cur, edges)
    return float(np.sqrt(np.sum((np.sqrt(r) - np.sqrt(c)) ** 2)) / np.sqrt(2))


TESTS: dict[str, DriftTest] = {
    t.name: t
    for t in (
        DriftTest("ks", "p_value", 0.05, _ks, numeric_only=True),
        DriftTest("chisquare", "p_value", 0.05, _chisquare),
        DriftTest("z", "p_value", 0.05, _z),
        DriftTest("wasserstein", "distance", 0.1, _wasserstein, numeric_only=True),
        DriftTest("jensenshannon", "distance", 0.1, _jensenshannon),
        DriftTest("psi", "distance", 0.1, _psi),
        DriftTest("kl", "distance", 0.1, _kl),
        DriftTest("hellinger", "distance", 0.1, _hellinger),
    )
}


def default_test(reference_rows: int, numeric: bool, distinct: int) -> str:
    """Evidently's default choice: by reference size, column kind and the distinct values
    of reference and current together (:func:`tested_as_numeric` gives ``numeric``)."""
    if reference_rows <= 1000:
        if numeric:
            return "ks"
        return "z" if distinct <= 2 else "chisquare"
    return "wasserstein" if numeric else "jensenshannon"
