"""The contract and feature recipe of the electricity export, shared by demo and notebooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.data import ColumnContract, Contract

if TYPE_CHECKING:
    import pandas as pd

    from workbench.features import FeatureStore, FeatureView

__all__ = [
    "ELECTRICITY_CONTRACT",
    "ELECTRICITY_FEATURES",
    "ELECTRICITY_TARGET",
    "electricity_feature_view",
    "electricity_training_set",
]

#: The data contract of the raw electricity export (saved as YAML beside the data).
ELECTRICITY_CONTRACT = Contract(
    name="electricity",
    columns=(
        ColumnContract("date", "datetime", nullable=False, description="day of the reading"),
        ColumnContract("factory_id", "str", nullable=False, description="the entity"),
        ColumnContract(
            "region",
            "category",
            categories=("Nord", "Centro", "Sud"),
            aliases={"N": "Nord", "C": "Centro", "S": "Sud"},
        ),
        ColumnContract("temperature_c", "float", min=-40, max=50),
        ColumnContract("production_volume", "float", min=0),
        ColumnContract("consumption_kwh", "float", nullable=False, min=0),
    ),
    key=("date", "factory_id"),
    event_time="date",
)

#: Model inputs, in order; ``region`` is one-hot encoded by the model's pipeline.
ELECTRICITY_FEATURES = (
    "region",
    "temperature_c",
    "production_volume",
    "day_of_week",
    "is_holiday",
    "consumption_kwh_30d_mean",
)
ELECTRICITY_TARGET = "consumption_kwh"


def electricity_feature_view(source: str | Path) -> FeatureView:
    """The ``factory_daily`` feature view of the electricity data, read from ``source``.

    Per factory and day: region, temperature and production volume as recorded, day of
    week and national holiday, and the mean consumption of the 30 days before the day
    (never the day itself). A value is served for up to 2 days after its day.

    Args:
        source: A Parquet file of valid rows (``validate(raw, ELECTRICITY_CONTRACT)``).
    """
    from workbench.features import Calendar, Entity, FeatureView, Source, Window

    return FeatureView(
        "factory_daily",
        Entity("factory", "factory_id", description="a factory of the demo company"),
        Source.parquet(source),
        "date",
        features=("region", "temperature_c", "production_volume"),
        transformations=(
            Calendar(features=("day_of_week", "is_holiday")),
            Window(ELECTRICITY_TARGET, 30, "mean"),
        ),
        ttl=dt.timedelta(days=2),
        description="Daily inputs of the consumption model, as known on each day.",
    )


def electricity_training_set(
    store: FeatureStore, labels: pd.DataFrame, *, progress: bool = True
) -> pd.DataFrame:
    """Labels (factory, date, consumption) joined point-in-time with ``factory_daily``.

    Args:
        store: A store holding the materialized ``factory_daily`` view.
        labels: Rows with ``factory_id``, ``date`` and the target.
        progress: Show progress bars.

    Returns:
        ``labels`` with the model's inputs added, ``region`` as plain text (MLflow
        signatures have no categorical type); ``attrs["lineage"]`` names the view version.
    """
    frame = store.get_historical_features(
        labels[["date", "factory_id", ELECTRICITY_TARGET]],
        [f"factory_daily:{name}" for name in ELECTRICITY_FEATURES],
        time_column="date",
        progress=progress,
    )
    lineage = frame.attrs["lineage"]
    frame = frame.astype({"region": "str", "factory_id": "str"})
    frame.attrs["lineage"] = lineage
    return frame
