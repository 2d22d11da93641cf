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
    # the range seen (60 .. 82) warns; widened by its width (22) on each side, it quarantines
    assert (by["weight"].warn_min, by["weight"].warn_max, by["weight"].nullable) == (60, 82, True)
    assert (by["weight"].min, by["weight"].max, by["weight"].bounds) == (38, 104, "inferred")
    assert by["id"].min is None and by["id"].max is None  # a key is an identifier, not a range
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
    path.write_text(path.read_text().replace("\n  max: 104.0", "\n  max: 100.0"))
    assert Contract.load(path).column("weight").max == 100.0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ColumnContract("x", "decimal"), "dtype must be one of"),
        (lambda: ColumnContract("x", "category"), "needs its categories"),
        (
            lambda: ColumnContract("x", "str", min=1),
            r"min/max \(and warn_min/warn_max\) apply to float, int and datetime",
        ),
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


def test_an_inferred_range_warns_beyond_what_was_seen_and_quarantines_beyond_its_margin() -> None:
    from workbench.data import validate

    reference = pd.DataFrame(
        {"rain_mm": [0.0, 3.5, 12.0, 40.0], "day": pd.date_range("2012-01-01", periods=4)}
    )
    contract = infer_contract(reference)
    later = pd.DataFrame(
        {
            "rain_mm": [41.5, 12.0, 500.0, -3.5, 7.0],  # wetter than ever; ×10; sign flip
            "day": pd.to_datetime(
                ["2014-02-01", "2200-01-01", "2015-01-01", "2015-06-01", "1900-01-01"]
            ),
        }
    )
    result = validate(later, contract, quarantine_dir=False)
    # before: the wetter day was quarantined (must be <= 40) and the year 2200 passed
    assert result.valid["_row"].tolist() == [0]
    assert result.quarantine["_reasons"].tolist() == [
        "day: must be <= 2022-01-04 (inferred bound) (2200-01-01 00:00:00)",
        "rain_mm: must be <= 80 (inferred bound) (500.0)",
        "rain_mm: must be >= 0 (inferred bound) (-3.5)",
        "day: must be >= 2001-12-31 (inferred bound) (1900-01-01 00:00:00)",
    ]
    assert result.soft_failures[["row", "check"]].values.tolist() == [[0, "above warn_max 40"]]
    assert (
        len(result.warnings) == 1
        and "range seen when the contract was inferred" in (result.warnings[0])
    )


def test_date_bounds_round_trip_through_yaml_and_load_from_plain_yaml_dates(
    tmp_path: Path,
) -> None:
    contract = Contract(
        (ColumnContract("day", "datetime", min="2000-01-01", max="2030-12-31T12:00:00"),)
    )
    path = contract.save(tmp_path / "c.yaml")
    assert Contract.load(path) == contract
    path.write_text(path.read_text().replace("'2000-01-01'", "2000-01-01"))  # a YAML date
    assert Contract.load(path).column("day").min == "2000-01-01"
    with pytest.raises(ConfigurationError, match=r"'day'.*max must be a date or time.*'soon'"):
        ColumnContract("day", "datetime", max="soon")
    with pytest.raises(ConfigurationError, match="min 2030-01-01 is above max 2000-01-01"):
        ColumnContract("day", "datetime", min="2030-01-01", max="2000-01-01")


def test_contract_files_written_before_inferred_bounds_load_and_their_bounds_stay_hard(
    tmp_path: Path,
) -> None:
    from workbench.data import validate

    path = tmp_path / "old.contract.yaml"
    path.write_text(  # as the workbench wrote them before warn_min/warn_max/bounds
        "columns:\n- name: kwh\n  dtype: float\n  nullable: false\n  min: 0\n  max: 82.0\n"
        "- name: day\n  dtype: datetime\nname: old\n"
    )
    contract = Contract.load(path)
    assert contract.column("kwh").bounds == "declared"
    result = validate(pd.DataFrame({"kwh": [82.5, 10.0], "day": ["2024-01-01"] * 2}), contract)
    assert result.quarantine["_reasons"].tolist() == ["kwh: must be <= 82 (82.5)"]
    assert result.warnings == ()
