"""The contract and feature recipe of the electricity export, shared by demo and notebooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.data import ColumnContract, Contract

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ELECTRICITY_CONTRACT",
    "ELECTRICITY_FEATURES",
    "ELECTRICITY_TARGET",
    "electricity_features",
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


def electricity_features(valid: pd.DataFrame, country: str = "IT") -> pd.DataFrame:
    """Day of week, national holiday, and 30-day trailing mean consumption as of each day.

    Args:
        valid: The valid rows of the raw export (``validate(raw, ELECTRICITY_CONTRACT).valid``).
        country: Country of the national holidays.

    Returns:
        The rows with the feature columns added; ``region`` as plain text, because MLflow
        signatures have no categorical type.
    """
    from workbench.features import add_calendar_features, add_trailing_mean

    frame = add_calendar_features(valid, "date", country=country)
    frame = add_trailing_mean(
        frame, entity="factory_id", time="date", value=ELECTRICITY_TARGET, days=30
    )
    frame = frame.drop(columns="_row", errors="ignore")
    return frame.astype({"region": "str", "factory_id": "str"})
