from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import DataError
from workbench.data import ColumnContract, Contract, Rule, validate

PEOPLE = Contract(
    name="people",
    columns=(
        ColumnContract("id", "int", nullable=False, unique=True),
        ColumnContract(
            "gender",
            "category",
            categories=("male", "female"),
            aliases={"M": "male", "F": "female"},
        ),
        ColumnContract("pregnant", "bool"),
        ColumnContract("weight", "float", min=1, max=400),
        ColumnContract("start", "datetime"),
        ColumnContract("end", "datetime"),
        ColumnContract("email", "str", pii=True),
    ),
    rules=(
        Rule.implies("male_not_pregnant", "gender == 'male'", "pregnant == False"),
        Rule("end_after_start", "end >= start"),
    ),
    no_duplicate_rows=True,
)


def _row(**changes: str) -> dict[str, str]:
    row = {
        "id": "1",
        "gender": "female",
        "pregnant": "no",
        "weight": "60,5",
        "start": "2024-01-01",
        "end": "2024-02-01",
        "email": "anna@example.org",
    }
    return {**row, **changes}


def _check(rows: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(rows)
    result = validate(frame, PEOPLE)
    assert len(result.valid) + len(result.quarantine) == len(frame)
    return result


@pytest.mark.parametrize(
    ("change", "column", "check"),
    [
        ({"id": ""}, "id", "missing value"),
        ({"id": "x"}, "id", "type:int"),
        ({"weight": "0"}, "weight", "must be >= 1"),
        ({"weight": "1.000,5"}, "weight", "must be <= 400"),
        ({"weight": "heavy"}, "weight", "type:float"),
        ({"gender": "other"}, "gender", "not one of ['female', 'male']"),
        ({"pregnant": "perhaps"}, "pregnant", "type:bool"),
        ({"start": "yesterday"}, "start", "type:datetime"),
        (
            {"gender": "M", "pregnant": "yes"},
            "gender, pregnant",
            "rule male_not_pregnant: ~(gender == 'male') | (pregnant == False)",
        ),
        ({"end": "2023-12-31"}, "start, end", "rule end_after_start: end >= start"),
    ],
)
def test_each_check_kind_quarantines_the_row_with_row_column_check_value(
    change: dict[str, str], column: str, check: str
) -> None:
    result = _check([_row(id="0"), _row(**change)])
    assert result.quarantine["_row"].tolist() == [1]
    failure = result.failures.iloc[0]
    assert (failure["row"], failure["column"], failure["check"]) == (1, column, check)
    assert result.valid["_row"].tolist() == [0]


def test_unique_column_and_duplicate_rows_keep_the_first() -> None:
    result = _check([_row(id="1"), _row(id="2"), _row(id="1", weight="70"), _row(id="2")])
    assert result.valid["_row"].tolist() == [0, 1]
    checks = set(result.failures["check"])
    assert "duplicate value" in checks  # id repeated
    assert "duplicate key (all columns)" in checks  # row 3 repeats row 1 entirely


def test_key_duplicates() -> None:
    contract = Contract(
        (ColumnContract("day", "datetime"), ColumnContract("site"), ColumnContract("kwh", "float")),
        key=("day", "site"),
    )
    frame = pd.DataFrame(
        {"day": ["2024-01-01"] * 3, "site": ["a", "a", "b"], "kwh": ["1", "2", "3"]}
    )
    result = validate(frame, contract)
    assert result.quarantine["_row"].tolist() == [1]
    assert result.failures["check"].tolist() == ["duplicate key (day, site)"]
    assert result.failures["value"].tolist() == ["day=2024-01-01 00:00:00, site=a"]


def test_every_failing_check_of_a_row_is_listed() -> None:
    result = _check([_row(id="", weight="-1", gender="alien")])
    reasons = result.quarantine["_reasons"].iloc[0].split("; ")
    assert len(reasons) == 3
    assert result.summary()["rows"].tolist() == [1, 1, 1]


def test_rules_pass_rows_with_missing_values() -> None:
    result = _check([_row(gender="M", pregnant=""), _row(id="2", end="")])
    assert result.ok and len(result.valid) == 2


def test_valid_rows_are_typed() -> None:
    result = _check([_row(gender=" Female ")])
    valid = result.valid
    assert valid["weight"].tolist() == [60.5]
    assert valid["gender"].dtype == pd.CategoricalDtype(["male", "female"])
    assert valid["gender"].tolist() == ["female"]
    assert valid["pregnant"].tolist() == [False]
    assert valid["start"].iloc[0] == pd.Timestamp("2024-01-01")


def test_personal_values_are_masked_in_reasons_failures_and_quarantine(tmp_path: Path) -> None:
    contract = Contract(
        (ColumnContract("email", "str", pii=True, unique=True), ColumnContract("n", "int")),
        no_duplicate_rows=False,
    )
    frame = pd.DataFrame({"email": ["anna@example.org", "anna@example.org"], "n": ["1", "x"]})
    result = validate(frame, contract, quarantine_dir=tmp_path)
    text = result.quarantine.to_csv() + result.failures.to_csv()
    assert "anna@example.org" not in text and "•••" in text
    assert "anna@example.org" not in (tmp_path / "data_quarantine.csv").read_text()
    assert "anna@example.org" not in (tmp_path / "data_failures.csv").read_text()


def test_quarantine_goes_to_the_projects_data_interim_by_default(tmp_path: Path) -> None:
    # the autouse fixture points the project at tmp_path
    result = validate(pd.DataFrame([_row(weight="-5")]), PEOPLE, source="people.csv")
    assert result.quarantine_path == tmp_path / "data" / "interim" / "people_quarantine.csv"
    assert result.quarantine_path.exists()
    kept = validate(pd.DataFrame([_row(weight="-5")]), PEOPLE, quarantine_dir=False)
    assert kept.quarantine_path is None and len(kept.quarantine) == 1


def test_row_count_bounds_are_dataset_errors() -> None:
    contract = Contract((ColumnContract("x", "float"),), min_rows=3, max_rows=10)
    result = validate(pd.DataFrame({"x": ["1", "2"]}), contract, source="tiny.csv")
    assert not result.ok and result.quarantine.empty
    assert result.errors == ("tiny.csv: 2 valid rows (of 2); the contract needs at least 3.",)
    many = validate(pd.DataFrame({"x": [str(i) for i in range(11)]}), contract)
    assert "at most 10" in many.errors[0]


def test_class_imbalance_warns(caplog: pytest.LogCaptureFixture) -> None:
    contract = Contract(
        (ColumnContract("y", "category", categories=("ok", "fraud")),),
        target="y",
        min_class_share=0.05,
        no_duplicate_rows=False,
    )
    frame = pd.DataFrame({"y": ["ok"] * 99 + ["fraud"]})
    result = validate(frame, contract)
    assert result.ok  # a warning, not an error
    assert result.warnings and "'fraud' is 1.0%" in result.warnings[0]
    assert "class imbalance" in caplog.text
    balanced = validate(pd.DataFrame({"y": ["ok", "fraud"] * 50}), contract)
    assert balanced.warnings == ()


def test_quarantine_is_written_where_a_person_can_see_it(tmp_path: Path) -> None:
    result = validate(
        pd.DataFrame([_row(), _row(id="2", weight="-5")]),
        PEOPLE,
        source="exports/people.csv",
        quarantine_dir=tmp_path,
    )
    assert result.quarantine_path == tmp_path / "people_quarantine.csv"
    written = pd.read_csv(result.quarantine_path)
    assert written["_row"].tolist() == [1] and "must be >= 1" in written["_reasons"].iloc[0]
    failures = pd.read_csv(tmp_path / "people_failures.csv")
    assert failures.columns.tolist() == ["row", "column", "check", "value"]


def test_absent_and_misspelled_columns_are_named() -> None:
    frame = pd.DataFrame([_row()]).rename(columns={"weight": "Weight "})
    with pytest.raises(DataError, match=r"needs column\(s\) \['weight'\].*'Weight ' → 'weight'"):
        validate(frame, PEOPLE, source="people.csv")


def test_strict_contract_refuses_extra_columns() -> None:
    contract = Contract((ColumnContract("x"),), strict=True)
    with pytest.raises(DataError, match=r"column\(s\) \['y'\] are not in the contract"):
        validate(pd.DataFrame({"x": ["1"], "y": ["2"]}), contract)


def _reasons(contract: Contract, frame: pd.DataFrame) -> list[str]:
    return validate(frame, contract, quarantine_dir=False).quarantine["_reasons"].tolist()


def test_a_reason_shows_every_digit_of_its_bound() -> None:
    # before: 'x: must be <= 1.23457e+06 (1234567.6)', which reads as if 1234567.6 passed
    contract = Contract((ColumnContract("x", "float", min=0.000012345678, max=1234567.5),))
    frame = pd.DataFrame({"x": [1234567.6, 0.0000123, 1234567.5]})
    assert _reasons(contract, frame) == [
        "x: must be <= 1234567.5 (1234567.6)",
        "x: must be >= 1.2345678e-05 (1.23e-05)",
    ]


@pytest.mark.parametrize("typed", [False, True], ids=["text", "numbers"])
def test_infinity_is_out_of_range_not_a_type_failure(typed: bool) -> None:
    contract = Contract(
        (
            ColumnContract("bounded", "float", min=0, max=100),
            ColumnContract("free", "float"),
            ColumnContract("count", "int", max=10),
        )
    )
    cells = {
        "bounded": ["inf", "5", "-inf"],
        "free": ["1", "-inf", "inf"],
        "count": ["inf", "1", "2"],
    }
    frame = pd.DataFrame(cells)
    if typed:
        frame = frame.astype(float)
    # before: 'bounded: type:float (inf)' and the like
    assert _reasons(contract, frame) == [
        "bounded: must be <= 100 (inf); count: must be <= 10 (inf)",
        "free: must be finite (-inf)",
        "bounded: must be >= 0 (-inf); free: must be finite (inf)",
    ]


def test_dates_are_bounded_like_numbers() -> None:
    contract = Contract(
        (ColumnContract("day", "datetime", min="2000-01-01", max=pd.Timestamp("2030-12-31")),)
    )
    assert contract.column("day").max == "2030-12-31"  # held as ISO text, as in the YAML
    frame = pd.DataFrame({"day": ["2024-05-01", "2200-01-01", "1999-12-31", "2030-12-31"]})
    result = validate(frame, contract, quarantine_dir=False)
    # before: ConfigurationError ('min/max apply to float and int columns only')
    assert result.quarantine["_reasons"].tolist() == [
        "day: must be <= 2030-12-31 (2200-01-01 00:00:00)",
        "day: must be >= 2000-01-01 (1999-12-31 00:00:00)",
    ]
    assert result.valid["_row"].tolist() == [0, 3]


def test_date_bounds_hold_for_dates_with_a_time_zone() -> None:
    contract = Contract((ColumnContract("at", "datetime", max="2030-01-01T00:00:00+00:00"),))
    frame = pd.DataFrame({"at": pd.to_datetime(["2029-12-31 23:00", "2030-01-01 02:00"], utc=True)})
    frame["at"] = frame["at"].dt.tz_convert("Europe/Rome")  # 00:00 and 03:00 in Rome
    assert _reasons(contract, frame) == [
        "at: must be <= 2030-01-01T00:00:00+00:00 (2030-01-01 03:00:00+01:00)"
    ]


def test_values_beyond_a_warning_bound_stay_valid_and_are_reported() -> None:
    contract = Contract((ColumnContract("mm", "float", min=0, max=200, warn_max=50),))
    result = validate(pd.DataFrame({"mm": [10.0, 60.5, 300.0, 70.0]}), contract)
    assert result.valid["_row"].tolist() == [0, 1, 3]
    assert result.quarantine["_reasons"].tolist() == ["mm: must be <= 200 (300.0)"]
    assert result.soft_failures.values.tolist() == [
        [1, "mm", "above warn_max 50", 60.5],
        [3, "mm", "above warn_max 50", 70.0],
    ]
    assert result.warnings == (
        "<DataFrame>: mm is above warn_max 50 in 2 valid row(s) (up to 70): beyond the "
        "contract's expected range, kept as valid; rows above 200 are quarantined.",
    )
    assert not result.ok  # the quarantined row; warnings alone never fail a validation
    assert validate(pd.DataFrame({"mm": [60.5]}), contract).ok


def test_check_rows_finds_what_validate_finds_without_splitting_rows() -> None:
    """The monitoring dashboard counts problems with ``check_rows``: it must be the same
    set of failures ``validate`` reports (aliases, types, ranges, categories, missing)."""
    from workbench.data import check_rows

    contract = Contract(
        (
            ColumnContract("kwh", "float", nullable=False, min=0),
            ColumnContract("site", "category", categories=("a", "b"), aliases={"A": "a"}),
        )
    )
    frame = pd.DataFrame({"kwh": ["1,5", "-2", "", "x", "3"], "site": ["A", "b", "c", "a", None]})
    expected = validate(frame, contract, quarantine_dir=False).failures
    found = check_rows(frame, contract)
    pd.testing.assert_frame_equal(found, expected)
    # the alias "A" is category "a" (row 0 passes); a missing site is allowed
    assert found[["row", "column"]].values.tolist() == [
        [1, "kwh"],
        [2, "kwh"],
        [2, "site"],
        [3, "kwh"],
    ]
