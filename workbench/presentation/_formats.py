"""Numbers, counts, durations and dates as people read them, one way everywhere.

Every function takes what pandas, numpy or the standard library hand over (a NumPy
float, ``pd.NA``, ``pd.NaT``, a ``np.datetime64`` past 2262, a ``timedelta``) and
returns text; a missing value is always :data:`MISSING` (an em dash), never ``None``
or ``nan``. Nothing here imports numpy or pandas.

>>> fmt_number(1234567.6), fmt_number(4618.658057), fmt_number(0.000123)
('1,234,568', '4,619', '0.000123')
>>> fmt_count(1_234_567, "row"), fmt_percent(0.1234), fmt_duration(0.0123)
('1.2 M rows', '12.3%', '12.3 ms')
>>> fmt_date_range("2026-12-06", "2027-12-05")
'6 Dec 2026 – 5 Dec 2027'
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from workbench._exceptions import DataError

__all__ = [
    "FORMATS",
    "MISSING",
    "fmt_bytes",
    "fmt_count",
    "fmt_date",
    "fmt_date_range",
    "fmt_dates",
    "fmt_datetime",
    "fmt_duration",
    "fmt_number",
    "fmt_percent",
    "fmt_value",
    "fmt_when",
    "is_missing",
    "to_datetime",
]

#: What a missing value looks like, everywhere.
MISSING = "—"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_COMPACT = ((1e12, "T"), (1e9, "B"), (1e6, "M"))


def is_missing(value: Any) -> bool:
    """``None``, a float NaN, ``pd.NA``, ``pd.NaT`` or a ``np.datetime64('NaT')``."""
    if value is None:
        return True
    name = type(value).__name__
    if name in ("NAType", "NaTType"):  # pandas' pd.NA and pd.NaT
        return True
    if name in ("datetime64", "timedelta64"):  # numpy's NaT
        return str(value) == "NaT"
    if isinstance(value, float | decimal.Decimal) or (
        isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
    ):
        try:
            return math.isnan(value)
        except (TypeError, ValueError):
            return False
    return False


def is_bool(value: Any) -> bool:
    """A Python or NumPy bool (numbers to count, but not to show as numbers)."""
    return isinstance(value, bool) or (
        type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    )


def _real(value: Any, parameter: str) -> float | int:
    """``value`` as a Python int (exact) or float; a clear error for anything else."""
    if is_bool(value):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real | decimal.Decimal):
        return float(value)
    raise DataError(f"The {parameter!r} to format must be a number. Got {value!r} instead.")


def _round_half_up(x: float) -> int:
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)


def _scientific(x: float, digits: int) -> str:
    mantissa, _, exponent = f"{x:.{max(digits - 1, 0)}e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def fmt_number(value: Any, digits: int = 3, *, unit: str | None = None, sign: bool = False) -> str:
    """A number with ``digits`` significant digits and thousands separators.

    The integer part is never rounded away: ``4618.658057`` is ``"4,619"``, not
    ``"4.62e+03"``. Integers are exact (``1234567`` → ``"1,234,567"``). Trailing zeros
    are dropped (``2.50`` → ``"2.5"``); below one millionth or from a quadrillion up the
    number is written in scientific notation (``"1.23e-7"``).

    Args:
        value: Any real number (int, float, NumPy scalar, Decimal) or a missing value.
        digits: Significant digits of a number below ``10 ** (digits - 1)``.
        unit: Appended after a space (``"ms"``, ``"kWh"``).
        sign: Write ``+`` before a positive number (deltas).

    Returns:
        The text; :data:`MISSING` for a missing value, ``"∞"``/``"-∞"`` for infinities.

    Raises:
        DataError: ``value`` is not a number, or ``digits`` is below 1.

    Example:
        >>> fmt_number(0.1234), fmt_number(-1234.5), fmt_number(3.2, unit="ms", sign=True)
        ('0.123', '-1,235', '+3.2 ms')
    """
    if digits < 1:
        raise DataError(f"The 'digits' parameter must be at least 1. Got {digits!r} instead.")
    if is_missing(value):
        return MISSING
    x = _real(value, "value")
    text: str
    if isinstance(x, int):
        text = f"{x:,}"
    elif math.isinf(x):
        text = "∞" if x > 0 else "-∞"
    elif x == 0:
        text = "0"
    else:
        a = abs(x)
        if a >= 1e15 - 0.5 or a < 1e-6:
            text = _scientific(x, digits)
        elif a >= 10 ** (digits - 1):
            text = f"{_round_half_up(x):,}"
        else:
            decimals = digits - 1 - math.floor(math.log10(a))
            text = f"{x:,.{decimals}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
        if text in ("-0", "0"):
            text = "0"
    if sign and not text.startswith("-") and text != "0":
        text = "+" + text
    return f"{text} {unit}" if unit else text


def fmt_percent(value: Any, digits: int = 3, *, sign: bool = False) -> str:
    """A share (``0.1234``) as a percentage with ``digits`` significant digits
    (``"12.3%"``); ``1`` is ``"100%"``.

    Example:
        >>> fmt_percent(0.5), fmt_percent(0.00001234), fmt_percent(-0.02, sign=True)
        ('50%', '0.00123%', '-2%')
    """
    if is_missing(value):
        return MISSING
    share = float(_real(value, "value"))
    return fmt_number(share * 100, digits, sign=sign) + "%"


def _plural(noun: str, n: float, plural: str | None) -> str:
    if n == 1:
        return noun
    if plural is not None:
        return plural
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def fmt_count(
    value: Any, noun: str | None = None, *, plural: str | None = None, compact: bool = True
) -> str:
    """A count: exact with separators below a million (``"123,456 rows"``), compact
    from there (``"1.2 M rows"``, ``"3.4 B"``).

    Args:
        value: The count (a float count is rounded).
        noun: Singular noun after the number; pluralised unless the count is 1.
        plural: The plural, where adding ``s`` is wrong (``"people"``).
        compact: Write millions and more as ``1.2 M``.

    Example:
        >>> fmt_count(1), fmt_count(1, "row"), fmt_count(2, "query"), fmt_count(12_345_678)
        ('1', '1 row', '2 queries', '12 M')
    """
    if is_missing(value):
        return MISSING
    x = _real(value, "value")
    if isinstance(x, float):
        if math.isinf(x):
            return fmt_number(x)
        x = _round_half_up(x)
    text = f"{x:,}"
    if compact and abs(x) >= 1e6:
        for size, suffix in _COMPACT:
            if abs(x) >= size * 0.9995 or suffix == "M":  # 999,950,000 is "1 B"
                text = f"{fmt_number(x / size, 2)} {suffix}"
                break
    return f"{text} {_plural(noun, x, plural)}" if noun else text


def fmt_bytes(value: Any) -> str:
    """A size in bytes with SI units: ``"512 B"``, ``"1.5 kB"``, ``"3.2 GB"``.

    Example:
        >>> fmt_bytes(512), fmt_bytes(1536), fmt_bytes(3_200_000_000)
        ('512 B', '1.54 kB', '3.2 GB')
    """
    if is_missing(value):
        return MISSING
    x = float(_real(value, "value"))
    for size, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(x) >= size * 0.9995:
            return fmt_number(x / size, unit=unit)
    return fmt_number(int(x), unit="B")


def _seconds(value: Any) -> float:
    if isinstance(value, dt.timedelta):  # pd.Timedelta is one too
        return value.total_seconds()
    if type(value).__name__ == "timedelta64":
        return float(value.astype("timedelta64[ns]").astype("int64")) / 1e9
    return float(_real(value, "duration"))


def fmt_duration(value: Any) -> str:
    """A duration (seconds, ``timedelta``, ``pd.Timedelta``, ``np.timedelta64``) in the
    unit a person would use: ``"420 µs"``, ``"12.3 ms"``, ``"4.2 s"``,
    ``"1 min 15 s"``, ``"1 h 2 min"``, ``"3 d 4 h"``.

    Example:
        >>> fmt_duration(0.00042), fmt_duration(75), fmt_duration(3725), fmt_duration(0)
        ('420 µs', '1 min 15 s', '1 h 2 min', '0 s')
    """
    if is_missing(value):
        return MISSING
    s = _seconds(value)
    if math.isnan(s):
        return MISSING
    if math.isinf(s):
        return fmt_number(s)
    if s < 0:
        return "-" + fmt_duration(-s)
    if s == 0:
        return "0 s"
    if s < 0.9995e-3:  # what rounds to 1,000 µs is 1 ms
        return fmt_number(s * 1e6, unit="µs")
    if s < 0.9995:
        return fmt_number(s * 1e3, unit="ms")
    if s < 59.95:
        return fmt_number(s, unit="s")
    whole = _round_half_up(s)
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    whole = _round_half_up(s / 60)  # hours and minutes: to the minute
    if whole < 1440:
        hours, rest = divmod(whole, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, rest = divmod(_round_half_up(s / 3600), 24)  # days and hours: to the hour
    return f"{days:,} d" + (f" {rest} h" if rest else "")


def to_datetime(value: Any) -> dt.datetime | dt.date | None:
    """A ``datetime`` (or a ``date``) from a ``datetime``, ``date``, ``pd.Timestamp``,
    ``np.datetime64`` (any unit, years 1 to 9999) or an ISO 8601 string; ``None`` for a
    missing value.

    Raises:
        DataError: A string that is not ISO 8601, or a value of another type.
    """
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):  # also pd.Timestamp
        # a Timestamp's nanoseconds go (shown to the second at most), without a warning
        return value.to_pydatetime(warn=False) if hasattr(value, "to_pydatetime") else value
    if isinstance(value, dt.date):
        return value
    if type(value).__name__ == "datetime64":
        unit = str(value.dtype)
        item = value.astype("datetime64[D]" if unit.endswith("[D]") else "datetime64[us]").item()
        if isinstance(item, dt.date):
            return item
        raise DataError(f"The date {value!r} is outside the years 1 to 9999.")
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(
                f"The date {value!r} is not ISO 8601 (such as '2026-12-06' or "
                "'2026-12-06T14:05:00')."
            ) from None
        return parsed.date() if len(text) == 10 else parsed
    raise DataError(
        f"A date must be a datetime, date, pandas Timestamp, numpy datetime64 or an ISO "
        f"string. Got {value!r} ({type(value).__name__}) instead."
    )


def _precision(values: Iterable[dt.datetime | dt.date]) -> str:
    """``day`` when every value is a date or midnight, ``minute`` when none has
    seconds, else ``second``."""
    precision = "day"
    for v in values:
        if not isinstance(v, dt.datetime):
            continue
        if v.second or v.microsecond:
            return "second"
        if v.hour or v.minute:
            precision = "minute"
    return precision


def _write(value: dt.datetime | dt.date, precision: str) -> str:
    text = f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    if precision == "day":
        return text
    if not isinstance(value, dt.datetime):  # a date among timestamps: its midnight
        value = dt.datetime(value.year, value.month, value.day)
    text += f" {value.hour:02d}:{value.minute:02d}"
    if precision == "second":
        text += f":{value.second:02d}"
    zone = value.tzname()
    return f"{text} {zone}" if zone else text


def fmt_date(value: Any) -> str:
    """A date as ``"6 Dec 2026"`` (any time of day dropped).

    Example:
        >>> fmt_date("2026-12-06T14:05:00")
        '6 Dec 2026'
    """
    when = to_datetime(value)
    return MISSING if when is None else _write(when, "day")


def fmt_datetime(value: Any, *, seconds: bool = False) -> str:
    """A timestamp to the minute, ``"6 Dec 2026 14:05"`` (with its zone if it has one);
    to the second with ``seconds``.

    Example:
        >>> fmt_datetime("2026-12-06T14:05:31+00:00")
        '6 Dec 2026 14:05 UTC'
    """
    when = to_datetime(value)
    return MISSING if when is None else _write(when, "second" if seconds else "minute")


def fmt_when(value: Any) -> str:
    """A date where the value is a date or midnight, else a timestamp to the minute (to
    the second only when it has seconds).

    Example:
        >>> fmt_when("2026-12-06T00:00:00"), fmt_when("2026-12-06T14:05:00")
        ('6 Dec 2026', '6 Dec 2026 14:05')
    """
    when = to_datetime(value)
    return MISSING if when is None else _write(when, _precision([when]))


def fmt_dates(values: Iterable[Any]) -> list[str]:
    """Labels for a sequence of timestamps (an axis, a slider), all at one precision:
    dates when all are midnight, else to the minute (the second when one has seconds).

    Example:
        >>> fmt_dates(["2026-12-06", "2026-12-06T12:00"])
        ['6 Dec 2026 00:00', '6 Dec 2026 12:00']
    """
    parsed = [to_datetime(v) for v in values]
    precision = _precision(p for p in parsed if p is not None)
    return [MISSING if p is None else _write(p, precision) for p in parsed]


def fmt_date_range(start: Any, end: Any) -> str:
    """A range of dates or timestamps, never cut: ``"6 Dec 2026 – 5 Dec 2027"``; on one
    day with times, the day once: ``"6 Dec 2026 14:05 – 16:30"``.

    Example:
        >>> fmt_date_range("2026-12-06T14:05", "2026-12-06T16:30")
        '6 Dec 2026 14:05 – 16:30'
    """
    first, last = to_datetime(start), to_datetime(end)
    if first is None and last is None:
        return MISSING
    if first is None or last is None:
        known = first if first is not None else last
        assert known is not None
        side = _write(known, _precision([known]))
        return f"{MISSING} – {side}" if first is None else f"{side} – {MISSING}"
    precision = _precision([first, last])
    a, b = _write(first, precision), _write(last, precision)
    if a == b:
        return a
    if (
        precision != "day"
        and isinstance(first, dt.datetime)
        and isinstance(last, dt.datetime)
        and first.date() == last.date()
        and first.tzinfo == last.tzinfo
    ):
        return f"{a} – {b.split(' ', 3)[3]}"  # the day written once
    return f"{a} – {b}"


#: The formats :func:`fmt_value` and the tables know by name.
FORMATS: dict[str, Callable[[Any], str]] = {
    "number": fmt_number,
    "integer": lambda v: fmt_number(v if is_missing(v) else _round_half_up(float(v))),
    "percent": fmt_percent,
    "count": fmt_count,
    "bytes": fmt_bytes,
    "duration": fmt_duration,
    "date": fmt_date,
    "datetime": fmt_datetime,
    "when": fmt_when,
    "text": lambda v: MISSING if is_missing(v) else str(v),
}


def fmt_value(value: Any, kind: str | Callable[[Any], str] | None = None) -> str:
    """Any cell value as text: by ``kind`` (a name in :data:`FORMATS` or a function),
    else by its type: a missing value is :data:`MISSING`, a bool ``yes``/``no``, an
    integer exact with separators, a float with 3 significant digits, a date or
    timestamp by :func:`fmt_when`, a ``timedelta`` by :func:`fmt_duration`.

    Raises:
        DataError: ``kind`` is not one of :data:`FORMATS`.

    Example:
        >>> fmt_value(None), fmt_value(True), fmt_value(12345), fmt_value(0.5, "percent")
        ('—', 'yes', '12,345', '50%')
    """
    if callable(kind):
        return MISSING if is_missing(value) else kind(value)
    if kind is not None:
        if kind not in FORMATS:
            raise DataError(
                f"The format must be one of {sorted(FORMATS)} or a function. Got {kind!r}."
            )
        return FORMATS[kind](value)
    if is_missing(value):
        return MISSING
    if is_bool(value):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real | decimal.Decimal):
        return fmt_number(value)
    if isinstance(value, dt.date) or type(value).__name__ == "datetime64":
        return fmt_when(value)
    if isinstance(value, dt.timedelta) or type(value).__name__ == "timedelta64":
        return fmt_duration(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes):
        return ", ".join(fmt_value(v) for v in value)
    return str(value)
