"""The drift test registry on summaries, against SciPy on the raw values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from workbench import MonitoringError
from workbench._summaries import TAIL_BUCKETS
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
    whole = summarize(cur, profile).to_dict()
    parts = summarize(dd.from_pandas(cur, npartitions=3), profile, progress=False).to_dict()
    _same(whole, parts)  # counts equal, sums of floats up to their order


def _same(a: object, b: object) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-9)
    else:
        assert a == b


def test_a_snapshot_round_trips_exactly(tmp_path: Path) -> None:
    ref, cur = _pair(800, 600)
    snap = compute_drift(ref, cur, metadata={"model": "m", "version": "3"})
    again = DriftSnapshot.load(snap.save(tmp_path / "drift.json"))
    assert again == snap and again.to_dict() == snap.to_dict()


# -- the normed Wasserstein distance where the supports do not overlap --------------------


def _normed_wasserstein(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(SciPy's, ours) on the raw values, ours from a profile and a summary."""
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": ref}))
    summary = profile.summarize(pd.DataFrame({"x": cur}))
    ours = TESTS["wasserstein"].compute(
        profile.summary.columns["x"], summary.columns["x"], profile.edges["x"]
    )
    return stats.wasserstein_distance(ref, cur) / np.std(ref), ours


def _case(name: str, rng: np.random.Generator, n_ref: int = 2000) -> tuple[np.ndarray, ...]:
    ref = rng.normal(0, 1, n_ref)
    if name == "overlapping":
        return ref, rng.normal(0.4, 1.3, 20_000)
    if name == "partly disjoint":  # most of the current above the reference's maximum
        return ref, rng.normal(3.5, 1.0, 20_000)
    if name == "fully disjoint":
        return ref, rng.normal(12.0, 2.0, 20_000)
    # one far outlier (issue 20): 99,999 draws of the reference's distribution and 1000.0
    return ref, np.append(rng.normal(0, 1, 99_999), 1000.0)


@pytest.mark.parametrize(
    "name", ["overlapping", "partly disjoint", "fully disjoint", "one far outlier"]
)
def test_normed_wasserstein_is_scipys_also_beyond_the_reference_range(name: str) -> None:
    scipy_value, ours = _normed_wasserstein(*_case(name, np.random.default_rng(20)))
    assert ours == pytest.approx(scipy_value, rel=0.01)


def test_one_far_outlier_does_not_flip_the_verdict() -> None:
    ref, cur = _case("one far outlier", np.random.default_rng(0))
    x = compute_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).column("x")
    assert x.test == "wasserstein"
    assert x.statistic == pytest.approx(
        stats.wasserstein_distance(ref, cur) / np.std(ref), rel=0.01
    )
    assert not x.drifted  # SciPy: 0.04; spread evenly up to 1000 it was 0.60


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    family=st.sampled_from(["overlapping", "partly disjoint", "fully disjoint", "far outlier"]),
    shape=st.sampled_from(["normal", "gamma", "uniform"]),
    n_ref=st.integers(200, 5000),
    n_cur=st.integers(500, 30_000),
    shift=st.floats(0.0, 1.0),
    scale=st.floats(0.6, 1.6),
    sign=st.sampled_from([-1.0, 1.0]),
    rounded=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_normed_wasserstein_is_within_one_percent_of_scipy(
    family: str,
    shape: str,
    n_ref: int,
    n_cur: int,
    shift: float,
    scale: float,
    sign: float,
    rounded: bool,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)

    def draw(n: int, loc: float, spread: float) -> np.ndarray:
        if shape == "normal":
            return loc + spread * rng.normal(0, 1, n)
        if shape == "gamma":
            return loc + spread * rng.gamma(2.0, 1.0, n)
        return loc + spread * rng.uniform(-1.7, 1.7, n)

    ref = draw(n_ref, 0.0, 1.0)
    if family == "far outlier":  # as issue 20: the same distribution and one value far out
        cur = np.append(draw(99_999, 0.0, 1.0), sign * (1000 + 9000 * shift))
    else:
        offset = {"overlapping": 0.3 + 1.2 * shift, "partly disjoint": 2 + 2 * shift}
        loc = sign * offset.get(family, 10 + 90 * shift)
        cur = draw(n_cur, loc, scale)
    if rounded:  # ties, and few enough reference values to keep every one as a cut point
        ref, cur = ref.round(2), cur.round(2)
    scipy_value, ours = _normed_wasserstein(ref, cur)
    assert ours == pytest.approx(scipy_value, rel=0.01)


def test_tails_add_up_the_same_in_any_order_and_stay_small() -> None:
    rng = np.random.default_rng(4)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(0, 1, 3000)}))
    cur = pd.DataFrame({"x": rng.standard_cauchy(60_000)})  # tails reaching very far
    parts = [profile.summarize(cur.iloc[i : i + 10_000]) for i in range(0, 60_000, 10_000)]
    forward, backward = parts[0], parts[-1]
    for part in parts[1:]:
        forward = forward + part
    for part in parts[-2::-1]:
        backward = backward + part
    whole = profile.summarize(cur).columns["x"]
    for merged in (forward.columns["x"], backward.columns["x"]):
        for mine, theirs in (
            (merged.low_tail, whole.low_tail),
            (merged.high_tail, whole.high_tail),
        ):
            assert (mine.width, mine.buckets) == (theirs.width, theirs.buckets)
            assert mine.distance == pytest.approx(theirs.distance, rel=1e-12)
            assert 0 < len(mine.buckets) <= TAIL_BUCKETS
    values = cur["x"].to_numpy()
    edges = profile.edges["x"]
    assert whole.high_tail.count == (values > edges[-1]).sum()
    assert whole.high_tail.distance == pytest.approx(np.sum(values[values > edges[-1]] - edges[-1]))


# -- distinct values of reference and current together ----------------------------------


def test_a_value_the_binary_reference_never_had_is_chi_square_evidence() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"b": rng.integers(0, 2, 800)})
    cur = pd.DataFrame({"b": np.where(rng.random(800) < 0.1, 2, rng.integers(0, 2, 800))})
    b = compute_drift(ref, cur).column("b")
    # Evidently: 3 distinct values in both → chi-square; the new value has expected 0
    assert (b.test, b.bins, b.drifted) == ("chisquare", ("0", "1", "2"), True)
    assert b.current[2] == pytest.approx((cur["b"] == 2).mean())
    assert b.statistic < 1e-10


def test_a_sixth_value_in_the_current_makes_the_column_numeric() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"v": rng.integers(1, 6, 800).astype(float)})  # 1..5
    values = rng.integers(1, 6, 800).astype(float)
    values[:8] = 6.0  # 1 % of a value the reference never had
    cur = pd.DataFrame({"v": values})
    v = compute_drift(ref, cur).column("v")
    assert v.test == "ks" and v.kind == "numeric"  # Evidently: 6 distinct → KS
    assert v.statistic == pytest.approx(stats.ks_2samp(ref["v"], cur["v"]).pvalue, rel=1e-9)
    assert not v.drifted


def test_the_choice_is_made_from_a_stored_profile_and_dask_partitions(tmp_path: Path) -> None:
    import dask.dataframe as dd

    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"b": rng.integers(0, 2, 5000)})  # a large reference: JS
    cur = pd.DataFrame({"b": rng.integers(0, 2, 6000)})
    cur.loc[5500:, "b"] = 7  # only in the last partition
    stored = ReferenceProfile.load(ReferenceProfile.from_frame(ref).save(tmp_path / "p.json"))
    on_dask = compute_drift(stored, dd.from_pandas(cur, npartitions=4), progress=False)
    b = on_dask.column("b")
    assert (b.test, b.bins) == ("jensenshannon", ("0", "1", "7"))
    p, q = _shares(ref["b"], cur["b"])
    assert b.statistic == pytest.approx(distance.jensenshannon(p, q))
    assert compute_drift(ref, cur).to_dict()["columns"] == on_dask.to_dict()["columns"]


def test_profiles_stored_before_tails_were_kept_still_load_and_compare() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 3000), "b": rng.integers(0, 2, 3000)})
    data = ReferenceProfile.from_frame(ref).to_dict()
    del data["skipped"]
    for column in data["summary"].values():
        for key in ("inside", "low_tail", "high_tail", "unseen"):
            column.pop(key, None)
    old = ReferenceProfile.from_dict(data)
    cur = pd.DataFrame({"x": rng.normal(3.0, 1.0, 5000), "b": rng.integers(0, 3, 5000)})
    snap = compute_drift(old, cur)
    exact = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert snap.column("x").statistic == pytest.approx(exact, rel=0.01)
    assert snap.column("b").bins == ("0", "1", "2")  # the new value counts here too
