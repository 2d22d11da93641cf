from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench import ConfigurationError
from workbench.datasets import DirtConfig, make_electricity, write_electricity_csv

SMALL = {"n_factories": 3, "start": "2024-01-01", "end": "2024-12-31", "change_date": "2024-07-01"}


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return make_electricity(**SMALL, seed=3)


def test_same_seed_same_data_other_seed_other_data(data) -> None:  # type: ignore[no-untyped-def]
    again = make_electricity(**SMALL, seed=3)
    pd.testing.assert_frame_equal(data.raw, again.raw)
    pd.testing.assert_frame_equal(data.truth, again.truth)
    other = make_electricity(**SMALL, seed=4)
    assert not data.truth["consumption_kwh"].equals(other.truth["consumption_kwh"])


def test_one_row_per_factory_and_day_in_the_truth(data) -> None:  # type: ignore[no-untyped-def]
    assert len(data.truth) == 3 * 366  # 2024 is a leap year
    assert not data.truth.duplicated(["date", "factory_id"]).any()


def test_factories_are_closed_on_sundays(data) -> None:  # type: ignore[no-untyped-def]
    truth = data.truth
    sundays = truth[truth["date"].dt.dayofweek == 6]
    assert len(sundays) > 0 and (sundays["production_volume"] == 0).all()
    weekdays = truth[(truth["date"].dt.dayofweek < 5)]
    assert (weekdays["production_volume"] > 0).mean() > 0.9


@pytest.mark.parametrize("holiday", ["2024-08-15", "2024-12-25", "2024-04-25", "2024-06-02"])
def test_factories_are_closed_on_italian_holidays(data, holiday: str) -> None:  # type: ignore[no-untyped-def]
    day = data.truth[data.truth["date"] == pd.Timestamp(holiday)]
    assert len(day) == 3 and (day["production_volume"] == 0).all()
    # closed days use less energy than the same factory's open days
    open_days = data.truth[data.truth["production_volume"] > 0]
    assert day["consumption_kwh"].mean() < open_days["consumption_kwh"].mean()


def test_country_changes_the_holidays() -> None:
    # 4 July is a working Thursday in Italy, a holiday in the United States.
    it = make_electricity(**SMALL, country="IT", dirt=DirtConfig.none())
    us = make_electricity(**SMALL, country="US", dirt=DirtConfig.none())
    day = pd.Timestamp("2024-07-04")
    assert (it.truth.loc[it.truth["date"] == day, "production_volume"] > 0).all()
    assert (us.truth.loc[us.truth["date"] == day, "production_volume"] == 0).all()


def test_regime_change_raises_volume_but_not_temperature(data) -> None:  # type: ignore[no-untyped-def]
    truth = data.truth[data.truth["production_volume"] > 0]
    after = truth["date"] >= pd.Timestamp(data.change_date)
    ratio = (
        truth.loc[after, "production_volume"].mean() / truth.loc[~after, "production_volume"].mean()
    )
    assert 1.3 < ratio < 1.5
    assert data.change_date == dt.date(2024, 7, 1)
    assert "production_volume" in data.changed_columns and "temperature_c" in data.stable_columns


def test_every_kind_of_dirt_is_in_the_raw_export(data) -> None:  # type: ignore[no-untyped-def]
    raw = data.raw
    numeric = raw[["temperature_c", "production_volume", "consumption_kwh"]]
    assert (numeric == "").any().all(), "missing values in each numeric column"
    assert numeric.apply(lambda c: c.str.contains(",")).any().all(), "comma decimals"
    readings = pd.to_numeric(raw["consumption_kwh"].str.replace(",", "."), errors="coerce")
    assert (readings < 0).sum() > 0, "negative meter readings"
    assert raw.duplicated().sum() > 0, "duplicated rows"
    spellings = set(raw["region"])
    assert len(spellings - {"Nord", "Centro", "Sud"}) >= 3, "inconsistent region spellings"
    assert len(raw) > len(data.truth)  # duplicates add rows


def test_a_clean_export_has_no_dirt() -> None:
    clean = make_electricity(**SMALL, dirt=DirtConfig.none())
    assert len(clean.raw) == len(clean.truth)
    assert not (clean.raw == "").any().any()
    assert set(clean.raw["region"]) <= {"Nord", "Centro", "Sud"}
    np.testing.assert_allclose(
        clean.raw["consumption_kwh"].astype(float), clean.truth["consumption_kwh"]
    )


def test_write_csv(tmp_path, data) -> None:  # type: ignore[no-untyped-def]
    path = write_electricity_csv(data, tmp_path / "raw")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back.shape == data.raw.shape


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_factories": 0}, "n_factories must be at least 1"),
        ({"change_date": "2023-01-01"}, "change_date must lie after start"),
        ({"start": "01/01/2024"}, "'start' parameter must be an ISO date"),
        ({"country": "XX"}, "country known to the holidays package"),
        ({"dirt": None, "n_factories": 1, "seed": 0, "volume_shift": 1.0}, None),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], message: str | None) -> None:
    args = {**SMALL, **kwargs}
    if message is None:
        assert len(make_electricity(**args).truth) == 366  # type: ignore[arg-type]
        return
    with pytest.raises(ConfigurationError, match=message):
        make_electricity(**args)  # type: ignore[arg-type]


def test_dirt_shares_are_checked() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'missing' share of DirtConfig must be in \[0, 1\]"
    ):
        DirtConfig(missing=1.5)
