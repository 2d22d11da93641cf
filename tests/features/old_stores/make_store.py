"""Write a small feature store with the workbench on ``PYTHONPATH``, and its answers.

The folders beside this file were written by older code, so that a test can check that
the stores users already have (registry, offline Parquet, online SQLite) still load and
still give the same answers::

    git archive 1df8f5c workbench | tar -x -C /tmp/old-1df8f5c
    PYTHONPATH=/tmp/old-1df8f5c python tests/features/old_stores/make_store.py \
        tests/features/old_stores/1df8f5c

Only what every version of the feature store has is used here (the event time passed by
position), so :func:`views` also rebuilds the same definitions for the test.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Where the online answers are asked for.
ONLINE_AT = "2024-02-20 12:00"


def rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The source rows of the two views: shops by day, and pairs of integer keys."""
    rng = np.random.default_rng(7)
    days = pd.date_range("2024-01-01", "2024-02-20", freq="D")
    shops = pd.DataFrame(
        {"shop": np.repeat(["s1", "s2", "s3"], len(days)), "day": np.tile(days, 3)}
    )
    shops["sales"] = rng.normal(100, 10, len(shops)).round(2)
    shops["open"] = rng.random(len(shops)) < 0.8
    shops["staff"] = rng.integers(1, 9, len(shops))
    shops["made"] = shops["day"] + pd.Timedelta(hours=20)
    shops = shops.sample(frac=0.8, random_state=3).reset_index(drop=True)
    times = pd.date_range("2024-01-03", periods=12, freq="5D")
    pairs = pd.DataFrame(
        {
            "a": np.repeat([1, 2], len(times)),
            "b": np.tile([10, 20], len(times)),
            "at": np.tile(times, 2),
            "level": np.arange(2 * len(times), dtype="float64") / 4,
            "seen": np.tile(times - pd.Timedelta(days=1), 2),
        }
    )
    return shops, pairs


def views(window: bool = True) -> list[Any]:
    """The views: ``shops`` (version 1 without the window, version 2 with it) and
    ``pairs``."""
    from workbench.features import Calendar, Entity, FeatureView, Lag, Source, Window

    shops, pairs = rows()
    steps: list[Any] = [Calendar(features=("day_of_week", "is_holiday")), Lag("sales", 1)]
    if window:
        steps.append(Window("sales", 7, "mean"))
    return [
        FeatureView(
            "shops",
            Entity("shop", "shop"),
            Source.frame(shops, "shops"),
            "day",
            features=("sales", "open", "staff"),
            transformations=tuple(steps),
            ttl=dt.timedelta(days=3),
            created_timestamp="made",
        ),
        FeatureView(
            "pairs",
            Entity("pair", ["a", "b"]),
            Source.frame(pairs, "pairs"),
            "at",
            features=("level", "seen"),
        ),
    ]


def entity_rows() -> pd.DataFrame:
    """Label rows asking both views, at times on, between and after their events."""
    rng = np.random.default_rng(11)
    n = 40
    return pd.DataFrame(
        {
            "shop": rng.choice(["s1", "s2", "s3", "s9"], n),
            "a": rng.choice([1, 2], n),
            "b": rng.choice([10, 20], n),
            "when": pd.Timestamp("2023-12-30") + pd.to_timedelta(rng.integers(0, 60 * 24, n), "h"),
        }
    )


REFERENCES = ["shops@1:*", "shops:*", "pairs:*"]
ONLINE = {"shops": ["s1", "s2", "s9"], "a": [1, 2, 1], "b": [10, 20, 20]}


def answers(store: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The store's point-in-time training set and online answers, as they are kept."""
    out = store.get_historical_features(entity_rows(), REFERENCES, full_names=True, progress=False)
    lineage = out.attrs["lineage"]
    shops = store.get_online_features({"shop": ONLINE["shops"]}, ["shops:*"], at=ONLINE_AT)
    pairs = store.get_online_features({"a": ONLINE["a"], "b": ONLINE["b"]}, ["pairs:*"])
    online = {
        name: {k: [None if v is None else str(v) for v in vs] for k, vs in got.columns.items()}
        for name, got in (("shops", shops), ("pairs", pairs))
    }
    return out, {"lineage": lineage, "online": online}


def main(folder: Path) -> None:
    import workbench
    from workbench.features import FeatureStore

    folder.mkdir(parents=True, exist_ok=True)
    settings = workbench.resolve_settings(
        folder, environ={"WORKBENCH_FEATURE_STORE_DIR": str(folder / "store")}
    )
    first = FeatureStore(views(window=False), settings=settings)
    first.materialize("shops", progress=False)
    first.materialize_online("shops")
    store = FeatureStore(views(), settings=settings)
    store.materialize("shops", progress=False)
    store.materialize("pairs", end="2024-01-31", progress=False)
    store.materialize("pairs", start="2024-02-01", progress=False)
    store.materialize_online("shops")
    store.materialize_online("pairs")
    out, kept = answers(store)
    out.to_parquet(folder / "historical.parquet")
    (folder / "answers.json").write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
