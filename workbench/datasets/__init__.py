"""Deterministic demo data for the workbench's own examples.

The seed's example: predict a factory's daily electricity consumption, where factories are
closed on Sundays and national holidays.
"""

from __future__ import annotations

from workbench.datasets._electricity import (
    DirtConfig,
    ElectricityData,
    make_electricity,
    write_electricity_csv,
)
from workbench.datasets._recipe import (
    ELECTRICITY_CONTRACT,
    ELECTRICITY_FEATURES,
    ELECTRICITY_TARGET,
    electricity_feature_view,
    electricity_training_set,
)

__all__ = [
    "ELECTRICITY_CONTRACT",
    "ELECTRICITY_FEATURES",
    "ELECTRICITY_TARGET",
    "DirtConfig",
    "ElectricityData",
    "electricity_feature_view",
    "electricity_training_set",
    "make_electricity",
    "write_electricity_csv",
]
