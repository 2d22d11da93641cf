"""The profile's records: what :func:`~workbench.explore.profile` returns, saveable as JSON.

:class:`Profile` holds one :class:`ColumnProfile` per column and the association matrices
(:class:`Correlations`); it round-trips through JSON (:meth:`Profile.save`,
:meth:`Profile.load`) so a dashboard can show a stored profile instead of recomputing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import DataError, WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KINDS", "ColumnProfile", "Correlations", "Profile", "set_html_renderer"]

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
        """A self-contained HTML report (plotly inlined): share it without a kernel.

        The page :func:`workbench.explore.profile_html` draws. This record imports no
        figures: the figures module hands its renderer over (:func:`set_html_renderer`)
        when it is imported, as importing :mod:`workbench.explore` always does.
        """
        if _html_renderer is None:
            raise WorkbenchError(
                "No renderer draws profiles as HTML: import workbench.explore (its figures "
                "module registers one), or call workbench.explore.profile_html(profile)."
            )
        text = _html_renderer(self)
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


#: Draws a profile as a static HTML page, for :meth:`Profile.to_html`. The presentation
#: floor fills it (``workbench.explore._figures`` registers ``profile_html`` when it is
#: imported): the record points up to no figures module, the figures module down to it.
_html_renderer: Callable[[Profile], str] | None = None


def set_html_renderer(render: Callable[[Profile], str]) -> None:
    """Make ``render`` the function :meth:`Profile.to_html` draws a profile with."""
    global _html_renderer
    _html_renderer = render
