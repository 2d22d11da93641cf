from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import ConfigurationError, DataError
from workbench.data import Column, TableSpec, clean, load_csv
from workbench.datasets import ELECTRICITY_SPEC, make_electricity, write_electricity_csv

SPEC = TableSpec(
    (
        Column("day", "date", required=True),
        Column("site", "string", required=True),
        Column("zone", "category", categories=("Nord", "Sud"), aliases={"N": "Nord"}),
        Column("kwh", "number", required=True, min=0),
    ),
    key=("day", "site"),
)


def _frame(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["day", "site", "zone", "kwh"])


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.5", 1.5), ("1,5", 1.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5), (" 7 ", 7.0)],
)
def test_numbers_with_dot_or_comma_decimals(text: str, value: float) -> None:
    result = clean(_frame([["2024-01-01", "a", "Nord", text]]), SPEC)
    assert result.valid["kwh"].tolist() == [value]


@pytest.mark.parametrize("spelling", ["Nord", " nord", "NORD ", "n", "N"])
def test_category_spellings_are_normalised(spelling: str) -> None:
    result = clean(_frame([["2024-01-01", "a", spelling, "1"]]), SPEC)
    assert result.valid["zone"].tolist() == ["Nord"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["2024-01-01", "a", "Nord", "abc"], "kwh: not a number (got 'abc')"),
        (["2024-01-01", "a", "Nord", "inf"], "kwh: not a number (got 'inf')"),
        (["2024-01-01", "a", "Nord", "-3,5"], "kwh: must be >= 0 (got '-3,5')"),
        (["2024-01-01", "a", "Nord", ""], "kwh: required value is missing"),
        (["01/02/2024", "a", "Nord", "1"], "day: not an ISO date (got '01/02/2024')"),
        (["2024-01-01", "", "Nord", "1"], "site: required value is missing"),
        (["2024-01-01", "a", "Est", "1"], "zone: not one of ['Nord', 'Sud'] (got 'Est')"),
    ],
)
def test_each_bad_cell_is_quarantined_with_its_reason(row: list[str], reason: str) -> None:
    result = clean(_frame([row, ["2024-01-02", "a", "Sud", "2"]]), SPEC)
    assert result.quarantine["reasons"].tolist() == [reason]
    assert result.quarantine["source_row"].tolist() == [0]
    assert result.valid["source_row"].tolist() == [1]


def test_every_failing_check_of_a_row_is_listed() -> None:
    result = clean(_frame([["nope", "a", "Est", "-1"]]), SPEC)
    reasons = result.quarantine["reasons"].iloc[0].split("; ")
    assert len(reasons) == 3
    assert result.summary()["rows"].sum() == 3


def test_duplicates_are_judged_on_coerced_values_and_point_at_the_first() -> None:
    frame = _frame(
        [
            ["2024-01-01", "a", "Nord", "1.5"],
            ["2024-01-01", "a", "nord", "1,5"],  # the same reading written differently
            ["2024-01-02", "a", "Nord", "-1"],
            ["2024-01-02", "a", "Nord", "2"],  # first *valid* row for this key
        ]
    )
    result = clean(frame, SPEC)
    assert result.valid["source_row"].tolist() == [0, 3]
    assert result.quarantine["reasons"].tolist() == [
        "duplicate key day/site of source row 0",
        "kwh: must be >= 0 (got '-1')",
    ]


def test_optional_empty_cells_are_nulls_not_errors() -> None:
    result = clean(_frame([["2024-01-01", "a", "", "1"]]), SPEC)
    assert len(result.valid) == 1 and pd.isna(result.valid["zone"].iloc[0])


def test_valid_plus_quarantined_is_the_input_on_the_generated_export() -> None:
    data = make_electricity(
        n_factories=3, start="2024-01-01", end="2024-06-30", change_date="2024-04-01", seed=5
    )
    result = clean(data.raw, ELECTRICITY_SPEC)
    assert len(result.valid) + len(result.quarantine) == len(data.raw) == result.n_input
    assert sorted([*result.valid["source_row"], *result.quarantine["source_row"]]) == list(
        range(len(data.raw))
    )
    # every negative reading and every duplicate was caught, and valid rows are clean
    readings = pd.to_numeric(data.raw["consumption_kwh"].str.replace(",", "."), errors="coerce")
    negative = set(readings[readings < 0].index)
    assert negative <= set(result.quarantine["source_row"])
    assert not result.valid.duplicated(["date", "factory_id"]).any()
    assert (result.valid["consumption_kwh"] >= 0).all()
    assert set(result.valid["region"].dropna()) <= {"Nord", "Centro", "Sud"}
    # and the valid rows equal the truth they came from
    truth = data.truth.set_index(["date", "factory_id"])
    got = result.valid.set_index(["date", "factory_id"])
    expected = truth.loc[got.index, "consumption_kwh"].to_numpy()
    assert (got["consumption_kwh"].to_numpy() == expected).all()


def test_load_csv_writes_the_quarantine_where_a_person_can_see_it(tmp_path: Path) -> None:
    data = make_electricity(
        n_factories=2, start="2024-01-01", end="2024-03-31", change_date="2024-03-01"
    )
    path = write_electricity_csv(data, tmp_path / "raw")
    result = load_csv(path, ELECTRICITY_SPEC, quarantine_dir=tmp_path / "interim")
    written = pd.read_csv(tmp_path / "interim" / "electricity_quarantine.csv")
    assert len(written) == len(result.quarantine) > 0
    assert "reasons" in written.columns and written["reasons"].notna().all()
    assert result.source == str(path)


def test_missing_column_is_named_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("day,site,zone\n2024-01-01,a,Nord\n")
    with pytest.raises(DataError, match=r"x.csv: the column\(s\) \['kwh'\] required"):
        load_csv(path, SPEC)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_csv(tmp_path / "nope.csv", SPEC)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        load_csv(tmp_path / "empty.csv", SPEC)


def test_wrong_encoding_names_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("day,site,zone,kwh\n2024-01-01,Forlì,Nord,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv: not readable as utf-8 .* encoding="):
        load_csv(path, SPEC)
    assert load_csv(path, SPEC, encoding="latin-1").valid["site"].tolist() == ["Forlì"]


def test_spec_mistakes_are_caught_early() -> None:
    with pytest.raises(ConfigurationError, match="needs its categories"):
        Column("zone", "category")
    with pytest.raises(ConfigurationError, match="kind must be one of"):
        Column("x", "float")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="key columns"):
        TableSpec((Column("a"),), key=("b",))
