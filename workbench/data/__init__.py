"""Data contracts and integrity: nothing bad gets in, nothing is silently lost.

``load`` reads CSV, Parquet, SQL or a DataFrame; ``validate`` coerces types (recording
each cell it cannot convert), checks the contract with pandera, and splits the rows into
valid and quarantined ones, each quarantined row with every reason. Always
``len(valid) + len(quarantine) == len(input)``.

Contracts are written by hand or proposed by ``infer_contract`` from good data, and saved
as YAML next to the data. Numbers and dates can be bounded: ``min``/``max`` quarantine,
``warn_min``/``warn_max`` only warn. An inferred range is an observation, so it is marked
``bounds: inferred``, warns beyond the range seen and quarantines only beyond a margin.
Columns marked ``pii`` are masked (``mask_value``) in every display.
"""

from __future__ import annotations

from workbench.data._coerce import CoercionResult, coerce
from workbench.data._contract import ColumnContract, Contract, Rule
from workbench.data._figures import contract_table, quality_figure
from workbench.data._infer import infer_contract
from workbench.data._load import LargeValidationResult, load, validate_large
from workbench.data._mask import mask_frame, mask_value
from workbench.data._validate import ValidationResult, check_rows, validate
from workbench.data._widgets import QualityReport

__all__ = [
    "CoercionResult",
    "ColumnContract",
    "Contract",
    "LargeValidationResult",
    "QualityReport",
    "Rule",
    "ValidationResult",
    "check_rows",
    "coerce",
    "contract_table",
    "infer_contract",
    "load",
    "mask_frame",
    "mask_value",
    "quality_figure",
    "validate",
    "validate_large",
]
