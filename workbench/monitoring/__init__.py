"""Monitoring: per-feature drift between reference and production data, saved as snapshots.

Compute (:func:`compute_drift` → :class:`DriftSnapshot`), then draw
(:func:`drift_table_figure`, :func:`distribution_figure`), then interact
(:class:`DriftExplorer`); a snapshot saved as JSON feeds all three.
"""

from __future__ import annotations

from workbench.monitoring._drift import (
    ColumnDrift,
    DriftSnapshot,
    compute_drift,
    latest_snapshot,
)
from workbench.monitoring._figures import distribution_figure, drift_table_figure
from workbench.monitoring._stats import TESTS
from workbench.monitoring._summary import ReferenceProfile, Summary, summarize
from workbench.monitoring._widgets import DriftExplorer

__all__ = [
    "TESTS",
    "ColumnDrift",
    "DriftExplorer",
    "DriftSnapshot",
    "ReferenceProfile",
    "Summary",
    "compute_drift",
    "distribution_figure",
    "drift_table_figure",
    "latest_snapshot",
    "summarize",
]
