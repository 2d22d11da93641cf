"""A dataset no one here wrote (scikit-learn's breast-cancer set), with faults injected:
every injected fault is caught, and nothing else."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from workbench.data import Contract, Rule, infer_contract, load, validate


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = np.where(frame.pop("target") == 1, "benign", "malignant")
    return frame


def test_every_injected_fault_is_caught_and_nothing_else(
    clean: pd.DataFrame, tmp_path: Path
) -> None:
    inferred = infer_contract(clean, target="diagnosis", min_class_share=0.2)
    rule = Rule("mean_radius_within_worst", "`mean radius` <= `worst radius`")
    contract = dataclasses.replace(inferred, rules=(rule,))
    path = contract.save(tmp_path / "cancer.contract.yaml")
    contract = Contract.load(path)
    assert validate(clean, contract).ok  # the contract fits the good data

    dirty = clean.astype(object).copy()
    injected = {
        10: ("mean radius", -1.0, "must be >= "),
        20: ("mean area", float(clean["mean area"].max()) * 100, "must be <= "),
        30: ("mean texture", None, "missing value"),
        40: ("mean smoothness", "abc", "type:float"),
        50: ("diagnosis", "maligant", "not one of"),
    }
    for row, (column, value, _) in injected.items():
        dirty.at[row, column] = value
    dirty.at[70, "mean radius"] = float(clean.at[70, "worst radius"]) + 1.0
    duplicate = len(dirty)
    dirty = pd.concat([dirty, dirty.iloc[[60]]], ignore_index=True)

    csv = tmp_path / "cancer.csv"
    dirty.to_csv(csv, index=False)
    result = validate(
        load(csv, contract=contract), contract, source=str(csv), quarantine_dir=tmp_path / "interim"
    )

    assert sorted(result.quarantine["_row"]) == sorted([*injected, 70, duplicate])
    assert len(result.valid) + len(result.quarantine) == len(dirty)
    failures = result.failures.set_index("row")
    for row, (column, _, check) in injected.items():
        assert failures.loc[row, "column"] == column
        assert failures.loc[row, "check"].startswith(check), failures.loc[row, "check"]
    assert failures.loc[70, "check"].startswith("rule mean_radius_within_worst")
    assert failures.loc[70, "column"] == "mean radius, worst radius"
    assert failures.loc[duplicate, "check"] == "duplicate key (all columns)"
    assert result.quarantine_path is not None and result.quarantine_path.exists()
    assert result.warnings == ()  # 37 % malignant is above the 20 % bound
