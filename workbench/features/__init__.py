"""Feature engineering as of each event time: calendar features and trailing windows."""

from __future__ import annotations

from workbench.features._calendar import add_calendar_features
from workbench.features._windows import add_trailing_mean

__all__ = ["add_calendar_features", "add_trailing_mean"]
