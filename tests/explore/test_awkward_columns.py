"""The profile on awkward columns, against exact arithmetic, pandas and SciPy: integers
beyond 2**53, ±inf, dates after 2262, labels that are not text, calendar steps, mixed
types, text dtypes, Spearman with missing values; and the same profile from Dask."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer

from workbench import DataError
from workbench.explore import Profile, profile

BIG = 2**62


def _as_json(result: Profile) -> list[Any]:
    """The columns as JSON (NaN statistics are equal there)."""
    return json.loads(json.dumps(result.to_dict()["columns"]))  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- integers
def test_integers_beyond_2_53_stay_exact_and_distinct_ones_are_an_identifier() -> None:
    ids = BIG + np.arange(1000)
    col = profile(pd.DataFrame({"id": ids}), progress=False).column("id")
    assert (col.kind, col.count, col.distinct) == ("identifier", 1000, 1000)
    assert col.min == BIG and col.max == BIG + 999 and type(col.min) is int
    # exact arithmetic on the offsets: float64 cannot hold 2**62 + 1
    assert col.std == pytest.approx(np.arange(1000).std(ddof=1), rel=1e-12)
    assert col.skew == pytest.approx(0.0, abs=1e-12)
    assert col.mean == float(BIG) + 499.5
    assert col.quantiles["50%"] == float(BIG) + 499.5
    assert col.histogram[1] == tuple(np.histogram(np.arange(1000), bins=30)[0].tolist())


def test_big_integer_measures_keep_exact_moments_histogram_and_correlations() -> None:
    rng = np.random.default_rng(3)
    steps = rng.integers(0, 40, 3000)
    frame = pd.DataFrame(
        {
            "big": BIG + steps,  # repeats: a measure, not an identifier
            "huge": np.uint64(2**63) + steps.astype(np.uint64) * np.uint64(7),
            "nullable": pd.array(BIG + steps, dtype="Int64"),
            "noise": steps + rng.normal(0, 5, 3000),
        }
    )
    frame.loc[::10, "nullable"] = pd.NA
    result = profile(frame, progress=False)
    for name, offsets in (
        ("big", steps),
        ("huge", steps * 7),
        ("nullable", steps[np.arange(3000) % 10 != 0]),
    ):
        col = result.column(name)
        assert col.kind == "numeric" and col.distinct == len(np.unique(offsets)), name
        assert col.std == pytest.approx(offsets.std(ddof=1), rel=1e-12), name
        assert col.skew == pytest.approx(pd.Series(offsets).skew(), rel=1e-9), name
        span = offsets.max() - offsets.min()
        expected = np.histogram(offsets - offsets.min(), bins=np.linspace(0, span, 31))[0]
        assert col.histogram[1] == tuple(expected.tolist()), name
    assert result.column("huge").min == 2**63 and result.column("nullable").missing == 300
    # correlation does not change under a shift: compare with the offsets
    shifted = pd.DataFrame({"big": steps, "noise": frame["noise"]})
    for method in ("pearson", "spearman"):
        assert result.correlations[method].get("big", "noise") == pytest.approx(
            shifted.corr(method).loc["big", "noise"], rel=1e-9
        )


# ---------------------------------------------------------------------- ±inf
def test_infinite_values_are_counted_and_left_out_of_every_statistic() -> None:
    rng = np.random.default_rng(4)
    n = 1000
    frame = pd.DataFrame({"x": rng.normal(10, 2, n), "y": rng.normal(0, 1, n)})
    frame["y"] += frame["x"] / 4
    frame.loc[::50, "x"] = np.inf
    frame.loc[7::97, "x"] = -np.inf
    frame.loc[3::31, "x"] = np.nan
    frame.loc[5::45, "y"] = np.inf
    result = profile(frame, progress=False)
    col, s = result.column("x"), frame["x"]
    finite = s[np.isfinite(s)]
    infinite = int(np.isinf(s).sum())
    assert (col.count, col.missing, col.infinite) == (s.count(), s.isna().sum(), infinite)
    assert col.distinct == s.nunique() and dict(col.top)[np.inf] == int((s == np.inf).sum())
    assert any("infinite" in w for w in col.warnings)
    assert (col.min, col.max) == (finite.min(), finite.max())
    assert col.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert col.std == pytest.approx(finite.std(), rel=1e-9)
    assert col.skew == pytest.approx(finite.skew(), rel=1e-9)
    expected_q = finite.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
    assert list(col.quantiles.values()) == pytest.approx(expected_q, rel=1e-12)
    edges, counts = col.histogram
    assert np.isfinite(edges).all() and sum(counts) == len(finite)
    assert list(counts) == np.histogram(finite, bins=np.array(edges))[0].tolist()
    q1, q3 = finite.quantile([0.25, 0.75])
    iqr = q3 - q1
    assert col.outliers == int(((finite < q1 - 1.5 * iqr) | (finite > q3 + 1.5 * iqr)).sum())
    # a non-finite cell is missing in a correlation, as pandas' DataFrame.corr has it
    both = frame[np.isfinite(frame["x"]) & np.isfinite(frame["y"])]
    for method, reference in (
        ("pearson", stats.pearsonr(both["x"], both["y"]).statistic),
        ("spearman", stats.spearmanr(both["x"], both["y"]).statistic),
    ):
        ours = result.correlations[method].get("x", "y")
        assert ours == pytest.approx(frame.corr(method).loc["x", "y"], rel=1e-9), method
        assert ours == pytest.approx(reference, rel=1e-9), method
    assert Profile.from_dict(json.loads(json.dumps(result.to_dict()))).column("x") == col


# ---------------------------------------------------------------------- datetimes, labels
def test_datetimes_after_2262_keep_their_unit() -> None:
    text = ["2300-01-01", "2024-06-01", None, "2500-12-31T12:00"]
    stamps = pd.to_datetime(text, format="ISO8601")
    assert str(stamps.dtype) != "datetime64[ns]"  # pandas 3 parses beyond ns on its own
    zoned = pd.Series(stamps.tz_localize("Europe/Rome"))
    result = profile(pd.DataFrame({"t": stamps, "z": zoned}), progress=False)
    t, z = result.column("t"), result.column("z")
    assert (t.count, t.missing, t.distinct) == (3, 1, 3)
    assert (t.min, t.max) == ("2024-06-01T00:00:00", "2500-12-31T12:00:00")
    assert z.max == zoned.max().isoformat() and z.min == zoned.min().isoformat()


def test_column_labels_need_not_be_text() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({0: rng.normal(size=200), 1: rng.choice(["a", "b"], 200)})
    frame[("pair", 2)] = frame[0] * 2 + rng.normal(size=200)
    result = profile(frame, target="0", progress=False)
    assert result.names == ["0", "1", "('pair', 2)"]
    assert result.column("0").mean == pytest.approx(frame[0].mean(), rel=1e-12)
    assert result.correlations["pearson"].get("0", "('pair', 2)") == pytest.approx(
        frame[0].corr(frame[("pair", 2)]), rel=1e-9
    )
    assert result.associations["1"][0] == "correlation_ratio"
    lazy = profile(dd.from_pandas(frame[[0, 1]], npartitions=3), target="0", progress=False)
    assert _as_json(lazy) == _as_json(profile(frame[[0, 1]], target="0", progress=False))


def test_column_labels_that_read_alike_are_refused() -> None:
    with pytest.raises(DataError, match=r"Columns 0 and '0' \(position 1\) both have the name"):
        profile(pd.DataFrame([[1, 2]], columns=[0, "0"]), progress=False)
    with pytest.raises(DataError, match="both have the name 'a'"):
        profile(pd.DataFrame([[1, 2]], columns=["a", "a"]), progress=False)


# ---------------------------------------------------------------------- calendar steps
@pytest.mark.parametrize(
    ("stamps", "frequency"),
    [
        (pd.date_range("1990-01-01", periods=40, freq="YS"), "1 year"),
        (pd.date_range("1990-12-31", periods=40, freq="YE"), "1 year"),
        (pd.date_range("2019-01-01", periods=30, freq="MS"), "1 month"),
        (pd.date_range("2019-01-31", periods=30, freq="ME"), "1 month"),
        (pd.date_range("2019-01-01", periods=12, freq="QS"), "3 months"),
        (pd.date_range("2024-01-01", periods=400, freq="D", tz="Europe/Rome"), "1 days 00:00:00"),
        (pd.date_range("2024-01-01", periods=300, freq="B"), "1 business day"),
        (pd.date_range("2024-03-30", periods=100, freq="h", tz="Europe/Rome"), "0 days 01:00:00"),
    ],
)
def test_calendar_steps_show_no_false_gaps(stamps: pd.DatetimeIndex, frequency: str) -> None:
    # leap years, 28- to 31-day months, 23- and 25-hour days, weekends: none is a gap
    col = profile(pd.DataFrame({"t": stamps}), progress=False).column("t")
    assert (col.frequency, col.coverage, col.gaps) == (frequency, 1.0, ())


def test_a_missing_year_and_a_missing_week_are_gaps() -> None:
    years = pd.date_range("1990-01-01", periods=40, freq="YS").delete([10, 11])
    col = profile(pd.DataFrame({"t": years}), progress=False).column("t")
    assert col.gaps == (("1999-01-01T00:00:00", "2002-01-01T00:00:00", 2),)
    assert col.coverage == pytest.approx(38 / 40)
    days = pd.date_range("2024-01-01", periods=300, freq="B")
    col = profile(pd.DataFrame({"t": days.delete(range(20, 25))}), progress=False).column("t")
    assert col.gaps == ((days[19].isoformat(), days[25].isoformat(), 5),)


# ---------------------------------------------------------------------- types
def test_mixed_types_are_told_apart_whatever_their_order() -> None:
    values = [1, "1", True, 1.0, 2, "x", None, 1, "1", False]
    frame = pd.DataFrame({"m": pd.Series(values * 30, dtype=object)})
    forward = profile(frame, progress=False).column("m")
    backward = profile(frame.iloc[::-1].reset_index(drop=True), progress=False).column("m")
    assert forward == backward
    expected = Counter((type(v).__name__, v) for v in values * 30 if v is not None)
    assert forward.distinct == len(expected) == 7
    assert sorted((type(v).__name__, v, n) for v, n in forward.top) == sorted(
        (kind, v, n) for (kind, v), n in expected.items()
    )
    assert "mixed types (bool, float, int, str)" in forward.warnings


def test_text_is_str_and_booleans_are_booleans_in_pandas_and_dask() -> None:
    frame = pd.DataFrame({"s": ["a", "b", None, "a"], "b": [True, False, True, True]})
    eager = profile(frame, progress=False)
    lazy = profile(dd.from_pandas(frame, npartitions=2), progress=False)
    assert eager.column("s").dtype == lazy.column("s").dtype == "str"
    assert eager.column("b").top == lazy.column("b").top == ((True, 3), (False, 1))


# ---------------------------------------------------------------------- Spearman
def test_spearman_with_missing_values_matches_pandas_and_scipy_on_real_data() -> None:
    """Breast-cancer measurements (569 rows, 30 columns, sklearn's bundled copy) with
    values removed three ways: at random, above a detection limit, and in most rows."""
    frame = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    rng = np.random.default_rng(6)
    for column in frame.columns[:10]:
        frame.loc[rng.random(len(frame)) < 0.15, column] = np.nan
    frame.loc[frame["mean area"] > frame["mean area"].quantile(0.8), "worst area"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.7, "worst symmetry"] = np.nan
    result = profile(frame, progress=False)
    ours = result.correlations["spearman"].frame()
    expected = frame[list(ours.columns)].corr("spearman")
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-12)
    for x, y in (("mean radius", "worst area"), ("worst symmetry", "mean texture")):
        rho = stats.spearmanr(frame[x], frame[y], nan_policy="omit").statistic
        assert ours.loc[x, y] == pytest.approx(rho, rel=1e-9)
    lazy = profile(dd.from_pandas(frame, npartitions=4), progress=False)
    np.testing.assert_allclose(
        lazy.correlations["spearman"].frame().to_numpy(), ours.to_numpy(), rtol=1e-9, atol=1e-12
    )


# ---------------------------------------------------------------------- pandas = Dask
def test_pandas_and_dask_profiles_are_equal_on_awkward_columns() -> None:
    rng = np.random.default_rng(7)
    n = 600
    frame = pd.DataFrame(
        {
            "id": BIG + rng.permutation(n),
            "big": BIG + rng.integers(0, 30, n),
            "inf": np.where(rng.random(n) < 0.05, np.inf, rng.normal(size=n)),
            "sparse": np.where(rng.random(n) < 0.7, np.nan, rng.normal(size=n)),
            "when": pd.to_datetime("2300-01-01") + pd.to_timedelta(rng.integers(0, 50, n), "D"),
            "year": pd.Series(pd.date_range("1800-01-01", periods=n, freq="YS")),
            "mixed": pd.Series(rng.choice(np.array([1, "1", True, 2.5, "x"], dtype=object), n)),
            "flag": rng.random(n) < 0.3,
            "text": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
        }
    )
    frame[0] = frame["inf"].where(rng.random(n) < 0.9) * 2 + rng.normal(size=n)
    frame.loc[rng.random(n) < 0.1, "text"] = None
    eager = profile(frame, target="0", progress=False)
    with dask.config.set({"dataframe.convert-string": False}):  # keep the mixed column mixed
        lazy = profile(dd.from_pandas(frame, npartitions=4), target="0", progress=False)
    assert _as_json(lazy) == _as_json(eager)
    assert lazy.associations.keys() == eager.associations.keys()
    for name, (method, value) in eager.associations.items():
        assert lazy.associations[name] == (method, pytest.approx(value, rel=1e-9)), name
    assert any("mixed types" in w for w in lazy.column("mixed").warnings)
    for method, matrix in eager.correlations.items():
        assert lazy.correlations[method].columns == matrix.columns, method
        np.testing.assert_allclose(
            lazy.correlations[method].frame().to_numpy(),
            matrix.frame().to_numpy(),
            rtol=1e-9,
            atol=1e-12,
        )
