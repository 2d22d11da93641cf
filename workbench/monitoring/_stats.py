"""The drift tests, on summaries: a registry name → how to compute, how to decide.

Each test takes the reference's and the current data's counts of one column (see
:mod:`workbench.monitoring._summary`) and returns one number. ``p_value`` tests drift
when the number is *below* the threshold, ``distance`` tests when it is *at or above*.
The definitions follow Evidently's (``stattests``), so verdicts compare:

========================  ===========  ==============================================
test                      kind         computed as
========================  ===========  ==============================================
``ks``                    p_value      two-sample Kolmogorov–Smirnov (SciPy's p-value)
``chisquare``             p_value      current counts vs the reference's shares
``z``                     p_value      two-proportion z-test on the first category
``wasserstein``           distance     Wasserstein-1 / reference standard deviation
``jensenshannon``         distance     SciPy's Jensen–Shannon distance of the shares
``psi``                   distance     Σ (c − r) ln(c / r), zero shares as 0.0001
``kl``                    distance     Σ r ln(r / c), zero shares as 0.0001
``hellinger``             distance     ‖√r − √c‖₂ / √2
========================  ===========  ==============================================

Numeric columns enter the share-based tests as 30 equal-width bins over both ranges.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workbench._exceptions import MonitoringError
from workbench.monitoring._summary import FEW_DISTINCT, CategoricalCounts, Counts, NumericCounts

__all__ = ["TESTS", "DriftTest", "default_test", "shares"]

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
    """The CDF just before and at each ``xs``: exact at the cut points, linear between."""
    n = max(c.present, 1)
    below, upto = c.below / n, c.at_or_below / n
    size = len(edges)
    k = np.searchsorted(edges, xs, side="left")
    left, right = np.empty(len(xs)), np.empty(len(xs))
    on_edge = (k < size) & (edges[np.minimum(k, size - 1)] == xs)
    left[on_edge], right[on_edge] = below[k[on_edge]], upto[k[on_edge]]
    inside = ~on_edge & (k > 0) & (k < size)
    if inside.any():
        j = k[inside]
        t = (xs[inside] - edges[j - 1]) / (edges[j] - edges[j - 1])
        left[inside] = right[inside] = upto[j - 1] + t * (below[j] - upto[j - 1])
    first = ~on_edge & (k == 0)
    if first.any():
        x = xs[first]
        span = edges[0] - c.low
        t = np.where(x <= c.low, 0.0, (x - c.low) / span if span > 0 else 1.0)
        left[first] = right[first] = np.clip(t, 0, 1) * below[0]
    last = ~on_edge & (k == size)
    if last.any():
        x = xs[last]
        span = c.high - edges[-1]
        t = np.where(x >= c.high, 1.0, (x - edges[-1]) / span if span > 0 else 1.0)
        left[last] = right[last] = upto[-1] + np.clip(t, 0, 1) * (1 - upto[-1])
    return left, right


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


def _wasserstein(ref: Counts, cur: Counts, edges: np.ndarray | None) -> float:
    r, c = _numeric_pair(ref, cur)
    assert edges is not None
    points = np.unique(np.concatenate([edges, [r.low, r.high, c.low, c.high]]))
    points = points[(points >= min(r.low, c.low)) & (points <= max(r.high, c.high))]
    r_left, r_right = _cdf(r, edges, points)
    c_left, c_right = _cdf(c, edges, points)
    start = r_right[:-1] - c_right[:-1]  # each segment: from after one point...
    end = r_left[1:] - c_left[1:]  # ...to just before the next; both CDFs linear
    width = np.diff(points)
    same = np.sign(start) * np.sign(end) >= 0
    total = np.abs(start) + np.abs(end)
    area = np.where(
        same,
        total / 2,
        np.divide(start**2 + end**2, 2 * total, out=np.zeros_like(total), where=total > 0),
    )
    distance = float(np.sum(area * width))
    spread = r.std
    if spread > 0:
        return distance / spread
    return 0.0 if distance == 0 else float("inf")


def shares(
    ref: Counts, cur: Counts, edges: np.ndarray | None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Category labels and the reference's and current shares over them.

    Categorical columns: every category of either side. Numeric columns with at most
    ``FEW_DISTINCT`` distinct reference values (tested as categories): those values, plus
    ``(other)`` for current values the reference never had. Other numeric columns: 30
    equal-width bins.
    """
    if isinstance(ref, CategoricalCounts) and isinstance(cur, CategoricalCounts):
        keys = sorted(set(ref.counts) | set(cur.counts))
        r = np.array([ref.counts.get(k, 0) for k in keys], dtype=float)
        c = np.array([cur.counts.get(k, 0) for k in keys], dtype=float)
        return keys, r / max(r.sum(), 1.0), c / max(c.sum(), 1.0)
    r_num, c_num = _numeric_pair(ref, cur)
    assert edges is not None
    at_r = r_num.at_or_below - r_num.below
    if len(edges) <= FEW_DISTINCT and at_r.sum() == r_num.present:  # a few values: categories
        at_c = c_num.at_or_below - c_num.below
        other = c_num.present - at_c.sum()
        keys = [_label(v) for v in edges] + (["(other)"] if other else [])
        r = np.append(at_r, [0] * bool(other)).astype(float)
        c = np.append(at_c, [other] * bool(other)).astype(float)
        return keys, r / max(r.sum(), 1.0), c / max(c.sum(), 1.0)
    low, high = min(r_num.low, c_num.low), max(r_num.high, c_num.high)
    bounds = np.linspace(low, high if high > low else low + 1.0, _BINS + 1)
    r_cdf = _cdf(r_num, edges, bounds)[1]
    c_cdf = _cdf(c_num, edges, bounds)[1]
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
    """Evidently's default choice: by reference size, column kind and distinct values."""
    if reference_rows <= 1000:
        if numeric:
            return "ks"
        return "z" if distinct <= 2 else "chisquare"
    return "wasserstein" if numeric else "jensenshannon"
