"""``profile``: a fast, exact profile of a pandas or Dask DataFrame, as a saveable record.

The passes over the partitions (:mod:`workbench.explore._stats`) are planned and merged
here; each column's statistics come from :mod:`workbench.explore._columns`, the records
from :mod:`workbench.explore._records`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from workbench._exceptions import DataError
from workbench.explore._columns import column_profile, dtype_label
from workbench.explore._records import ColumnProfile, Correlations, Profile
from workbench.explore._stats import (
    Counts,
    PairSums,
    Plan,
    RerankPlan,
    Spec,
    _workers,
    column_family,
    correlation_ratio,
    cramers_v,
    merge_counts,
    number_summary,
    pass_one,
    pass_three,
    pass_two,
    pearson,
    pearson_of,
    rerank_plan,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnProfile", "Correlations", "Profile", "profile"]


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
        dtype = dtype_label(meta[spec.label].dtype)
        return column_profile(
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
