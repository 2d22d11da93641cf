from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import ConfigurationError
from workbench.data import ColumnContract, Contract, Rule, infer_contract


def _good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "gender": ["male", "female", "female", "male"],
            "pregnant": [False, True, False, False],
            "weight": [70.5, 60.0, None, 82.0],
            "start": pd.to_datetime(["2024-01-01"] * 4),
            "label": ["a", "b", "a", "a"],
        }
    )


def test_infer_contract_proposes_types_ranges_categories_and_keys() -> None:
    c = infer_contract(_good(), key=["id"], target="label", min_class_share=0.2)
    by = {col.name: col for col in c.columns}
    assert (by["id"].dtype, by["id"].unique, by["id"].nullable) == ("int", True, False)
    assert by["gender"].dtype == "category" and by["gender"].categories == ("female", "male")
    assert by["pregnant"].dtype == "bool"
    assert (by["weight"].min, by["weight"].max, by["weight"].nullable) == (60.0, 82.0, True)
    assert by["start"].dtype == "datetime"
    assert c.key == ("id",) and c.target == "label" and c.min_class_share == 0.2


def test_personal_columns_stay_text_and_are_marked() -> None:
    frame = _good().assign(name=["Anna", "Bruno", "Carla", "Dario"])
    c = infer_contract(frame, pii=["name"])
    assert c.column("name").pii and c.column("name").dtype == "str"
    assert c.pii_columns == ["name"]


def test_yaml_round_trip_is_identical(tmp_path: Path) -> None:
    contract = Contract(
        name="people",
        columns=(
            ColumnContract("id", "int", nullable=False, unique=True),
            ColumnContract(
                "gender", "category", categories=("male", "female"), aliases={"M": "male"}
            ),
            ColumnContract("pregnant", "bool"),
            ColumnContract("weight", "float", min=0, max=400, description="kg"),
            ColumnContract("start", "datetime", date_format="%d/%m/%Y"),
            ColumnContract("end", "datetime"),
            ColumnContract("email", "str", pii=True),
        ),
        rules=(
            Rule.implies("male_not_pregnant", "gender == 'male'", "pregnant == False"),
            Rule("end_after_start", "end >= start"),
        ),
        key=("id",),
        min_rows=1,
        max_rows=1000,
        target="gender",
        min_class_share=0.1,
    )
    path = contract.save(tmp_path / "people.contract.yaml")
    text = path.read_text()
    assert "male_not_pregnant" in text and "pii: true" in text  # readable, editable YAML
    assert Contract.load(path) == contract


def test_an_edited_yaml_is_what_loads(tmp_path: Path) -> None:
    path = infer_contract(_good()).save(tmp_path / "c.yaml")
    path.write_text(path.read_text().replace("max: 82.0", "max: 100.0"))
    assert Contract.load(path).column("weight").max == 100.0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ColumnContract("x", "decimal"), "dtype must be one of"),
        (lambda: ColumnContract("x", "category"), "needs its categories"),
        (lambda: ColumnContract("x", "str", min=1), "min/max apply to float and int"),
        (lambda: ColumnContract("x", "float", min=2, max=1), "min 2 is above max 1"),
        (
            lambda: ColumnContract("x", "category", categories=("a",), aliases={"b": "z"}),
            r"aliases map to \['z'\]",
        ),
        (
            lambda: Contract((ColumnContract("a"), ColumnContract("a"))),
            r"names columns \['a'\] twice",
        ),
        (lambda: Contract((ColumnContract("a"),), key=("b",)), r"key \['b'\] is not among"),
        (
            lambda: Contract((ColumnContract("a"),), target="a", min_class_share=2.0),
            r"min_class_share must be in \(0, 1\)",
        ),
    ],
)
def test_contract_mistakes_are_named(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=message):
        build()


def test_bad_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="No contract at"):
        Contract.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        Contract.load(bad)
    bad.write_text("columns: []\ncolour: red\n")
    with pytest.raises(ConfigurationError, match=r"unknown contract field\(s\) \['colour'\]"):
        Contract.load(bad)


def test_rule_columns_ignore_words_inside_strings() -> None:
    rule = Rule.implies("r", "gender == 'male pregnant'", "weight > 0")
    assert rule.columns(["gender", "pregnant", "weight"]) == ["gender", "weight"]
