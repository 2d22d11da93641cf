"""The feature store: versions, materialization, point-in-time joins (both engines), online."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import ConfigurationError, DataError
from workbench.features import (
    Calendar,
    Custom,
    Entity,
    FeatureStore,
    FeatureView,
    Lag,
    Source,
    Window,
    load_definitions,
)

ENGINES = ["duckdb", "dask"]
DAY = pd.Timedelta(days=1)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _rows(seed: int = 0, entities: int = 6, days: int = 60, keep: float = 0.85) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2024-01-01", periods=days, freq="D")
    rows = pd.DataFrame(
        {
            "shop": np.repeat([f"s{i}" for i in range(entities)], days),
            "day": np.tile(stamps, entities),
        }
    )
    rows["sales"] = rng.normal(100, 10, len(rows)).round(2)
    rows["open"] = rng.random(len(rows)) < 0.8
    rows["staff"] = rng.integers(1, 9, len(rows))
    return rows.sample(frac=keep, random_state=seed).reset_index(drop=True)  # gaps, shuffled


def _view(rows: pd.DataFrame, ttl_days: int | None = 3, **kw: object) -> FeatureView:
    return FeatureView(
        "shop_daily",
        Entity("shop", "shop"),
        Source.frame(rows, "shops"),
        "day",
        features=("sales", "open", "staff"),
        ttl=None if ttl_days is None else dt.timedelta(days=ttl_days),
        **kw,  # type: ignore[arg-type]
    )


def _brute(
    rows: pd.DataFrame, keys: list[str], time: str, entity: pd.DataFrame, ttl: pd.Timedelta | None
) -> pd.DataFrame:
    """The point-in-time rule, one entity row at a time."""
    out = []
    for _, e in entity.iterrows():
        match = rows
        for k in keys:
            match = match[match[k] == e[k]]
        match = match[match[time] <= e["when"]]
        if ttl is not None:
            match = match[match[time] >= e["when"] - ttl]
        out.append(match.sort_values(time).iloc[-1] if len(match) else None)
    return pd.DataFrame(
        [{"sales": np.nan if r is None else r["sales"]} for r in out], index=entity.index
    )


def _entities(rows: pd.DataFrame, n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shops = np.r_[rows["shop"].unique(), ["absent"]]
    entity = pd.DataFrame(
        {
            "shop": rng.choice(shops, n),
            "when": pd.Timestamp("2023-12-25")
            + pd.to_timedelta(rng.integers(0, 80 * 24, n), unit="h"),
        }
    )
    exact = rows.sample(20, random_state=seed)  # exactly on a feature time
    at_ttl = exact.assign(day=exact["day"] + 3 * DAY)  # exactly at the TTL edge
    extra = pd.concat([exact, at_ttl])[["shop", "day"]].rename(columns={"day": "when"})
    entity = pd.concat([entity, extra, entity.iloc[:15]], ignore_index=True)  # duplicates
    entity.index = pd.RangeIndex(1000, 1000 + len(entity))  # the caller's index is kept
    return entity


def test_every_entity_row_comes_back_point_in_time(engine: str) -> None:
    rows = _rows()
    store = FeatureStore([_view(rows)])
    store.materialize("shop_daily", progress=False)
    entity = _entities(rows)
    out = store.get_historical_features(entity, ["shop_daily:*"], engine=engine, progress=False)
    assert len(out) == len(entity)
    assert out.index.equals(entity.index)
    pd.testing.assert_frame_equal(out[["shop", "when"]], entity)
    expected = _brute(rows, ["shop"], "day", entity, pd.Timedelta(days=3))
    np.testing.assert_allclose(out["sales"].astype(float), expected["sales"], equal_nan=True)
    assert out.loc[entity["shop"] == "absent", "sales"].isna().all()
    # a row exactly on a feature time gets that row; exactly at the TTL edge still does
    on_time = out.iloc[-35:-15]
    assert on_time["sales"].notna().all()
    assert str(out["open"].dtype) == "boolean"  # nulls where nothing qualifies
    assert str(out["staff"].dtype) == "Int64"
    assert out.attrs["lineage"]["views"]["shop_daily"]["version"] == 1


def test_engines_agree_exactly() -> None:
    rows = _rows(seed=3)
    store = FeatureStore([_view(rows, ttl_days=None)])
    store.materialize("shop_daily", progress=False)
    entity = _entities(rows, seed=4)
    duck = store.get_historical_features(entity, ["shop_daily:*"], progress=False)
    dask = store.get_historical_features(entity, ["shop_daily:*"], engine="dask", progress=False)
    pd.testing.assert_frame_equal(duck, dask)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_no_value_from_the_future_or_beyond_ttl(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n_rows = data.draw(st.integers(0, 60))
    ttl_hours = data.draw(st.integers(1, 100))
    rows = pd.DataFrame(
        {
            "k": rng.integers(0, 4, n_rows),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, n_rows), "h"),
        }
    )
    rows["t_copy"] = rows["t"]  # the feature is its own event time: easy to check
    n_entity = data.draw(st.integers(0, 40))
    entity = pd.DataFrame(
        {
            "k": rng.integers(0, 5, n_entity),
            "when": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(-50, 600, n_entity), "h"),
        }
    )
    if n_rows and n_entity:  # some entity rows exactly on feature times and at the TTL edge
        picks = rng.integers(0, n_rows, min(n_entity, 5))
        entity.loc[: len(picks) - 1, "k"] = rows["k"].to_numpy()[picks]
        shift = pd.to_timedelta(ttl_hours * (np.arange(len(picks)) % 2), "h")
        entity.loc[: len(picks) - 1, "when"] = rows["t"].to_numpy()[picks] + shift
    view = FeatureView(
        "p",
        Entity("e", "k"),
        Source.frame(rows, "p"),
        "t",
        features=["t_copy"],
        ttl=dt.timedelta(hours=ttl_hours),
    )
    from workbench._settings import resolve_settings

    settings_ = resolve_settings(tmp_path_factory.mktemp("store"))
    store = FeatureStore([view], settings=settings_)
    store.materialize("p", progress=False)
    results = []
    for engine in ENGINES:
        out = store.get_historical_features(entity, ["p:t_copy"], engine=engine, progress=False)
        assert len(out) == len(entity)
        got = out["t_copy"]
        found = got.notna()
        assert (got[found] <= entity["when"][found]).all()
        assert (got[found] >= entity["when"][found] - pd.Timedelta(hours=ttl_hours)).all()
        # nothing is missed: a null means no feature row qualifies
        for i in np.flatnonzero(~found.to_numpy()):
            e = entity.iloc[i]
            window = rows[
                (rows["k"] == e["k"])
                & (rows["t"] <= e["when"])
                & (rows["t"] >= e["when"] - pd.Timedelta(hours=ttl_hours))
            ]
            assert window.empty
        results.append(out)
    pd.testing.assert_frame_equal(results[0], results[1])


def test_materialize_twice_adds_nothing_and_ranges_replace() -> None:
    rows = _rows()
    store = FeatureStore([_view(rows)])
    first = store.materialize("shop_daily", "2024-01-10", "2024-02-10", progress=False)
    folder = store.root / "offline" / "shop_daily" / "v1"
    stored = pd.concat(pd.read_parquet(p) for p in sorted(folder.glob("*/part.parquet")))
    again = store.materialize("shop_daily", "2024-01-10", "2024-02-10", progress=False)
    stored_again = pd.concat(pd.read_parquet(p) for p in sorted(folder.glob("*/part.parquet")))
    assert first["rows"] == again["rows"] == len(stored) == len(stored_again)
    in_range = rows[(rows["day"] >= "2024-01-10") & (rows["day"] <= "2024-02-10")]
    assert len(stored) == len(in_range)
    assert stored["day"].between("2024-01-10", "2024-02-10").all()
    store.materialize("shop_daily", progress=False)  # the rest, without duplicating
    everything = pd.concat(pd.read_parquet(p) for p in sorted(folder.glob("*/part.parquet")))
    assert len(everything) == len(rows)
    assert not everything.duplicated(["shop", "day"]).any()
    runs = store.lineage("shop_daily")["materializations"]
    assert [r["rows"] for r in runs] == [len(in_range), len(in_range), len(rows)]


def test_windows_reach_back_before_the_range(engine: str) -> None:
    rows = _rows()
    view = _view(rows, transformations=[Window("sales", 7)])
    store = FeatureStore([view])
    store.materialize("shop_daily", "2024-02-01", "2024-02-05", progress=False)
    entity = rows[(rows["day"] == "2024-02-03")][["shop", "day"]].rename(columns={"day": "when"})
    out = store.get_historical_features(
        entity, ["shop_daily:sales_7d_mean"], engine=engine, progress=False
    )
    for _, row in out.iterrows():
        past = rows[
            (rows["shop"] == row["shop"])
            & (rows["day"] < row["when"])
            & (rows["day"] >= row["when"] - 7 * DAY)
        ]
        assert row["sales_7d_mean"] == pytest.approx(past["sales"].mean())


def test_transformations_calendar_lag_windows_custom() -> None:
    rows = _rows(entities=2, days=30, keep=1.0)
    view = _view(
        rows,
        transformations=[
            Calendar(country="IT"),
            Lag("sales", 1),
            Window("sales", 3, "sum"),
            Window("sales", 3, "count"),
            Window("sales", 3, "max", name="recent_max"),
            Custom(lambda f: f["sales"] * 2, "double"),
        ],
    )
    assert view.feature_names[-9:] == (
        "day_of_week",
        "month",
        "is_weekend",
        "is_holiday",
        "sales_lag1",
        "sales_3d_sum",
        "sales_3d_count",
        "recent_max",
        "double",
    )
    frame, rejected = view.compute(rows, "IT")
    assert rejected.empty
    one = frame[frame["shop"] == "s0"].sort_values("day").reset_index(drop=True)
    assert one.loc[one["day"] == "2024-01-01", "is_holiday"].item()  # New Year's Day
    assert one.loc[one["day"] == "2024-01-06", "is_weekend"].item()  # a Saturday
    assert one["sales_lag1"].iloc[1:].tolist() == one["sales"].iloc[:-1].tolist()
    for i in range(len(one)):
        t = one["day"][i]
        past = one[(one["day"] < t) & (one["day"] >= t - 3 * DAY)]
        assert one["sales_3d_sum"][i] == pytest.approx(past["sales"].sum())
        assert one["sales_3d_count"][i] == len(past)
        assert one["recent_max"][i] == pytest.approx(past["sales"].max(), nan_ok=True)
    assert (one["double"] == one["sales"] * 2).all()


def test_a_new_definition_is_a_new_version_and_old_sets_stay_reproducible(engine: str) -> None:
    rows = _rows()
    store = FeatureStore([_view(rows, transformations=[Window("sales", 7)])])
    store.materialize("shop_daily", progress=False)
    entity = _entities(rows)
    old = store.get_historical_features(
        entity, ["shop_daily:sales_7d_mean"], engine=engine, progress=False
    )

    changed = FeatureStore([_view(rows, transformations=[Window("sales", 7, "max")])])
    changed.materialize("shop_daily", progress=False)
    record = changed.lineage("shop_daily")
    assert (record["version"], record["reason"]) == (2, "definition changed")
    with pytest.raises(ConfigurationError, match="no feature 'sales_7d_mean'"):
        changed.get_historical_features(entity, ["shop_daily:sales_7d_mean"])
    pinned = changed.get_historical_features(entity, ["shop_daily@1:sales_7d_mean"], progress=False)
    pd.testing.assert_frame_equal(pinned, old)

    edited = rows.copy()
    edited.loc[0, "sales"] += 1
    third = FeatureStore([_view(edited, transformations=[Window("sales", 7, "max")])])
    third.materialize("shop_daily", progress=False)
    assert third.lineage("shop_daily")["reason"] == "source data changed"
    assert third.lineage("shop_daily")["version"] == 3
    # re-applying the first definition on the first data makes version 1 current again
    first_again = FeatureStore([_view(rows, transformations=[Window("sales", 7)])])
    assert first_again.apply()[0]["version"] == 1
    assert first_again.list_views()["version"].tolist() == [1]
    assert first_again.list_views()["versions"].tolist() == [3]


def test_created_timestamp_breaks_ties_and_rejected_rows_are_kept(engine: str) -> None:
    rows = pd.DataFrame(
        {
            "shop": ["a", "a", "a", None, "b"],
            "day": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-01", None]),
            "made": pd.to_datetime(
                ["2024-01-05", "2024-01-03", "2024-01-02", "2024-01-01", "2024-01-01"]
            ),
            "sales": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    view = FeatureView(
        "tie",
        Entity("shop", "shop"),
        Source.frame(rows, "tie"),
        "day",
        features=["sales"],
        created_timestamp="made",
    )
    store = FeatureStore([view])
    run = store.materialize("tie", progress=False)
    assert (run["rows"], run["rejected"], run["superseded"]) == (2, 2, 1)
    kept = pd.read_parquet(run["rejected_path"])
    reasons = sorted(kept["_reason"])
    assert reasons[0].startswith("no entity key") and reasons[1].startswith("no event time")
    assert "superseded" in reasons[2]
    assert kept.loc[kept["_reason"].str.startswith("superseded"), "sales"].item() == 2.0
    entity = pd.DataFrame({"shop": ["a"], "when": pd.to_datetime(["2024-01-01 12:00"])})
    out = store.get_historical_features(entity, ["tie:sales"], engine=engine, progress=False)
    assert out["sales"].item() == 1.0  # the later-created of the two rows at 2024-01-01


def test_time_zones_are_compared_in_utc(engine: str) -> None:
    rows = pd.DataFrame(
        {
            "shop": ["a", "a"],
            "day": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 12:00"]).tz_localize(
                "Europe/Rome"
            ),
            "sales": [1.0, 2.0],
        }
    )
    view = FeatureView("tz", Entity("shop", "shop"), Source.frame(rows, "tz"), "day", ["sales"])
    store = FeatureStore([view])
    store.materialize("tz", progress=False)
    entity = pd.DataFrame(
        {"shop": ["a", "a"], "when": pd.to_datetime(["2024-01-01 10:30", "2024-01-01 11:30"])}
    )
    entity["when"] = entity["when"].dt.tz_localize("UTC")  # 11:30 and 12:30 in Rome
    out = store.get_historical_features(entity, ["tz:sales"], engine=engine, progress=False)
    assert out["sales"].tolist() == [1.0, 2.0]
    assert str(out["when"].dt.tz) == "UTC"  # the caller's column is untouched


def test_composite_keys(engine: str) -> None:
    rows = pd.DataFrame(
        {
            "region": ["n", "n", "s"],
            "shop": [1, 2, 1],
            "day": pd.to_datetime(["2024-01-01"] * 3),
            "sales": [1.0, 2.0, 3.0],
        }
    )
    view = FeatureView(
        "rs", Entity("shop", ["region", "shop"]), Source.frame(rows, "rs"), "day", ["sales"]
    )
    store = FeatureStore([view])
    store.materialize("rs", progress=False)
    entity = pd.DataFrame(
        {"region": ["s", "n", "n", "x"], "shop": [1, 2, 1, 1], "when": pd.Timestamp("2024-01-02")}
    )
    out = store.get_historical_features(entity, ["rs:sales"], engine=engine, progress=False)
    assert out["sales"].tolist()[:3] == [3.0, 2.0, 1.0]
    assert np.isnan(out["sales"].iloc[3])
    store.materialize_online("rs")
    online = store.get_online_features(
        [{"region": "s", "shop": 1}, {"region": "x", "shop": 1}], ["rs:sales"], at="2024-01-02"
    )
    assert online.to_dict()["sales"] == [3.0, None]


def test_sources_parquet_csv_sql_and_contract(tmp_path: Path) -> None:
    rows = _rows(entities=2, days=10)
    rows.to_parquet(tmp_path / "rows.parquet")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    url = f"sqlite:///{tmp_path / 'rows.db'}"
    with sqlite3.connect(tmp_path / "rows.db") as con:
        rows.assign(day=rows["day"].astype(str)).to_sql("rows", con)
    frames = {}
    for source in (
        Source.parquet(tmp_path / "rows.parquet"),
        Source.csv(tmp_path / "rows.csv"),
        Source.sql(url, "SELECT shop, day, sales, open, staff FROM rows"),
    ):
        view = FeatureView("v", Entity("shop", "shop"), source, "day", ["sales"])
        frame, _ = view.compute(source.read(tmp_path), "IT")
        frames[source.kind] = frame.sort_values(["shop", "day"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(frames["parquet"], frames["csv"])
    pd.testing.assert_frame_equal(frames["parquet"], frames["sql"])

    from workbench.data import ColumnContract, Contract

    contract = Contract(
        name="shops",
        columns=(
            ColumnContract("shop", "str", nullable=False),
            ColumnContract("day", "datetime", nullable=False),
            ColumnContract("sales", "float", min=0, max=105),
            ColumnContract("open", "bool"),
            ColumnContract("staff", "int"),
        ),
    )
    checked = Source.csv(tmp_path / "rows.csv", contract=contract).read(tmp_path)
    assert len(checked) == (rows["sales"] <= 105).sum()
    assert Source.sql("postgresql://u:secret@h/db", "SELECT 1").identity()["url"] == (
        "postgresql://u:***@h/db"
    )


def test_clear_errors(tmp_path: Path) -> None:
    rows = _rows()
    store = FeatureStore([_view(rows)])
    with pytest.raises(ConfigurationError, match="not registered"):
        store.get_historical_features(rows, ["shop_daily:sales"])
    store.apply()
    with pytest.raises(ConfigurationError, match="never been materialized"):
        store.get_historical_features(rows, ["shop_daily:sales"])
    store.materialize("shop_daily", progress=False)
    entity = pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])})
    with pytest.raises(DataError, match=r"lacks the join key\(s\) \['shop'\]"):
        store.get_historical_features(entity, ["shop_daily:sales"])
    with pytest.raises(DataError, match="2 datetime columns"):
        store.get_historical_features(
            entity.assign(shop="s1", other=entity["when"]), ["shop_daily:sales"]
        )
    with pytest.raises(DataError, match="stores shop as"):
        store.get_historical_features(entity.assign(shop=1), ["shop_daily:sales"])
    with pytest.raises(DataError, match="overwrite the column 'sales'"):
        store.get_historical_features(entity.assign(shop="s1", sales=1.0), ["shop_daily:sales"])
    with pytest.raises(ConfigurationError, match="'view:feature'"):
        store.get_historical_features(entity, ["sales"])
    with pytest.raises(ConfigurationError, match="has no version 7"):
        store.get_historical_features(entity.assign(shop="s1"), ["shop_daily@7:sales"])
    with pytest.raises(ConfigurationError, match="No feature view named 'nope'"):
        store.materialize("nope")
    bad = FeatureView("bad", Entity("shop", "shop"), Source.frame(rows, "r"), "day", ["price"])
    with pytest.raises(DataError, match=r"'bad': columns \['price'\] are absent"):
        FeatureStore([bad]).materialize("bad")
    texty = rows.assign(day="yesterday")
    with pytest.raises(DataError, match=r"shop_daily\.day must hold dates"):
        FeatureStore([_view(texty)]).materialize("shop_daily")
    with pytest.raises(DataError, match="does not exist"):
        Source.parquet(tmp_path / "missing.parquet").read(tmp_path)
    with pytest.raises(ConfigurationError, match="Window agg"):
        Window("sales", 3, "median")
    with pytest.raises(ConfigurationError, match="not in the online store"):
        store.get_online_features({"shop": ["s1"]}, ["shop_daily:sales"])


def test_online_store_serves_latest_with_ttl_and_same_values_as_offline() -> None:
    rows = _rows()
    store = FeatureStore([_view(rows, transformations=[Window("sales", 7)])])
    store.materialize("shop_daily", progress=False)
    loaded = store.materialize_online("shop_daily")
    assert loaded["rows"] == rows["shop"].nunique()
    shops = sorted(rows["shop"].unique())
    last = rows.groupby("shop")["day"].max()
    at = last.max() + pd.Timedelta(hours=1)
    online = store.get_online_features({"shop": [*shops, "absent"]}, ["shop_daily:*"], at=at)
    entity = pd.DataFrame({"shop": shops, "when": at})
    offline = store.get_historical_features(entity, ["shop_daily:*"], progress=False)
    values = online.to_frame().iloc[: len(shops)]
    for shop, row in zip(shops, values.itertuples(), strict=True):
        if last[shop] >= at - pd.Timedelta(days=3):  # within the TTL: same as offline
            expected = offline[offline["shop"] == shop].iloc[0]
            assert row.sales == expected["sales"]
            assert row.sales_7d_mean == pytest.approx(expected["sales_7d_mean"])
            assert row.open is bool(expected["open"])
        else:
            assert row.sales is None
    assert online.to_dict()["sales"][-1] is None  # unknown entity
    stale = store.get_online_features({"shop": shops}, ["shop_daily:sales"], at=at + 10 * DAY)
    assert stale.to_dict()["sales"] == [None] * len(shops)  # TTL honoured on read
    assert online.versions == {"shop_daily": 1}


def test_definitions_from_the_projects_features_py(tmp_path: Path) -> None:
    _rows(entities=2, days=10, keep=1.0).to_parquet(tmp_path / "shops.parquet")
    (tmp_path / "features.py").write_text(
        "import datetime as dt\n"
        "from workbench.features import Entity, FeatureView, Source, Window\n"
        "shop = Entity('shop', 'shop')\n"
        "daily = FeatureView('daily', shop, Source.parquet('shops.parquet'), 'day',\n"
        "    features=['sales'], ttl=dt.timedelta(days=2),\n"
        "    transformations=[Window('sales', 3)])\n"
    )
    from workbench._settings import resolve_settings

    store = FeatureStore(settings=resolve_settings(tmp_path))
    assert list(store.views) == ["daily"]
    assert store.materialize("daily", progress=False)["rows"] == 20
    assert load_definitions(tmp_path / "features.py")["daily"].keys == ("shop",)
    with pytest.raises(ConfigurationError, match="No feature definitions at"):
        load_definitions(tmp_path / "absent.py")
    (tmp_path / "broken.py").write_text("raise RuntimeError('typo')\n")
    with pytest.raises(ConfigurationError, match=r"broken\.py failed to run: RuntimeError"):
        load_definitions(tmp_path / "broken.py")


# ---------------------------------------------------------------- edge cases found in review


def test_categorical_keys_and_features_round_trip(engine: str) -> None:
    rows = pd.DataFrame(
        {
            "k": pd.Categorical(["a", "b", "a"]),
            "t": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
            "color": pd.Categorical(["red", "red", "blue"]),
        }
    )
    store = FeatureStore(
        [FeatureView("c", Entity("e", "k"), Source.frame(rows, "c"), "t", ["color"])]
    )
    store.materialize("c", progress=False)
    entity = pd.DataFrame(
        {
            "k": pd.Categorical(["a", "b", "a"]),
            "when": pd.to_datetime(["2024-01-02"] * 2 + ["2024-02-02"]),
        }
    )
    out = store.get_historical_features(entity, ["c:color"], engine=engine, progress=False)
    assert out["color"].tolist() == ["red", "red", "blue"]


def test_superseded_rows_never_reach_lags_or_windows(engine: str) -> None:
    rows = pd.DataFrame(
        {
            "k": ["a", "a", "a"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"]),
            "made": pd.to_datetime(["2024-01-05", None, "2024-01-02"]),  # unknown = oldest
            "x": [10.0, 1.0, 5.0],
        }
    )
    view = FeatureView(
        "s",
        Entity("e", "k"),
        Source.frame(rows, "s"),
        "t",
        ["x"],
        transformations=[Lag("x"), Window("x", 3, "sum"), Window("x", 3, "count")],
        created_timestamp="made",
    )
    store = FeatureStore([view])
    run = store.materialize("s", progress=False)
    assert run["superseded"] == 1
    entity = pd.DataFrame({"k": ["a", "a"], "when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    out = store.get_historical_features(entity, ["s:*"], engine=engine, progress=False)
    assert out["x"].tolist() == [10.0, 5.0]
    assert np.isnan(out["x_lag1"].iloc[0]) and out["x_lag1"].iloc[1] == 10.0
    assert out["x_3d_sum"].tolist() == [0.0, 10.0] and out["x_3d_count"].tolist() == [0.0, 1.0]


def test_custom_closures_and_the_country_setting_are_part_of_the_version(tmp_path: Path) -> None:
    from workbench._settings import resolve_settings

    rows = _rows(entities=1, days=5, keep=1.0)

    def scaled(factor: float) -> Custom:
        return Custom(lambda f: f["sales"] * factor, "scaled")

    def view(factor: float) -> FeatureView:
        return _view(rows, transformations=[scaled(factor), Calendar(features=("is_holiday",))])

    settings_it = resolve_settings(tmp_path)
    first = FeatureStore([view(2.0)], settings=settings_it).apply()[0]["version"]
    second = FeatureStore([view(3.0)], settings=settings_it).apply()[0]["version"]
    assert (first, second) == (1, 2)  # same source code, another closed-over value
    import dataclasses

    settings_us = dataclasses.replace(settings_it, country="US")
    third = FeatureStore([view(3.0)], settings=settings_us).apply()[0]
    assert third["version"] == 3 and third["definition"]["country"] == "US"


def test_a_month_with_only_nulls_in_a_text_column(engine: str) -> None:
    rows = pd.DataFrame(
        {
            "k": ["a", "a"],
            "t": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "s": pd.Series([None, "x"], dtype=object),
            "n": [None, 5],
        }
    )
    store = FeatureStore(
        [FeatureView("m", Entity("e", "k"), Source.frame(rows, "m"), "t", ["s", "n"])]
    )
    store.materialize("m", progress=False)
    entity = pd.DataFrame({"k": ["a", "a"], "when": pd.to_datetime(["2024-01-02", "2024-02-02"])})
    out = store.get_historical_features(entity, ["m:*"], engine=engine, progress=False)
    assert out["s"].isna().iloc[0] and out["s"].iloc[1] == "x"


def test_null_and_fractional_integer_keys_match_nothing(engine: str) -> None:
    rows = pd.DataFrame(
        {"k": [1, 2, 3], "t": pd.to_datetime(["2024-01-01"] * 3), "x": [1.0, 2.0, 3.0]}
    )
    store = FeatureStore([FeatureView("i", Entity("e", "k"), Source.frame(rows, "i"), "t", ["x"])])
    store.materialize("i", progress=False)
    for keys in ([1.0, np.nan, 3.0], pd.array([1, None, 3], dtype="Int64"), [1.0, 2.5, 3.0]):
        entity = pd.DataFrame({"k": keys, "when": pd.Timestamp("2024-01-02")})
        out = store.get_historical_features(entity, ["i:x"], engine=engine, progress=False)
        assert out["x"].iloc[0] == 1.0 and np.isnan(out["x"].iloc[1]) and out["x"].iloc[2] == 3.0


def test_big_integers_stay_exact_next_to_nulls(engine: str) -> None:
    big = 2**53 + 1
    rows = pd.DataFrame({"k": ["a"], "t": pd.to_datetime(["2024-01-01"]), "n": [big]})
    store = FeatureStore([FeatureView("b", Entity("e", "k"), Source.frame(rows, "b"), "t", ["n"])])
    store.materialize("b", progress=False)
    entity = pd.DataFrame({"k": ["a", "z"], "when": pd.Timestamp("2024-01-02")})
    out = store.get_historical_features(entity, ["b:n"], engine=engine, progress=False)
    assert str(out["n"].dtype) == "Int64" and out["n"].iloc[0] == big and out["n"].isna().iloc[1]


def test_custom_results_in_another_order_are_aligned_by_label() -> None:
    rows = pd.DataFrame(
        {
            "k": ["a", "a", "b", "b"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"] * 2),
            "x": [1.0, 2.0, 10.0, 20.0],
        }
    )

    def previous(frame: pd.DataFrame) -> pd.Series:
        return frame.sort_values("t").groupby("k")["x"].shift(1)  # rows reordered

    view = FeatureView(
        "o", Entity("e", "k"), Source.frame(rows, "o"), "t", ["x"], [Custom(previous, "prev")]
    )
    frame, _ = view.compute(rows, "IT")
    assert frame.loc[frame["k"] == "b", "prev"].tolist()[1] == 10.0
    assert np.isnan(frame.loc[frame["k"] == "b", "prev"].tolist()[0])


def test_calendar_days_are_local_to_the_source_time_zone() -> None:
    rows = pd.DataFrame(
        {
            "k": ["a"],
            "t": pd.to_datetime(["2024-01-01 00:30"]).tz_localize("Europe/Rome"),  # 23:30 UTC
            "x": [1.0],
        }
    )
    view = FeatureView("z", Entity("e", "k"), Source.frame(rows, "z"), "t", ["x"], [Calendar()])
    frame, _ = view.compute(rows, "IT")
    assert frame[["day_of_week", "month", "is_holiday"]].iloc[0].tolist() == [0, 1, True]
    assert frame["t"].iloc[0] == pd.Timestamp("2023-12-31 23:30")  # stored in UTC


def test_online_datetimes_and_times_before_an_event() -> None:
    rows = pd.DataFrame(
        {
            "k": ["a"],
            "t": pd.to_datetime(["2024-01-02"]),
            "seen": pd.to_datetime(["2023-12-31 10:00"]),
            "ok": [True],
        }
    )
    store = FeatureStore(
        [FeatureView("d", Entity("e", "k"), Source.frame(rows, "d"), "t", ["seen", "ok"])]
    )
    store.materialize("d", progress=False)
    store.materialize_online("d")
    now = store.get_online_features({"k": ["a"]}, ["d:*"], at="2024-01-03").to_dict()
    assert now["seen"] == [pd.Timestamp("2023-12-31 10:00")] and now["ok"] == [True]
    before = store.get_online_features({"k": ["a"]}, ["d:seen"], at="2024-01-01").to_dict()
    assert before["seen"] == [None]  # not known yet at that time, as offline says


def test_concurrent_materializations_of_one_month_keep_every_row() -> None:
    from concurrent.futures import ThreadPoolExecutor

    stamps = pd.date_range("2024-01-01", "2024-01-31 23:00", freq="h")
    rows = pd.DataFrame({"k": np.repeat(["a", "b"], len(stamps)), "t": np.tile(stamps, 2)})
    rows["x"] = np.arange(len(rows), dtype=float)
    store = FeatureStore([FeatureView("r", Entity("e", "k"), Source.frame(rows, "r"), "t", ["x"])])
    store.apply()
    halves = [("2024-01-01", "2024-01-15 23:00"), ("2024-01-16", "2024-01-31 23:00")]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda r: store.materialize("r", *r, progress=False), halves))
    stored = pd.read_parquet(store.root / "offline" / "r" / "v1" / "2024-01" / "part.parquet")
    assert len(stored) == len(rows)


def _int_keyed_store() -> FeatureStore:
    rows = pd.DataFrame(
        {"k": [1, 2, 3], "t": pd.to_datetime(["2024-01-01"] * 3), "x": [1.0, 2.0, 3.0]}
    )
    store = FeatureStore([FeatureView("i", Entity("e", "k"), Source.frame(rows, "i"), "t", ["x"])])
    store.materialize("i", progress=False)
    store.materialize_online("i")
    return store


@pytest.mark.parametrize(
    "keys",
    [pd.array([1, None, 3], dtype="Int64"), [1, None, 3], np.array([1.0, np.nan, 3.0])],
    ids=["Int64-NA", "None", "NaN"],
)
def test_a_missing_key_gets_null_online_as_offline(keys: object) -> None:
    store = _int_keyed_store()
    # before: sqlite3.ProgrammingError: type 'NAType' is not supported
    online = store.get_online_features({"k": keys}, ["i:x"], at="2024-01-02")
    entity = pd.DataFrame({"k": keys, "when": pd.Timestamp("2024-01-02")})
    offline = store.get_historical_features(entity, ["i:x"], progress=False)
    assert online.to_dict()["x"] == [1.0, None, 3.0]
    assert offline["x"].iloc[0] == 1.0 and np.isnan(offline["x"].iloc[1])


def test_keys_of_the_wrong_kind_are_refused_online_as_offline() -> None:
    store = _int_keyed_store()
    when = pd.Timestamp("2024-01-02")
    # before: online gave [None, None] without a word, offline raised
    for where, ask in (
        ("entity_rows", lambda k: store.get_online_features({"k": k}, ["i:x"], at=when)),
        (
            "entity_df",
            lambda k: store.get_historical_features(
                pd.DataFrame({"k": k, "when": when}), ["i:x"], progress=False
            ),
        ),
    ):
        with pytest.raises(DataError, match=rf"{where}\.k holds string values \('1'\).*int64"):
            ask(["1", "2"])
        with pytest.raises(DataError, match=rf"{where}\.k holds mixed-integer values \('x'\)"):
            ask([1, "x"])
    texts = FeatureStore([_view(_rows(entities=2, days=3, keep=1.0))])
    texts.materialize("shop_daily", progress=False)
    texts.materialize_online("shop_daily")
    with pytest.raises(DataError, match=r"entity_rows\.shop holds integer values \(1\)"):
        texts.get_online_features({"shop": [1]}, ["shop_daily:sales"])


@pytest.mark.parametrize(
    "ttl", [dt.timedelta(days=365_250), dt.timedelta.max], ids=["1000-years", "timedelta.max"]
)
def test_a_ttl_beyond_what_pandas_computes_with_is_refused_at_definition(
    ttl: dt.timedelta,
) -> None:
    rows = _rows(entities=2, days=3, keep=1.0)
    # before: accepted here, then OutOfBoundsTimedelta / OverflowError at query time
    with pytest.raises(ConfigurationError, match=r"'shop_daily': ttl must be at most 106,751 days"):
        FeatureView("shop_daily", Entity("shop", "shop"), Source.frame(rows, "s"), "day", ttl=ttl)


def test_the_longest_ttl_and_window_work_end_to_end(engine: str) -> None:
    from workbench.features._times import MAX_SPAN

    rows = _rows(entities=2, days=3, keep=1.0)
    longest = Window("sales", MAX_SPAN.days, "sum", name="all_sales")
    store = FeatureStore([_view(rows, ttl_days=MAX_SPAN.days, transformations=[longest])])
    store.materialize("shop_daily", progress=False)
    entity = pd.DataFrame(
        {"shop": ["s0", "s1"], "when": pd.to_datetime(["2024-01-03", "1700-01-01"])}
    )
    out = store.get_historical_features(entity, ["shop_daily:*"], engine=engine, progress=False)
    first_two = rows[(rows["shop"] == "s0") & (rows["day"] < "2024-01-03")]["sales"].sum()
    assert out["all_sales"].iloc[0] == pytest.approx(first_two) and out["sales"].isna().iloc[1]
    store.materialize_online("shop_daily")
    online = store.get_online_features({"shop": ["s0"]}, ["shop_daily:sales"], at="2024-02-01")
    latest = rows[rows["shop"] == "s0"].sort_values("day")["sales"].iloc[-1]
    assert online.to_dict()["sales"] == [latest]
    for bad, message in (
        (lambda: Window("sales", MAX_SPAN.days + 1), "Window days must be at most 106,751"),
        (
            lambda: FeatureView("v", Entity("e", "shop"), Source.frame(rows, "s"), "day", ttl=30),  # type: ignore[arg-type]
            r"ttl must be a datetime.timedelta or None \(no limit\)\. Got 30",
        ),
    ):
        with pytest.raises(ConfigurationError, match=message):
            bad()


def test_online_serves_the_row_valid_at_a_time_before_the_latest_one_or_refuses() -> None:
    days = pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-10"])
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    rows = pd.DataFrame(
        {
            "k": ["a", "a", "a", "b", "b"],
            # b's latest row is dated after now: now is answered by the row before it
            "t": [*days, now - pd.Timedelta(days=1), now + pd.Timedelta(days=30)],
            "x": [1.0, 2.0, 3.0, 10.0, 20.0],
        }
    )
    view = FeatureView(
        "v", Entity("e", "k"), Source.frame(rows, "v"), "t", ["x"], ttl=dt.timedelta(days=3)
    )
    store = FeatureStore([view])
    store.materialize("v", progress=False)
    store.materialize_online("v")

    def both(at: object) -> tuple[list[object], list[object]]:
        online = store.get_online_features({"k": ["a"]}, ["v:x"], at=at).to_dict()["x"]
        entity = pd.DataFrame({"k": ["a"], "when": pd.Timestamp(str(at))})
        offline = store.get_historical_features(entity, ["v:x"], progress=False)["x"]
        return online, [None if pd.isna(v) else v for v in offline]

    # before: None for every time before 2024-01-10, whatever offline said
    for at, expected in (
        ("2024-01-12", 3.0),  # the latest row
        ("2024-01-07", 2.0),  # the one before it
        ("2024-01-09", None),  # the one before it, older than the TTL
        ("2023-12-31", None),  # before the key's first row: nothing to serve
    ):
        online, offline = both(at)
        assert online == offline == [expected], at
    with pytest.raises(DataError, match=r"'v' version 1 cannot answer for 2024-01-02.*k='a'"):
        store.get_online_features({"k": ["a"]}, ["v:x"], at="2024-01-02")  # offline: 1.0
    assert store.get_online_features({"k": ["b"]}, ["v:x"]).to_dict()["x"] == [10.0]


def test_an_online_table_loaded_by_an_older_workbench_is_read_and_refuses_what_it_cannot_know() -> (
    None
):
    rows = pd.DataFrame(
        {"k": ["a", "a"], "t": pd.to_datetime(["2024-01-01", "2024-01-05"]), "x": [1.0, 2.0]}
    )
    store = FeatureStore([FeatureView("o", Entity("e", "k"), Source.frame(rows, "o"), "t", ["x"])])
    store.materialize("o", progress=False)
    store.materialize_online("o")
    info = store.lineage("o")["online"]
    with sqlite3.connect(store.online_path) as con:  # the layout before: latest row only
        latest = 'SELECT k, MAX("__event_ns") AS "__event_ns", x FROM o__v1 GROUP BY k'
        con.execute(f"CREATE TABLE old AS {latest}")
        con.execute("DROP TABLE o__v1")
        con.execute("ALTER TABLE old RENAME TO o__v1")
    old = {k: v for k, v in info.items() if k not in ("layout", "key_dtypes", "at")}
    store.registry.set_online("o", 1, old)
    served = store.get_online_features({"k": ["a", "z"]}, ["o:x"], at="2024-01-06")
    assert served.to_dict()["x"] == [2.0, None]
    with pytest.raises(DataError, match=r"loaded by an older workbench.*materialize_online again"):
        store.get_online_features({"k": ["a"]}, ["o:x"], at="2024-01-02")
    with pytest.raises(DataError, match=r"entity_rows\.k holds integer values \(1\)"):
        store.get_online_features({"k": [1]}, ["o:x"])  # key types from the offline files
