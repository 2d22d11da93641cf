"""Numbers, counts, durations and dates as people read them (table-driven, with edges)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench import DataError
from workbench.presentation import (
    MISSING,
    fmt_bytes,
    fmt_count,
    fmt_date,
    fmt_date_range,
    fmt_dates,
    fmt_datetime,
    fmt_duration,
    fmt_number,
    fmt_percent,
    fmt_value,
    fmt_when,
    is_missing,
)

NUMBERS = [
    # the examples
    (1234567.6, "1,234,568"),
    (4618.658057, "4,619"),
    (0.000123, "0.000123"),
    (0.1234, "0.123"),
    # zero, signs, rounding up across a power of ten
    (0, "0"),
    (0.0, "0"),
    (-0.0, "0"),
    (-1234.5, "-1,235"),
    (-0.1234, "-0.123"),
    (99.96, "100"),
    (0.99996, "1"),
    (2.5, "2.5"),
    (12.0, "12"),
    (100.5, "101"),  # half away from zero, as people round
    # integers are exact, whatever their size
    (1234567, "1,234,567"),
    (10**20, "100,000,000,000,000,000,000"),
    (np.int64(-42), "-42"),
    (np.float32(2.5), "2.5"),
    (decimal.Decimal("3.14159"), "3.14"),
    (True, "1"),
    # tiny and huge floats
    (1.23e-7, "1.23e-7"),
    (1e-6, "0.000001"),
    (1e20, "1e20"),
    (-2.5e16, "-2.5e16"),
    (999_999_999_999_999.9, "1e15"),
    # missing and infinite
    (None, MISSING),
    (math.nan, MISSING),
    (np.nan, MISSING),
    (pd.NA, MISSING),
    (math.inf, "∞"),
    (-math.inf, "-∞"),
]


@pytest.mark.parametrize(("value", "expected"), NUMBERS)
def test_fmt_number(value: object, expected: str) -> None:
    assert fmt_number(value) == expected


def test_fmt_number_digits_unit_and_sign() -> None:
    assert fmt_number(3.14159, 5) == "3.1416"
    assert fmt_number(3.2, unit="ms", sign=True) == "+3.2 ms"
    assert fmt_number(-3.2, sign=True) == "-3.2"
    assert fmt_number(0, sign=True) == "0"
    assert fmt_number(None, unit="ms") == MISSING


@given(st.floats(min_value=1e-6, max_value=1e15 - 1, allow_nan=False))
def test_fmt_number_reads_back_within_its_precision(x: float) -> None:
    """Against Python's own float parsing: the text means the number, to 3 digits."""
    for value in (x, -x):
        back = float(fmt_number(value).replace(",", ""))
        if abs(value) >= 100:  # the integer part is kept whole
            assert abs(back - value) <= 0.5 + 1e-9 * abs(value)
        else:
            assert abs(back - value) <= 0.5e-2 * abs(value) + 1e-12


@pytest.mark.parametrize(
    "bad", ["12", [1], object(), dt.date(2026, 1, 1)], ids=["str", "list", "object", "date"]
)
def test_fmt_number_names_the_value_it_cannot_format(bad: object) -> None:
    with pytest.raises(DataError, match=r"must be a number\. Got .* instead"):
        fmt_number(bad)
    with pytest.raises(DataError, match=r"'digits'.*at least 1"):
        fmt_number(1.0, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1234, "12.3%"),
        (0.5, "50%"),
        (1, "100%"),
        (0, "0%"),
        (0.00001234, "0.00123%"),
        (12.5, "1,250%"),
        (-0.02, "-2%"),
        (None, MISSING),
        (math.nan, MISSING),
    ],
)
def test_fmt_percent(value: object, expected: str) -> None:
    assert fmt_percent(value) == expected


@pytest.mark.parametrize(
    ("value", "noun", "expected"),
    [
        (0, "row", "0 rows"),
        (1, "row", "1 row"),
        (2, "query", "2 queries"),
        (3, "batch", "3 batches"),
        (999_999, "row", "999,999 rows"),
        (1_234_567, "row", "1.2 M rows"),
        (12_345_678, None, "12 M"),
        (999_950_000, None, "1 B"),
        (3_400_000_000, "row", "3.4 B rows"),
        (-1_500_000, None, "-1.5 M"),
        (12.6, None, "13"),
        (np.int64(5), "day", "5 days"),
        (None, "row", MISSING),
        (math.nan, "row", MISSING),
    ],
)
def test_fmt_count(value: object, noun: str | None, expected: str) -> None:
    assert fmt_count(value, noun) == expected


def test_fmt_count_plural_and_exact() -> None:
    assert fmt_count(2, "person", plural="people") == "2 people"
    assert fmt_count(1_234_567, compact=False) == "1,234,567"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0 B"), (512, "512 B"), (1536, "1.54 kB"), (999_600, "1 MB"), (3.2e9, "3.2 GB")],
)
def test_fmt_bytes(value: float, expected: str) -> None:
    assert fmt_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0 s"),
        (0.00042, "420 µs"),
        (0.0009996, "1 ms"),
        (0.0123, "12.3 ms"),
        (0.9996, "1 s"),
        (4.2, "4.2 s"),
        (59.96, "1 min"),
        (75, "1 min 15 s"),
        (3599.6, "1 h"),
        (3725, "1 h 2 min"),
        (90000, "1 d 1 h"),
        (86400 * 400, "400 d"),
        (-75, "-1 min 15 s"),
        (dt.timedelta(minutes=2), "2 min"),
        (pd.Timedelta("1 days 02:03:04"), "1 d 2 h"),
        (np.timedelta64(1500, "ms"), "1.5 s"),
        (math.inf, "∞"),
        (None, MISSING),
        (math.nan, MISSING),
        (pd.NaT, MISSING),
        (np.timedelta64("NaT"), MISSING),
    ],
)
def test_fmt_duration(value: object, expected: str) -> None:
    assert fmt_duration(value) == expected


DATES = [
    ("2026-12-06", "6 Dec 2026", "6 Dec 2026"),
    ("2026-12-06T14:05:31", "6 Dec 2026", "6 Dec 2026 14:05:31"),
    (dt.datetime(2026, 12, 6, 14, 5), "6 Dec 2026", "6 Dec 2026 14:05"),
    (pd.Timestamp("2026-12-06 00:00"), "6 Dec 2026", "6 Dec 2026"),
    (pd.Timestamp("2026-12-06 14:05", tz="UTC"), "6 Dec 2026", "6 Dec 2026 14:05 UTC"),
    (np.datetime64("2026-12-06T14:05:00.123456789"), "6 Dec 2026", "6 Dec 2026 14:05:00"),
    # an inference log's arrival time: nanoseconds dropped without a warning on the page
    (pd.Timestamp("2026-12-06 14:05:00.123456789"), "6 Dec 2026", "6 Dec 2026 14:05:00"),
    # past pandas' nanosecond range (2262): still written
    (np.datetime64("2300-01-01"), "1 Jan 2300", "1 Jan 2300"),
    (np.datetime64("2300-01-01T10:30", "s"), "1 Jan 2300", "1 Jan 2300 10:30"),
    (pd.Timestamp(dt.datetime(2500, 7, 4, 9, 15)), "4 Jul 2500", "4 Jul 2500 09:15"),
    (dt.datetime(9999, 12, 31, 23, 59), "31 Dec 9999", "31 Dec 9999 23:59"),
    (dt.date(1, 1, 1), "1 Jan 1", "1 Jan 1"),
    (pd.NaT, MISSING, MISSING),
    (np.datetime64("NaT"), MISSING, MISSING),
    (None, MISSING, MISSING),
]


@pytest.mark.parametrize(("value", "date", "when"), DATES)
def test_dates_have_no_iso_t_and_a_sensible_precision(value: object, date: str, when: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would print on the report's page
        assert fmt_date(value) == date
        assert fmt_when(value) == when
    assert not re.search(r"\dT\d", fmt_when(value))


def test_fmt_datetime_is_to_the_minute_and_matches_strftime() -> None:
    stamp = dt.datetime(2026, 3, 9, 7, 4, 59)
    assert fmt_datetime(stamp) == "9 Mar 2026 07:04"
    assert fmt_datetime(stamp, seconds=True) == "9 Mar 2026 07:04:59"
    for month in range(1, 13):  # the reference: C-locale strftime's month names
        day = dt.datetime(2026, month, 1, 12, 30)
        assert fmt_datetime(day) == f"1 {day.strftime('%b')} 2026 12:30"


def test_a_sequence_of_dates_shares_one_precision() -> None:
    assert fmt_dates(pd.date_range("2026-12-06", periods=3, freq="D")) == [
        "6 Dec 2026",
        "7 Dec 2026",
        "8 Dec 2026",
    ]
    assert fmt_dates(pd.date_range("2026-12-06", periods=3, freq="12h")) == [
        "6 Dec 2026 00:00",
        "6 Dec 2026 12:00",
        "7 Dec 2026 00:00",
    ]
    assert fmt_dates([pd.Timestamp("2026-12-06"), pd.NaT]) == ["6 Dec 2026", MISSING]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-12-06", "2027-12-05", "6 Dec 2026 – 5 Dec 2027"),
        (pd.Timestamp("2026-12-06"), pd.Timestamp("2026-12-06"), "6 Dec 2026"),
        ("2026-12-06T14:05", "2026-12-06T16:30", "6 Dec 2026 14:05 – 16:30"),
        ("2026-12-06T14:05", "2026-12-07T00:00", "6 Dec 2026 14:05 – 7 Dec 2026 00:00"),
        (np.datetime64("2262-04-01"), np.datetime64("2300-01-01"), "1 Apr 2262 – 1 Jan 2300"),
        (None, "2026-12-06", f"{MISSING} – 6 Dec 2026"),
        (pd.NaT, None, MISSING),
    ],
)
def test_fmt_date_range(start: object, end: object, expected: str) -> None:
    assert fmt_date_range(start, end) == expected


def test_a_date_that_is_not_a_date_is_named() -> None:
    with pytest.raises(DataError, match=r"'06/12/2026' is not ISO 8601"):
        fmt_date("06/12/2026")
    with pytest.raises(DataError, match=r"Got 1.5 \(float\)"):
        fmt_date(1.5)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (None, None, MISSING),
        (math.nan, None, MISSING),
        (pd.NA, None, MISSING),
        (pd.NaT, None, MISSING),
        (True, None, "yes"),
        (np.bool_(False), None, "no"),
        (12345, None, "12,345"),
        (0.5, None, "0.5"),
        (0.5, "percent", "50%"),
        (1_234_567, "count", "1.2 M"),
        (2.0, "duration", "2 s"),
        (12.7, "integer", "13"),
        (pd.Timestamp("2026-12-06 14:05"), None, "6 Dec 2026 14:05"),
        (dt.timedelta(seconds=90), None, "1 min 30 s"),
        ("None", None, "None"),  # a user's text is the user's text
        (["a", 1, None], None, f"a, 1, {MISSING}"),
        (3, lambda v: f"#{v}", "#3"),
        (None, lambda v: f"#{v}", MISSING),
    ],
)
def test_fmt_value(value: object, kind: object, expected: str) -> None:
    assert fmt_value(value, kind) == expected  # type: ignore[arg-type]


def test_fmt_value_refuses_an_unknown_format() -> None:
    with pytest.raises(DataError, match=r"format must be one of .*'percent'.*Got 'percnt'"):
        fmt_value(1, "percnt")


def test_is_missing() -> None:
    assert all(is_missing(v) for v in (None, math.nan, np.float32("nan"), pd.NA, pd.NaT))
    assert not any(is_missing(v) for v in (0, "", "nan", math.inf, [], np.datetime64("2026")))
