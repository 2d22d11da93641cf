"""Datasets no one here wrote (scikit-learn's breast-cancer, diabetes and wine sets, and
the workbench's own daily electricity record), with faults injected: every injected fault
is caught, and (nearly) nothing else."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from workbench.data import Contract, Rule, infer_contract, load, validate
from workbench.datasets import make_electricity


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


# ---------------------------------------------------------------------------------------
# A later period of real data against a contract inferred from an earlier one: ranges seen
# are observations, so a value a little beyond them is a warning, never a quarantine, while
# every injected type, null, unknown-category and absurd-range fault is still caught.


def _halves(frame: pd.DataFrame, by: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first half to infer from and the second to validate: at random, or in the
    order of the column ``by`` (as a record's later years follow its first ones)."""
    if by is None:
        order = np.random.default_rng(0).permutation(len(frame))
    else:
        order = np.argsort(frame[by].to_numpy(), kind="stable")
    half = len(frame) // 2
    return frame.iloc[order[:half]], frame.iloc[order[half:]]


def _inject(later: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, dict[int, str]]:
    """``later`` with one fault per row (row → the column it is in): for each number
    column a text cell, a ×1000 unit error, a -999 placeholder and (for a column never
    negative) a sign flip; a null in each column that had none; an unknown category;
    dates in 2200 and 1900."""
    dirty = later.reset_index(drop=True).astype(object)
    free = iter(np.random.default_rng(1).permutation(len(dirty)).tolist())
    injected: dict[int, str] = {}

    def put(column: str, value: object) -> None:
        row = next(free)
        dirty.at[row, column] = value
        injected[row] = column

    for spec in contract.columns:
        present = later[spec.name].dropna()
        if spec.dtype in ("float", "int"):
            typical = float(present[present > 0].median())
            put(spec.name, "abc")
            put(spec.name, typical * 1000)
            put(spec.name, -999)
            if float(present.min()) >= 0:
                put(spec.name, -typical)
        if spec.dtype == "category":
            put(spec.name, "no such category")
        if spec.dtype == "datetime":
            put(spec.name, pd.Timestamp("2200-01-01"))
            put(spec.name, pd.Timestamp("1900-01-01"))
        if not spec.nullable:
            put(spec.name, None)
    return dirty, injected


def _diabetes() -> pd.DataFrame:
    frame: pd.DataFrame = load_diabetes(as_frame=True, scaled=False).frame
    return frame


def _wine() -> pd.DataFrame:
    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "class_0", 1: "class_1", 2: "class_2"})
    return frame


def _electricity() -> pd.DataFrame:
    data = make_electricity(
        n_factories=3, start="2021-01-01", end="2024-12-31", change_date="2023-07-01", seed=1
    )
    return data.truth


@pytest.mark.parametrize(
    ("load_frame", "by", "key"),
    [
        # a daily record of 3 factories: two years to infer, the next two (with the
        # regime change that raises volumes by 40 %) to validate
        (_electricity, "date", ("date", "factory_id")),
        (_diabetes, None, ()),
        (_diabetes, "age", ()),  # an older half, as later model years follow earlier ones
        (_wine, None, ()),
    ],
    ids=["electricity-by-date", "diabetes-random", "diabetes-by-age", "wine-random"],
)
def test_a_later_period_keeps_its_legitimate_rows_and_every_injected_fault_is_caught(
    load_frame, by: str | None, key: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    first, later = _halves(load_frame(), by)
    contract = infer_contract(first, key=key)

    clean = validate(later, contract, quarantine_dir=False)
    # before: 304 of 2,193 (electricity), 20 and 215 of 221 (diabetes), 23 of 89 (wine)
    assert len(clean.quarantine) <= 1, clean.summary()
    beyond = clean.soft_failures
    if len(beyond):  # what goes beyond the range seen is said, and kept
        assert set(beyond["row"]) <= set(clean.valid["_row"])
        assert any(str(beyond["column"].iloc[0]) in w for w in clean.warnings)

    dirty, injected = _inject(later, contract)
    result = validate(dirty, contract, quarantine_dir=False)
    caught = set(result.quarantine["_row"])
    assert set(injected) <= caught, sorted(set(injected) - caught)
    assert len(caught - set(injected)) <= 1
    failed = result.failures.groupby("row")["column"].agg(set)
    assert all(injected[row] in failed[row] for row in injected)
