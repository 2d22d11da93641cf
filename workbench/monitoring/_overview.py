"""What the dashboard keeps of an inference log, and what it computes from it: the
counts of each period (:class:`PeriodStats`, with each model version's rows apart,
:class:`VersionPart`) and :class:`LogOverview`, which adds periods up for a date range
and compares them with a reference profile (each version's rows with its own) without
reading the log again. :func:`~workbench.monitoring._collect.collect` fills them in one
pass over the log.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._summaries import Summary
from workbench.monitoring._drift import DriftSnapshot, drift_of_period, seasonal_reference
from workbench.monitoring._periods import ARRIVAL_BASIS, TimeBasis
from workbench.monitoring._profile import ReferenceProfile

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LATENCY_EDGES", "LogOverview", "PeriodStats", "VersionPart"]

#: Latency histogram bin edges (ms), log-spaced from 0.1 ms to 100 s.
LATENCY_EDGES = np.concatenate([[0.0], np.logspace(-1, 5, 121)])


@dataclasses.dataclass
class VersionPart:
    """The rows of one period that one model version answered: their drift counts
    against that version's own reference profile, how many, first and last time."""

    summary: Summary
    rows: int
    first: Any = None
    last: Any = None

    def __add__(self, other: VersionPart) -> VersionPart:
        return VersionPart(
            self.summary + other.summary,
            self.rows + other.rows,
            _pick(min, self.first, other.first),
            _pick(max, self.last, other.last),
        )


@dataclasses.dataclass
class PeriodStats:
    """One period of the log: drift counts, rows, requests, latency histogram, the
    rows breaking each rule of the data contract (``(column, problem) → rows``), and
    the first and last time seen in it; with ``versions``, the same period's rows of
    each model version that answered them (:class:`VersionPart`, by version)."""

    summary: Summary
    rows: int
    requests: int
    latency: np.ndarray
    integrity: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    first: Any = None
    last: Any = None
    versions: dict[str, VersionPart] = dataclasses.field(default_factory=dict)

    def __add__(self, other: PeriodStats) -> PeriodStats:
        integrity = dict(self.integrity)
        for key, count in other.integrity.items():
            integrity[key] = integrity.get(key, 0) + count
        versions = dict(self.versions)
        for version, part in other.versions.items():
            versions[version] = versions[version] + part if version in versions else part
        return PeriodStats(
            self.summary + other.summary,
            self.rows + other.rows,
            self.requests + other.requests,
            self.latency + other.latency,
            integrity,
            _pick(min, self.first, other.first),
            _pick(max, self.last, other.last),
            versions,
        )


def _pick(choose: Any, a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else choose(a, b)


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
    the reference where it allows, see :func:`~workbench.monitoring._drift.drift_of_period`).

    ``profiles`` holds the reference profile of each model version that answered rows of
    the log (``None`` for a version with none stored: its rows are compared with
    ``profile``, the current champion's); where the periods keep each version's rows
    (``collect(profile_of=...)``), a period or range is compared with the reference of
    the version that answered most of its rows, its rows only, and its snapshot says so
    (``metadata["compared_with"]``, ``metadata["answered"]``). ``by_version=False``
    compares every row with ``profile`` instead."""

    profile: ReferenceProfile
    periods: dict[Any, PeriodStats]
    model_name: str
    model_version: str
    basis: TimeBasis = ARRIVAL_BASIS
    period: str = "1D"
    compare_with: str = "auto"
    profiles: dict[str, ReferenceProfile | None] = dataclasses.field(default_factory=dict)
    by_version: bool = True

    @property
    def per_version(self) -> bool:
        """Whether each period is compared with its own version's reference."""
        return self.by_version and bool(self.profiles)

    @property
    def references(self) -> list[ReferenceProfile]:
        """The reference profiles periods may be compared with (the champion's first)."""
        found = [self.profile] + [p for p in self.profiles.values() if p is not None]
        return list({id(p): p for p in found}.values()) if self.per_version else found[:1]

    @property
    def seasonal(self) -> bool:
        """Whether drift compares with the same calendar days of the reference (of the
        version that answered most rows, where each is compared with its own)."""
        profile = self.profile
        if self.per_version:
            if "_most" not in self.__dict__:  # the periods do not change: counted once
                counts: dict[str, int] = {}
                for stats in self.periods.values():
                    for version, part in stats.versions.items():
                        counts[version] = counts.get(version, 0) + part.rows
                self.__dict__["_most"] = self._most_rows(counts)
            profile = self._reference_of(self.__dict__["_most"])[0]
        return seasonal_reference(profile, self.compare_with, self.basis.column)

    def answered_by(self, stats: PeriodStats) -> str | None:
        """The version that answered most rows of ``stats`` (of two as many, the later);
        ``None`` where rows are not kept per version."""
        if not self.per_version or not stats.versions:
            return None
        return self._most_rows({v: part.rows for v, part in stats.versions.items()})

    def _most_rows(self, rows: dict[str, int]) -> str:
        """The version with the most ``rows`` (of two as many, the later)."""
        order = list(self.profiles)
        return max(rows, key=lambda v: (rows[v], order.index(v) if v in order else -1))

    def _reference_of(self, version: str | None) -> tuple[ReferenceProfile, str]:
        """The profile ``version``'s rows are compared with, and how a page says it."""
        own = self.profiles.get(version) if version is not None else None
        if version is None:
            return self.profile, ""
        if own is not None:
            return own, f"version {version}'s reference"
        return self.profile, (
            f"the champion's reference (version {self.model_version}): version {version} "
            f"has no stored profile"
        )

    def _drift_of(self, stats: PeriodStats, metadata: dict[str, Any]) -> DriftSnapshot:
        """Drift of ``stats`` (one period or a range of them, from its first to its last
        time seen) against the reference this overview compares with: where rows are kept
        per version, the rows of the version that answered most against its own."""
        version = self.answered_by(stats)
        if version is None:
            return drift_of_period(
                self.profile,
                stats.summary,
                stats.first,
                stats.last,
                seasonal=self.seasonal,
                metadata=metadata,
            )
        part = stats.versions[version]
        profile, said = self._reference_of(version)
        calendar = profile.calendar
        seasonal = (  # a version's profile without a calendar of these dates: all of it
            seasonal_reference(profile, self.compare_with, self.basis.column)
            and calendar is not None
            and calendar.column == self.basis.column
        )
        answered = {v: p.rows for v, p in sorted(stats.versions.items())}
        return drift_of_period(
            profile,
            part.summary,
            part.first,
            part.last,
            seasonal=seasonal,
            metadata={
                **metadata,
                "model_version": version,
                "compared_with": said,
                "answered": answered,
            },
        )

    def versions_between(self, first: Any = None, last: Any = None) -> list[str]:
        """The versions that answered rows from ``first`` to ``last``, in version order."""
        found = self.between(first, last).versions
        return [v for v in self.profiles if v in found] + [
            v for v in found if v not in self.profiles
        ]

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
            key = (run[0], run[-1], self.compare_with, self.per_version)
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
