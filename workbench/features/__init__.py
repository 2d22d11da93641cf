"""The feature store: definitions as code, point-in-time training sets, online serving.

Declare :class:`Entity`, :class:`Source` and :class:`FeatureView` objects (with
:class:`Calendar`, :class:`Lag`, :class:`Window` or :class:`Custom` transformations) in
the project's ``features.py``; :class:`FeatureStore` registers a version of each,
materializes it to Parquet, builds point-in-time correct training sets, and serves the
latest values from SQLite.
"""

from __future__ import annotations

from workbench.features._calendar import add_calendar_features
from workbench.features._definitions import (
    Calendar,
    Custom,
    Entity,
    FeatureView,
    Lag,
    Source,
    Transformation,
    Window,
    load_definitions,
)
from workbench.features._store import FeatureStore, OnlineFeatures
from workbench.features._windows import add_trailing, add_trailing_mean

__all__ = [
    "Calendar",
    "Custom",
    "Entity",
    "FeatureStore",
    "FeatureView",
    "Lag",
    "OnlineFeatures",
    "Source",
    "Transformation",
    "Window",
    "add_calendar_features",
    "add_trailing",
    "add_trailing_mean",
    "load_definitions",
]
