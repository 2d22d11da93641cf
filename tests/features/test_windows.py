from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import DataError
from workbench.features import add_trailing_mean


def _brute_force(frame: pd.DataFrame, days: int) -> list[float]:
    out = []
    for _, row in frame.iterrows():
        same = frame[frame["id"] == row["id"]]
        window = same[(same["t"] < row["t"]) & (same["t"] >= row["t"] - pd.Timedelta(days=days))]
        out.append(float(window["v"].mean()) if len(window) else np.nan)
    return out


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=90)
    rows = [(e, d, float(rng.normal(100, 10))) for e in ("a", "b", "c") for d in days]
    f = pd.DataFrame(rows, columns=["id", "t", "v"])
    f = f.drop(index=rng.choice(len(f), 40, replace=False))  # gaps, like quarantined days
    return f.sample(frac=1.0, random_state=1)  # any input order


def test_matches_a_brute_force_window(frame: pd.DataFrame) -> None:
    out = add_trailing_mean(frame, entity="id", time_column="t", value="v", days=30)
    np.testing.assert_allclose(out["v_30d_mean"], _brute_force(frame, 30))
    assert out.index.equals(frame.index)  # row order kept


def test_no_look_ahead(frame: pd.DataFrame) -> None:
    before = add_trailing_mean(frame, entity="id", time_column="t", value="v", days=30)
    cut = pd.Timestamp("2024-02-15")
    changed = frame.copy()
    changed.loc[changed["t"] >= cut, "v"] += 1000.0  # the future changes...
    after = add_trailing_mean(changed, entity="id", time_column="t", value="v", days=30)
    on_or_before = frame["t"] <= cut  # ...and nothing known on or before the cut moves
    np.testing.assert_allclose(
        after.loc[on_or_before, "v_30d_mean"], before.loc[on_or_before, "v_30d_mean"]
    )


def test_first_day_has_no_history() -> None:
    f = pd.DataFrame(
        {"id": ["a", "a"], "t": pd.to_datetime(["2024-01-01", "2024-01-02"]), "v": [5.0, 7.0]}
    )
    out = add_trailing_mean(f, entity="id", time_column="t", value="v", days=30, name="m")
    assert np.isnan(out["m"].iloc[0]) and out["m"].iloc[1] == 5.0


def test_errors() -> None:
    with pytest.raises(DataError, match=r"\['v'\] are absent"):
        add_trailing_mean(
            pd.DataFrame({"id": [], "t": []}), entity="id", time_column="t", value="v"
        )
    with pytest.raises(DataError, match="at least 1"):
        add_trailing_mean(
            pd.DataFrame({"id": [], "t": [], "v": []}),
            entity="id",
            time_column="t",
            value="v",
            days=0,
        )
