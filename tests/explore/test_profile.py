"""Every statistic of the profile against pandas and scipy, on awkward data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats.contingency import association

from workbench import DataError
from workbench.data import ColumnContract, Contract
from workbench.explore import Profile, profile


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2_000
    f = pd.DataFrame(
        {
            "x": rng.normal(5, 2, n),
            "y": rng.exponential(1, n) + 1e6,  # large mean, small spread
            "k": rng.integers(-3, 4, n).astype("int64"),
            "g": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "h": rng.choice(["u", "v"], n),
            "flag": rng.random(n) < 0.2,
            "t": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Rome"),
            "const": 7.0,
            "empty": np.nan,
            "mixed": [1 if i % 3 else "one" for i in range(n)],
            "id": [f"row-{i}" for i in range(n)],
        }
    )
    f.loc[f.index % 7 == 0, "x"] = np.nan
    f.loc[f.index % 11 == 0, "g"] = None
    f["z"] = f["x"] * 2 + rng.normal(0, 1, n)
    return f


@pytest.fixture(scope="module")
def result(frame: pd.DataFrame) -> Profile:
    return profile(frame, target="z", progress=False)


@pytest.mark.parametrize("name", ["x", "y", "k", "z"])
def test_numeric_statistics_equal_pandas(frame: pd.DataFrame, result: Profile, name: str) -> None:
    col, s = result.column(name), frame[name]
    assert col.kind == "numeric"
    assert (col.count, col.missing, col.distinct) == (s.count(), s.isna().sum(), s.nunique())
    assert col.min == s.min() and col.max == s.max()
    assert col.mean == pytest.approx(s.mean(), rel=1e-12)
    assert col.std == pytest.approx(s.std(), rel=1e-9)
    assert col.skew == pytest.approx(s.skew(), rel=1e-6, abs=1e-9)
    expected = s.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
    assert list(col.quantiles.values()) == pytest.approx(expected, rel=1e-12)
    edges, counts = col.histogram
    assert list(counts) == np.histogram(s.dropna(), bins=np.array(edges))[0].tolist()
    assert col.zeros == int((s == 0).sum())
    q1, q3 = s.quantile([0.25, 0.75])
    iqr = q3 - q1
    assert col.outliers == int(((s < q1 - 1.5 * iqr) | (s > q3 + 1.5 * iqr)).sum())


def test_categorical_boolean_text_and_identifier_columns(
    frame: pd.DataFrame, result: Profile
) -> None:
    g = result.column("g")
    assert (g.kind, g.missing, g.distinct) == ("categorical", frame["g"].isna().sum(), 3)
    assert g.top == tuple(frame["g"].value_counts().items())
    flag = result.column("flag")
    # booleans come back as booleans (not their text), as pandas counts them
    assert flag.kind == "boolean" and flag.top == tuple(frame["flag"].value_counts().items())
    assert all(type(value) is bool for value, _ in flag.top)
    assert result.column("id").kind == "identifier"
    assert any("mixed types" in w for w in result.column("mixed").warnings)


def test_warnings(result: Profile) -> None:
    assert "constant" in result.column("const").warnings
    assert "all values missing" in result.column("empty").warnings
    assert any(w.startswith("skewed") for w in result.column("y").warnings)
    assert result.column("empty").count == 0 and result.column("empty").mean is None


def test_datetime_with_time_zone_coverage_and_gaps(frame: pd.DataFrame) -> None:
    gappy = frame[["t"]].drop(index=range(100, 148))  # two days missing
    t = profile(gappy, progress=False).column("t")
    assert t.kind == "datetime" and t.frequency == "0 days 01:00:00"
    assert t.min == frame["t"].min().isoformat() and t.max == frame["t"].max().isoformat()
    assert t.coverage == pytest.approx(len(gappy) / len(frame))
    (start, end, missing), *_ = t.gaps
    assert missing == 48
    assert start == frame["t"].iloc[99].isoformat() and end == frame["t"].iloc[148].isoformat()


def test_pearson_equals_pandas_and_spearman_equals_scipy_without_missing(
    frame: pd.DataFrame, result: Profile
) -> None:
    pearson = result.correlations["pearson"].frame()
    expected = frame[list(pearson.columns)].corr()
    np.testing.assert_allclose(pearson.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-10)
    complete = frame[["y", "k"]]
    rho = stats.spearmanr(complete["y"], complete["k"]).statistic
    assert result.correlations["spearman"].get("y", "k") == pytest.approx(rho, rel=1e-9)


def test_spearman_with_missing_values_reranks_each_pair_as_pandas_and_scipy(
    frame: pd.DataFrame, result: Profile
) -> None:
    # x and z are missing on the same rows; y and k never: x × y re-ranks y over x's rows
    expected = frame[["x", "y", "z", "k"]].corr("spearman")
    ours = result.correlations["spearman"].frame().loc[expected.index, expected.columns]
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-12)
    both = frame[["x", "y"]].dropna()
    rho = stats.spearmanr(both["x"], both["y"]).statistic
    assert result.correlations["spearman"].get("x", "y") == pytest.approx(rho, rel=1e-9)


def test_cramers_v_and_correlation_ratio(frame: pd.DataFrame, result: Profile) -> None:
    table = pd.crosstab(frame["g"], frame["h"]).to_numpy()
    assert result.correlations["cramers_v"].get("g", "h") == pytest.approx(
        association(table, method="cramer"), rel=1e-9
    )
    both = frame[["g", "x"]].dropna()
    groups = [v.to_numpy() for _, v in both.groupby("g")["x"]]
    grand = both["x"].mean()
    between = sum(len(v) * (v.mean() - grand) ** 2 for v in groups)
    total = ((both["x"] - grand) ** 2).sum()
    assert result.correlations["correlation_ratio"].get("g", "x") == pytest.approx(
        np.sqrt(between / total), rel=1e-9
    )


def test_target_associations(result: Profile) -> None:
    assert result.associations["x"][0] == "pearson" and result.associations["x"][1] > 0.8
    assert result.associations["g"][0] == "correlation_ratio"
    assert "z" not in result.associations


def test_dask_partitions_give_the_same_profile(frame: pd.DataFrame, result: Profile) -> None:
    lazy = profile(dd.from_pandas(frame, npartitions=5), target="z", progress=False)
    for name in ("x", "y", "k", "g", "flag", "t", "const", "empty"):
        a, b = lazy.column(name), result.column(name)
        assert (a.count, a.missing, a.distinct, a.top, a.quantiles, a.histogram) == (
            b.count,
            b.missing,
            b.distinct,
            b.top,
            b.quantiles,
            b.histogram,
        ), name
        if b.mean is not None:
            assert a.mean == pytest.approx(b.mean, rel=1e-12)
    for method in ("pearson", "spearman", "cramers_v"):
        np.testing.assert_allclose(
            lazy.correlations[method].frame().to_numpy(),
            result.correlations[method].frame().to_numpy(),
            rtol=1e-9,
            atol=1e-12,
        )


def test_one_row_and_empty_frames() -> None:
    one = profile(pd.DataFrame({"x": [3.0], "g": ["a"]}), progress=False)
    assert one.rows == 1 and one.column("x").mean == 3.0 and np.isnan(one.column("x").std)
    assert "constant" in one.column("x").warnings
    empty = profile(pd.DataFrame({"x": pd.Series([], dtype=float)}), progress=False)
    assert empty.rows == 0 and empty.column("x").count == 0


def test_personal_columns_are_never_shown_raw() -> None:
    frame = pd.DataFrame({"name": ["Anna", "Bruno", "Anna"], "income": [10.0, 99.0, 10.0]})
    contract = Contract((ColumnContract("name", pii=True), ColumnContract("income", "float")))
    result = profile(frame, contract=contract, pii=["income"], progress=False)
    text = str(result.to_dict())
    assert "Anna" not in text and "Bruno" not in text and "99.0" not in text
    assert result.column("name").top[0][1] == 2  # counts are still there
    assert result.column("income").min is None


def test_json_round_trip_and_static_html(result: Profile, tmp_path: Path) -> None:
    path = result.save(tmp_path / "profile.json")
    again = Profile.load(path)
    assert again.column("x") == result.column("x") and again.column("t") == result.column("t")
    assert again.correlations["pearson"].columns == result.correlations["pearson"].columns
    page = result.to_html(tmp_path / "profile.html")
    assert page.startswith("<!doctype html>") and "plotly" in page
    # self-contained: plotly.js is inlined, no script or stylesheet is fetched when opened
    assert not re.search(r"<script[^>]*\ssrc=", page)
    assert not re.search(r"<link[^>]*href=[\"']https?://", page)
    assert (tmp_path / "profile.html").exists()


def test_bad_input() -> None:
    with pytest.raises(DataError, match="target 'nope' is not a column"):
        profile(pd.DataFrame({"x": [1]}), target="nope", progress=False)
    with pytest.raises(DataError, match="takes a pandas or Dask DataFrame"):
        profile([1, 2, 3], progress=False)


def test_row_blocks_and_threads_give_the_same_sums(
    frame: pd.DataFrame, result: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.explore import _stats

    monkeypatch.setattr(_stats, "_BLOCK", 300)  # several blocks, summed on threads
    monkeypatch.setattr(_stats, "_PARALLEL_ROWS", 10)
    blocked = profile(frame, target="z", progress=False)
    same = json.dumps(blocked.to_dict()["columns"]) == json.dumps(result.to_dict()["columns"])
    assert same  # (compared as JSON: NaN statistics are equal there)
    for method in ("pearson", "spearman", "cramers_v", "correlation_ratio"):
        np.testing.assert_allclose(
            blocked.correlations[method].frame().to_numpy(),
            result.correlations[method].frame().to_numpy(),
            rtol=1e-9,
            atol=1e-12,
        )
