"""Exploratory analysis: an exact profile (pandas or Dask) and the Explorer widget.

Compute (:func:`profile` → :class:`Profile`, saveable as JSON), then draw
(``column_figure``, ``correlation_figure``, ``missing_figure``, ``pair_figure``,
``time_figure``, and ``profile_html``: a static HTML page, also
:meth:`Profile.to_html`), then interact (:class:`Explorer`).
"""

from __future__ import annotations

from workbench.explore._figures import (
    column_figure,
    correlation_figure,
    missing_figure,
    pair_figure,
    profile_html,
    time_figure,
    time_series,
)
from workbench.explore._profile import ColumnProfile, Correlations, Profile, profile
from workbench.explore._widgets import Explorer

__all__ = [
    "ColumnProfile",
    "Correlations",
    "Explorer",
    "Profile",
    "column_figure",
    "correlation_figure",
    "missing_figure",
    "pair_figure",
    "profile",
    "profile_html",
    "time_figure",
    "time_series",
]
