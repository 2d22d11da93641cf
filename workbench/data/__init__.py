"""Loading raw data: coerce types, keep every bad row aside with its reason.

The rule of this stage: ``len(valid) + len(quarantine) == len(input)``, always. Nothing is
dropped without a trace.
"""

from __future__ import annotations

from workbench.data._load import Column, LoadResult, TableSpec, clean, load_csv

__all__ = ["Column", "LoadResult", "TableSpec", "clean", "load_csv"]
