"""The drift test registry on summaries, against SciPy on the raw values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from workbench import MonitoringError
from workbench.monitoring import DriftSnapshot, ReferenceProfile, compute_drift, summarize
from workbench.monitoring._stats import TESTS


def _pair(n_ref: int, n_cur: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            "x": rng.normal(0, 1, n_ref).round(3),
            "color": rng.choice(["red", "green", "blue"], n_ref, p=[0.5, 0.3, 0.2]),
            "yes": rng.choice(["no", "yes"], n_ref, p=[0.7, 0.3]),
        }
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(0.3, 1.2, n_cur).round(3),
            "color": rng.choice(["red", "green", "blue", "black"], n_cur, p=[0.4, 0.3, 0.2, 0.1]),
            "yes": rng.choice(["no", "yes"], n_cur, p=[0.6, 0.4]),
        }
    )
    return ref, cur


def _statistic(ref: pd.DataFrame, cur: pd.DataFrame, column: str, test: str) -> float:
    return compute_drift(ref, cur, [column], tests={column: test}).column(column).statistic


def _shares(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(ref) | set(cur))
    p = ref.value_counts(normalize=True).reindex(keys, fill_value=0).to_numpy()
    q = cur.value_counts(normalize=True).reindex(keys, fill_value=0).to_numpy()
    return p, q


def test_ks_is_scipys_exact_and_asymptotic_p_value() -> None:
    ref, cur = _pair(800, 600)  # ≤ 1000 distinct reference values: exact cut points
    assert _statistic(ref, cur, "x", "ks") == pytest.approx(
        stats.ks_2samp(ref["x"], cur["x"]).pvalue, rel=1e-9
    )
    _, big = _pair(800, 30_000, seed=1)  # over 10,000 rows: SciPy's asymptotic branch
    assert _statistic(ref, big, "x", "ks") == pytest.approx(
        stats.ks_2samp(ref["x"], big["x"]).pvalue, rel=1e-9
    )


def test_chisquare_z_and_the_share_distances_are_scipys() -> None:
    ref, cur = _pair(3000, 2000)
    p, q = _shares(ref["color"], cur["color"])
    counts = cur["color"].value_counts().reindex(sorted(set(ref["color"]) | set(cur["color"])))
    expected = np.maximum(p, 1e-6)
    expected = expected / expected.sum() * counts.sum()
    assert _statistic(ref, cur, "color", "chisquare") == pytest.approx(
        stats.chisquare(counts.to_numpy(), expected).pvalue
    )
    assert _statistic(ref, cur, "color", "jensenshannon") == pytest.approx(
        distance.jensenshannon(p, q)
    )
    pf, qf = np.where(p == 0, 0.0001, p), np.where(q == 0, 0.0001, q)
    assert _statistic(ref, cur, "color", "kl") == pytest.approx(stats.entropy(pf, qf))
    assert _statistic(ref, cur, "color", "psi") == pytest.approx(
        np.sum((qf - pf) * np.log(qf / pf))  # no SciPy function: Evidently's formula
    )
    assert _statistic(ref, cur, "color", "hellinger") == pytest.approx(
        distance.euclidean(np.sqrt(p), np.sqrt(q)) / np.sqrt(2)
    )
    # the two-proportion z-test is the 2×2 chi-square without continuity correction
    table = pd.crosstab(np.r_[np.zeros(len(ref)), np.ones(len(cur))], np.r_[ref["yes"], cur["yes"]])
    assert _statistic(ref, cur, "yes", "z") == pytest.approx(
        stats.chi2_contingency(table, correction=False).pvalue
    )


def test_wasserstein_from_cut_points_is_close_to_scipys_on_raw_values() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.gamma(2.0, 2.0, 200_000)})
    cur = pd.DataFrame({"x": rng.gamma(2.4, 2.0, 150_000)})
    exact = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert _statistic(ref, cur, "x", "wasserstein") == pytest.approx(exact, rel=0.01)
    small_ref = ref.head(700).round(2)  # every distinct reference value is a cut point
    exact = stats.wasserstein_distance(small_ref["x"], cur["x"]) / np.std(small_ref["x"])
    assert _statistic(small_ref, cur, "x", "wasserstein") == pytest.approx(exact, rel=0.01)


@pytest.mark.parametrize(
    ("n_ref", "column", "expected"),
    [
        (800, "x", "ks"),
        (800, "color", "chisquare"),
        (800, "yes", "z"),
        (800, "level", "chisquare"),  # numeric, but 3 distinct values: a category
        (800, "bit", "z"),
        (5000, "x", "wasserstein"),
        (5000, "color", "jensenshannon"),
        (5000, "level", "jensenshannon"),
    ],
)
def test_the_default_test_follows_evidentlys_rules(n_ref: int, column: str, expected: str) -> None:
    ref, cur = _pair(n_ref, 500)
    for frame in (ref, cur):
        frame["level"] = np.arange(len(frame)) % 3
        frame["bit"] = np.arange(len(frame)) % 2
    snap = compute_drift(ref, cur)
    result = snap.column(column)
    assert result.test == expected
    assert result.threshold == TESTS[expected].threshold


def test_tests_and_thresholds_are_chosen_per_column() -> None:
    ref, cur = _pair(5000, 3000)
    snap = compute_drift(
        ref, cur, tests={"x": "psi", "color": "hellinger"}, thresholds={"x": 10.0, "yes": 0.0}
    )
    assert (snap.column("x").test, snap.column("x").threshold) == ("psi", 10.0)
    assert not snap.column("x").drifted  # the bound was raised
    assert snap.column("yes").drifted  # a distance ≥ 0 always drifts
    with pytest.raises(MonitoringError, match=r"No drift test 'bogus'.*column 'x'"):
        compute_drift(ref, cur, tests={"x": "bogus"})
    with pytest.raises(MonitoringError, match="'color' is tested as categorical"):
        compute_drift(ref, cur, tests={"color": "ks"})
    with pytest.raises(MonitoringError, match=r"not tested: \['nope'\]"):
        compute_drift(ref, cur, thresholds={"nope": 0.1})


def test_known_drift_is_found_and_equal_samples_pass() -> None:
    rng = np.random.default_rng(11)
    n = 100_000

    def frame(shift: float) -> pd.DataFrame:
        data = {f"n{i}": rng.normal(0, 1, n) for i in range(6)}
        data["n0"] = rng.normal(shift, 1, n)  # mean shift
        data["n1"] = rng.normal(0, 1 + shift, n)  # spread
        data["c0"] = rng.choice(["a", "b", "c"], n, p=[0.6 - shift / 5, 0.3, 0.1 + shift / 5])
        data["c1"] = rng.choice(["a", "b"], n)
        return pd.DataFrame(data)

    ref = frame(0.0)
    assert compute_drift(ref, frame(0.0)).drifted_columns == []
    assert compute_drift(ref, frame(1.0)).drifted_columns == ["n0", "n1", "c0"]


def test_a_dask_run_equals_the_pandas_run_and_profiles_round_trip(tmp_path: Path) -> None:
    import dask.dataframe as dd

    ref, cur = _pair(5000, 20_000)
    pandas_run = compute_drift(ref, cur)
    profile = ReferenceProfile.from_frame(ref)
    stored = ReferenceProfile.load(profile.save(tmp_path / "reference_profile.json"))
    dask_run = compute_drift(stored, dd.from_pandas(cur, npartitions=7), progress=False)
    for ours, theirs in zip(pandas_run.columns, dask_run.columns, strict=True):
        assert ours.test == theirs.test and ours.drifted == theirs.drifted
        assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
        assert ours.current == pytest.approx(theirs.current, rel=1e-12)
    assert (
        summarize(cur, profile).to_dict()
        == summarize(dd.from_pandas(cur, npartitions=3), profile, progress=False).to_dict()
    )


def test_a_snapshot_round_trips_exactly(tmp_path: Path) -> None:
    ref, cur = _pair(800, 600)
    snap = compute_drift(ref, cur, metadata={"model": "m", "version": "3"})
    again = DriftSnapshot.load(snap.save(tmp_path / "drift.json"))
    assert again == snap and again.to_dict() == snap.to_dict()
