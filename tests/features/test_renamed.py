"""The event-time column is ``time_column=``; the old ``time=``/``timestamp=`` still work,
with a DeprecationWarning naming the new keyword, and give the same result."""

from __future__ import annotations

import dataclasses
import warnings

import pandas as pd
import pytest

from workbench import DataError
from workbench.features import (
    Entity,
    FeatureStore,
    FeatureView,
    Source,
    add_trailing,
    add_trailing_mean,
)

ROWS = pd.DataFrame(
    {
        "k": ["a", "a", "a", "b"],
        "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-02"]),
        "x": [1.0, 2.0, 4.0, 8.0],
    }
)


def test_trailing_windows_take_time_column_and_the_old_time_with_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns of nothing
        new = add_trailing(ROWS, entity="k", time_column="t", value="x", days=2, agg="sum")
        mean = add_trailing_mean(ROWS, entity="k", time_column="t", value="x", days=2)
    assert new["x_2d_sum"].tolist() == [0.0, 1.0, 2.0, 0.0]
    with pytest.warns(DeprecationWarning, match=r"add_trailing\(\): the time= keyword is renamed "):
        old = add_trailing(ROWS, entity="k", time="t", value="x", days=2, agg="sum")
    pd.testing.assert_frame_equal(old, new)
    with pytest.warns(DeprecationWarning, match=r"add_trailing_mean\(\).*renamed time_column="):
        old_mean = add_trailing_mean(ROWS, entity="k", time="t", value="x", days=2)
    pd.testing.assert_frame_equal(old_mean, mean)
    with pytest.raises(TypeError, match=r"both time_column= and its old name time="):
        add_trailing(ROWS, entity="k", time="t", time_column="t", value="x")


def test_feature_views_take_time_column_and_the_old_timestamp_with_a_warning() -> None:
    entity, source = Entity("e", "k"), Source.frame(ROWS, "rows")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = FeatureView("v", entity, source, time_column="t", features=["x"])
        by_position = FeatureView("v", entity, source, "t", ["x"])
        assert dataclasses.replace(new, name="w").time_column == "t"
    with pytest.warns(DeprecationWarning, match=r"FeatureView\(\): the timestamp= keyword is "):
        old = FeatureView("v", entity, source, timestamp="t", features=["x"])
    assert old == new == by_position
    assert new.time_column == "t"
    with pytest.warns(DeprecationWarning, match=r"FeatureView\.timestamp is renamed .*time_column"):
        assert new.timestamp == "t"
    with pytest.raises(TypeError, match=r"both time_column= and its old name timestamp="):
        FeatureView("v", entity, source, timestamp="t", time_column="t")
    # the registry keeps the name it always had: a view's fingerprint does not change
    assert new.definition()["timestamp"] == "t"


def test_training_sets_take_time_column_and_the_old_timestamp_with_a_warning() -> None:
    store = FeatureStore([FeatureView("v", Entity("e", "k"), Source.frame(ROWS, "r"), "t", ["x"])])
    store.materialize("v", progress=False)
    labels = pd.DataFrame(
        {
            "k": ["a", "b"],
            "when": pd.to_datetime(["2024-01-03", "2024-01-03"]),
            "seen": pd.to_datetime(["2024-01-01", "2024-01-01"]),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = store.get_historical_features(labels, ["v:x"], time_column="when", progress=False)
    assert new["x"].tolist() == [2.0, 8.0]
    with pytest.warns(DeprecationWarning, match=r"get_historical_features\(\): the timestamp= "):
        old = store.get_historical_features(labels, ["v:x"], timestamp="when", progress=False)
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(DataError, match=r"Name the time column of entity_df with time_column="):
        store.get_historical_features(labels, ["v:x"], progress=False)
