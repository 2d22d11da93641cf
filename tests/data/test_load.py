from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from workbench import DataError
from workbench.data import ColumnContract, Contract, load, validate
from workbench.datasets import ELECTRICITY_CONTRACT, make_electricity, write_electricity_csv

CONTRACT = Contract(
    (
        ColumnContract("day", "datetime", nullable=False),
        ColumnContract("site", nullable=False),
        ColumnContract("kwh", "float", min=0),
    )
)


def _csv(tmp_path: Path, text: str, name: str = "x.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_cells_are_read_as_text_for_validation(tmp_path: Path) -> None:
    path = _csv(tmp_path, 'day,site,kwh\n2024-01-01,a,"1,5"\n2024-01-02,b,007\n')
    frame = load(path, contract=CONTRACT)
    assert frame["kwh"].tolist() == ["1,5", "007"]
    assert validate(frame, CONTRACT).valid["kwh"].tolist() == [1.5, 7.0]


def test_parquet_sql_and_dataframe_sources(tmp_path: Path) -> None:
    typed = pd.DataFrame({"day": pd.to_datetime(["2024-01-01"]), "site": ["a"], "kwh": [2.0]})
    typed.to_parquet(tmp_path / "x.parquet")
    assert load(tmp_path / "x.parquet", contract=CONTRACT).equals(typed)
    assert load(typed, contract=CONTRACT) is typed
    db = tmp_path / "x.db"
    with sqlite3.connect(db) as connection:
        typed.assign(day="2024-01-01").to_sql("readings", connection, index=False)
    frame = load(f"sqlite:///{db}", query="SELECT day, site, kwh FROM readings", contract=CONTRACT)
    assert frame.to_dict("records") == [{"day": "2024-01-01", "site": "a", "kwh": 2.0}]
    assert validate(frame, CONTRACT).ok


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load(tmp_path / "nope.csv")


@pytest.mark.parametrize("text", ["", "\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError, match=r"x\.csv: the file (is empty|has no header)"):
        load(_csv(tmp_path, text))


def test_wrong_delimiter_is_named_with_the_fix(tmp_path: Path) -> None:
    path = _csv(tmp_path, "day;site;kwh\n2024-01-01;a;1,5\n2024-01-02;b;2\n")
    with pytest.raises(DataError, match=r"x\.csv: read as a single column .* Pass delimiter=';'"):
        load(path, contract=CONTRACT)
    assert load(path, contract=CONTRACT, delimiter=";")["kwh"].tolist() == ["1,5", "2"]


def test_wrong_encoding_is_named_with_the_fix(tmp_path: Path) -> None:
    path = _csv(tmp_path, "day,site,kwh\n2024-01-01,Forlì,1\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"x\.csv: not readable as utf-8 .* encoding="):
        load(path, contract=CONTRACT)
    assert load(path, contract=CONTRACT, encoding="latin-1")["site"].tolist() == ["Forlì"]


def test_header_mismatch_and_absent_column_name_the_file(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Day,site,kwh\n2024-01-01,a,1\n")
    with pytest.raises(DataError, match=r"x\.csv: the contract needs column\(s\) \['day'\].*'Day'"):
        load(path, contract=CONTRACT)
    path = _csv(tmp_path, "day,site\n2024-01-01,a\n", name="y.csv")
    with pytest.raises(DataError, match=r"y\.csv: the contract needs column\(s\) \['kwh'\]"):
        load(path, contract=CONTRACT)


def test_unknown_format_and_bad_query(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_text("?")
    with pytest.raises(DataError, match=r"unknown format '\.xlsx'"):
        load(tmp_path / "x.xlsx")
    db = tmp_path / "x.db"
    sqlite3.connect(db).close()
    with pytest.raises(DataError, match=r"the query 'SELECT \* FROM nope' failed"):
        load(f"sqlite:///{db}", query="SELECT * FROM nope")
    with pytest.raises(DataError, match="needs a query"):
        load(f"sqlite:///{db}")


def test_the_generated_export_loses_nothing_and_catches_every_fault(tmp_path: Path) -> None:
    data = make_electricity(
        n_factories=3, start="2024-01-01", end="2024-06-30", change_date="2024-04-01", seed=5
    )
    path = write_electricity_csv(data, tmp_path)
    result = validate(
        load(path, contract=ELECTRICITY_CONTRACT), ELECTRICITY_CONTRACT, source=str(path)
    )
    assert len(result.valid) + len(result.quarantine) == len(data.raw) == result.n_input
    rows = sorted([*result.valid["_row"], *result.quarantine["_row"]])
    assert rows == list(range(len(data.raw)))
    readings = pd.to_numeric(data.raw["consumption_kwh"].str.replace(",", "."), errors="coerce")
    assert set(readings[readings < 0].index) <= set(result.quarantine["_row"])
    assert set(readings[readings.isna()].index) <= set(result.quarantine["_row"])
    assert not result.valid.duplicated(["date", "factory_id"]).any()
    assert set(result.valid["region"].dropna()) <= {"Nord", "Centro", "Sud"}
    truth = data.truth.set_index(["date", "factory_id"])["consumption_kwh"]
    got = result.valid.set_index(["date", "factory_id"])["consumption_kwh"]
    assert (got.to_numpy() == truth.loc[got.index].to_numpy()).all()
