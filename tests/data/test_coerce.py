from __future__ import annotations

import pandas as pd
import pytest

from workbench.data import ColumnContract, Contract, coerce


def _one(dtype: str, values: list[object], **kw: object) -> tuple[list[object], list[object]]:
    contract = Contract((ColumnContract("c", dtype, **kw),))  # type: ignore[arg-type]
    result = coerce(pd.DataFrame({"c": values}), contract)
    return result.frame["c"].tolist(), result.failures["value"].tolist()


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1.5", 1.5),
        ("1,5", 1.5),
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        (" 7 ", 7.0),
        ("1 234,5", 1234.5),
        ("-0,25", -0.25),
        ("1e3", 1000.0),
        ("1'234.5", 1234.5),
    ],
)
def test_numbers_with_comma_decimals_and_thousands_separators(text: str, number: float) -> None:
    values, failures = _one("float", [text])
    assert values == [number] and failures == []


def test_cells_that_do_not_convert_are_recorded_not_silently_nan() -> None:
    contract = Contract((ColumnContract("kwh", "float"), ColumnContract("n", "int")))
    frame = pd.DataFrame({"kwh": ["1", "abc", "", "inf"], "n": ["1", "2.5", "x", "3,0"]})
    result = coerce(frame, contract)
    assert result.failures.values.tolist() == [
        [1, "kwh", "type:float", "abc"],
        [1, "n", "type:int", "2.5"],
        [2, "n", "type:int", "x"],
    ]
    assert pd.isna(result.frame["kwh"].iloc[2])  # empty is missing, not a failure
    # inf is a number (the range checks refuse it, see test_validate), not a type failure
    assert result.frame["kwh"].iloc[3] == float("inf")
    assert result.frame["n"].dtype == "Int64" and result.frame["n"].iloc[3] == 3


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("No", False),
        ("1", True),
        ("0", False),
        ("TRUE", True),
        ("f", False),
        ("sì", True),
        ("1.0", True),
    ],
)
def test_booleans_as_words_and_digits(text: str, value: bool) -> None:
    values, failures = _one("bool", [text])
    assert values == [value] and failures == []


def test_an_unknown_boolean_is_a_failure() -> None:
    values, failures = _one("bool", ["maybe", ""])
    assert failures == ["maybe"] and pd.isna(values[0]) and pd.isna(values[1])


def test_dates_iso_and_with_a_declared_format() -> None:
    values, failures = _one("datetime", ["2024-03-01", "2024-03-01T10:00:00", "01/03/2024"])
    assert failures == ["01/03/2024"] and values[0] == pd.Timestamp("2024-03-01")
    values, failures = _one("datetime", ["01/03/2024", "31/02/2024"], date_format="%d/%m/%Y")
    assert values[0] == pd.Timestamp("2024-03-01") and failures == ["31/02/2024"]


def test_categories_are_normalised_and_unknown_ones_kept_for_the_check() -> None:
    values, failures = _one(
        "category",
        [" Male", "M", "male", "FEMALE", "alien", ""],
        categories=("male", "female"),
        aliases={"M": "male", "F": "female"},
    )
    assert values[:5] == ["male", "male", "male", "female", "alien"]
    assert pd.isna(values[5]) and failures == []


def test_typed_input_passes_through() -> None:
    contract = Contract((ColumnContract("x", "float"), ColumnContract("b", "bool")))
    frame = pd.DataFrame({"x": [1.0, None], "b": [True, False]})
    result = coerce(frame, contract)
    assert result.failures.empty
    assert result.frame["x"].tolist()[0] == 1.0 and result.frame["b"].tolist() == [True, False]
