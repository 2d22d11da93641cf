"""Write the bad-input corpus: malformed data files and scoring-request bodies.

Rerun after changing a case (``python tests/corpus/make_corpus.py``); the output is
deterministic, and the written files are the committed corpus. What each file must
produce is checked in ``tests/test_corpus.py``; ``README.md`` (written here too) lists
the files. Cases too large to commit (a 1 MB cell, 100 000 levels of JSON nesting, a
body over the server's limit) are made at test time.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import random
from collections.abc import Callable
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PAYLOADS = HERE / "payloads"

#: The header of the demo's raw electricity export (``ELECTRICITY_CONTRACT``).
HEADER = "date,factory_id,region,temperature_c,production_volume,consumption_kwh"
GOOD_ROWS = [
    "2024-01-01,F01,Nord,12.5,100,2000",
    "2024-01-02,F01,Sud,13.0,110,2100",
    "2024-01-03,F02,Centro,-1.5,90,1800",
    "2024-01-04,F02,N,4.0,0,1750.5",
]


def _csv(*rows: str, header: str = HEADER, end: str = "\n") -> bytes:
    return (end.join([header, *rows]) + end).encode("utf-8")


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _typed_frame(**columns: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "date": ["2024-01-01", "2024-01-02", "2024-01-03"],
        "factory_id": ["F01", "F01", "F02"],
        "region": ["Nord", "Sud", "Centro"],
        "temperature_c": [12.5, 13.0, -1.5],
        "production_volume": [100.0, 110.0, 90.0],
        "consumption_kwh": [2000.0, 2100.0, 1800.0],
    }
    return pd.DataFrame({**base, **columns})


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)  # mtime 0: the same bytes on every run


#: name → (what it is, how to make its bytes)
DATA_FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "truncated_mid_row.csv": (
        "the last row cut after its fourth field, no final newline",
        lambda: _csv(*GOOD_ROWS)[:-1] + b"\n2024-01-05,F03,Sud,1",
    ),
    "truncated_mid_quote.csv": (
        "the file ends inside a quoted cell",
        lambda: _csv(*GOOD_ROWS) + b'2024-01-05,"F0',
    ),
    "unterminated_quote.csv": (
        "a quote opened in the second row is never closed",
        lambda: _csv(GOOD_ROWS[0], '2024-01-02,"F01,Sud,13,110,2100', *GOOD_ROWS[2:]),
    ),
    "latin1.csv": (
        "Latin-1 text (é) read as UTF-8, no encoding declared",
        lambda: (f"{HEADER}\n{GOOD_ROWS[0]}\n2024-01-02,Fabbrica Tré,Sud,13,110,2100\n").encode(
            "latin-1"
        ),
    ),
    "utf16.csv": (
        "UTF-16 with its byte-order mark, read as UTF-8",
        lambda: "\n".join([HEADER, *GOOD_ROWS, ""]).encode("utf-16"),
    ),
    "utf8_bom.csv": (
        "UTF-8 with a byte-order mark (Excel): must load, header intact",
        lambda: codecs.BOM_UTF8 + _csv(*GOOD_ROWS),
    ),
    "binary_garbage.csv": (
        "4 KB of random bytes named .csv",
        lambda: random.Random(12).randbytes(4096),
    ),
    "zero_bytes.csv": ("an empty file", lambda: b""),
    "whitespace_only.csv": ("spaces, tabs and blank lines only", lambda: b"   \n\t\n  \n\n"),
    "header_only.csv": ("a header and no rows", lambda: _csv()),
    "mixed_types_numeric.csv": (
        "text, units, booleans and an empty cell in the numeric consumption_kwh",
        lambda: _csv(
            "2024-01-01,F01,Nord,12.5,100,2000",
            "2024-01-02,F01,Nord,12.5,100,abc",
            "2024-01-03,F01,Nord,12.5,100,12 kWh",
            "2024-01-04,F01,Nord,12.5,100,1.5e3",
            "2024-01-05,F01,Nord,12.5,100,",
            "2024-01-06,F01,Nord,12.5,100,true",
            '2024-01-07,F01,Nord,12.5,100,"1.234,5"',
        ),
    ),
    "nan_inf_strings.csv": (
        "NaN, inf, -inf, Infinity and 1e999 written in numeric columns",
        lambda: _csv(
            GOOD_ROWS[0],
            "2024-01-02,F01,Nord,NaN,100,2000",
            "2024-01-03,F01,Nord,12.5,inf,2000",
            "2024-01-04,F01,Nord,12.5,100,-inf",
            "2024-01-05,F01,Nord,Infinity,100,2000",
            "2024-01-06,F01,Nord,12.5,100,1e999",
            "2024-01-07,F01,Nord,12.5,nan,2000",
        ),
    ),
    "wrong_column_names.csv": (
        "the header spelt differently (case, spaces)",
        lambda: _csv(
            *GOOD_ROWS,
            header="Date,Factory ID,region,temperature_c,production_volume,consumption_kwh",
        ),
    ),
    "missing_column.csv": (
        "no consumption_kwh column",
        lambda: _csv(*(r.rsplit(",", 1)[0] for r in GOOD_ROWS), header=HEADER.rsplit(",", 1)[0]),
    ),
    "duplicated_column.csv": (
        "consumption_kwh named twice in the header",
        lambda: _csv(*(f"{r},5" for r in GOOD_ROWS), header=HEADER + ",consumption_kwh"),
    ),
    "header_whitespace.csv": (
        "header names padded with spaces",
        lambda: _csv(*GOOD_ROWS, header=" date , factory_id ," + HEADER.split(",", 2)[2]),
    ),
    "empty_header_cell.csv": (
        "the factory_id header cell is empty",
        lambda: _csv(*GOOD_ROWS, header=HEADER.replace("factory_id", "")),
    ),
    "ragged_rows.csv": (
        "the third row has eight fields, the header six",
        lambda: _csv(GOOD_ROWS[0], GOOD_ROWS[1], "2024-01-03,F02,Centro,1,2,3,4,5", GOOD_ROWS[3]),
    ),
    "rows_longer_than_header.csv": (
        "every row has two values past the header (pandas used to shift them silently)",
        lambda: _csv(*(f"{r},7,8" for r in GOOD_ROWS)),
    ),
    "trailing_delimiters.csv": (
        "every row ends with a comma: an empty cell past the header, must load unshifted",
        lambda: _csv(*(f"{r}," for r in GOOD_ROWS)),
    ),
    "short_rows.csv": (
        "two rows with fewer fields than the header (missing cells)",
        lambda: _csv(GOOD_ROWS[0], "2024-01-02,F01,Sud", GOOD_ROWS[2], "2024-01-04,F02,N,4.0,0"),
    ),
    "wrong_delimiter.csv": (
        "semicolons with decimal commas, read with the default comma",
        lambda: _csv(
            "2024-01-01;F01;Nord;12,5;100;2000",
            "2024-01-02;F01;Sud;13;110;2100",
            header=HEADER.replace(",", ";"),
        ),
    ),
    "tab_separated.tsv": (
        "a .tsv file: must load with a tab by default",
        lambda: _csv(*(r.replace(",", "\t") for r in GOOD_ROWS), header=HEADER.replace(",", "\t")),
    ),
    "dates_many_formats.csv": (
        "dates in ISO, European, American, written-out and impossible forms",
        lambda: _csv(
            *(
                f"{d},F{i:02d},Nord,1,2,3"
                for i, d in enumerate(
                    [
                        "2024-01-05",
                        "2024/01/05",
                        "20240105",
                        "2024-01-05 10:00",
                        "05/01/2024",
                        "Jan 5 2024",
                        "5.1.2024",
                        "2024-13-45",
                        "yesterday",
                        "",
                    ]
                )
            )
        ),
    ),
    "mixed_time_zones.csv": (
        "winter and summer offsets (+01:00, +02:00) in one column: one instant each",
        lambda: _csv(
            "2024-01-01T00:00:00+01:00,F01,Nord,1,2,3",
            "2024-07-01T00:00:00+02:00,F01,Nord,1,2,3",
            "2024-07-02T00:00:00Z,F01,Nord,1,2,3",
        ),
    ),
    "naive_and_aware_dates.csv": (
        "three dates without a time zone and one with",
        lambda: _csv(
            "2024-01-01,F01,Nord,1,2,3",
            "2024-01-02,F01,Nord,1,2,3",
            "2024-01-03T00:00:00+01:00,F01,Nord,1,2,3",
            "2024-01-04,F01,Nord,1,2,3",
        ),
    ),
    "duplicate_keys.csv": (
        "the same (date, factory_id) twice",
        lambda: _csv(*GOOD_ROWS, GOOD_ROWS[0].replace("2000", "2222")),
    ),
    "out_of_range.csv": (
        "a 999 °C reading, negative consumption, an unknown region",
        lambda: _csv(
            GOOD_ROWS[0],
            "2024-01-02,F01,Sud,999,110,2100",
            "2024-01-03,F01,Sud,13,110,-5",
            "2024-01-04,F01,Atlantis,13,110,2100",
        ),
    ),
    "nul_bytes.csv": (
        "a NUL byte inside a cell: kept as text, no row lost",
        lambda: _csv(GOOD_ROWS[0], "2024-01-02,F\x0001,Sud,13,110,2100"),
    ),
    "quoted_newlines.csv": (
        "a quoted cell that spans two lines: one row, not two",
        lambda: _csv(GOOD_ROWS[0], '2024-01-02,"F01\nbis",Sud,13,110,2100', GOOD_ROWS[2]),
    ),
    "blank_lines.csv": (
        "blank lines between rows and CRLF line ends",
        lambda: _csv(GOOD_ROWS[0], "", GOOD_ROWS[1], "", "", GOOD_ROWS[2], end="\r\n"),
    ),
    "truncated.csv.gz": (
        "a gzip cut in half",
        lambda: _gzip(_csv(*GOOD_ROWS * 20))[:80],
    ),
    "not_gzip.csv.gz": ("plain CSV text named .csv.gz", lambda: _csv(*GOOD_ROWS)),
    "records.json": (
        "JSON records: not a format load reads",
        lambda: json.dumps([{"date": "2024-01-01", "factory_id": "F01"}]).encode(),
    ),
    "wrong_types.parquet": (
        "Parquet with integer dates, boolean temperatures, text consumption, number regions",
        lambda: _parquet(
            _typed_frame(
                date=[20240101, 1, 20240103],
                temperature_c=[True, False, True],
                consumption_kwh=["2000", "abc", "1,5"],
                region=[1, 2, 3],
            )
        ),
    ),
    "nested_cells.parquet": (
        "Parquet with list and struct cells where scalars belong",
        lambda: _parquet(
            _typed_frame(
                consumption_kwh=[[1.0, 2.0], [3.0], [4.0]],
                factory_id=[{"id": 1}, {"id": 2}, {"id": 3}],
            )
        ),
    ),
    "binary_cells.parquet": (
        "Parquet with a binary factory_id, one value not UTF-8",
        lambda: _parquet(_typed_frame(factory_id=[b"F01", b"\xff\xfe", b"F02"])),
    ),
    "truncated.parquet": (
        "a Parquet file cut in half",
        lambda: (lambda b: b[: len(b) // 2])(_parquet(_typed_frame())),
    ),
    "csv_named_parquet.parquet": ("CSV text named .parquet", lambda: _csv(*GOOD_ROWS)),
}

#: A record the demo model accepts; the payloads below break it one way each.
GOOD_RECORD = {
    "region": "Nord",
    "temperature_c": 12.5,
    "production_volume": 100.0,
    "day_of_week": 2,
    "is_holiday": False,
    "consumption_kwh_30d_mean": 2000.0,
}
FEATURES = list(GOOD_RECORD)


def _records(*records: str) -> bytes:
    return ('{"dataframe_records": [' + ", ".join(records) + "]}").encode()


def _with(**changes: str) -> str:
    """GOOD_RECORD as JSON text, some values replaced by raw JSON text."""
    fields = {k: json.dumps(v) for k, v in GOOD_RECORD.items()} | changes
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


def _csv_body(*rows: str, header: str = ",".join(FEATURES)) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


GOOD_CSV_ROW = "Nord,12.5,100.0,2,false,2000.0"

#: name → (what it is, how to make its bytes)
PAYLOAD_FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "good.json": (
        "a request the model answers (sent with wrong content types too)",
        lambda: _records(_with()),
    ),
    "invalid.json": ("unquoted keys", lambda: b'{"dataframe_records": [{region: "Nord"}]}'),
    "truncated.json": ("a good body cut mid-record", lambda: _records(_with())[:60]),
    "empty.json": ("a zero-byte body", lambda: b""),
    "empty_records.json": ("no records", lambda: b'{"dataframe_records": []}'),
    "empty_split.json": (
        "columns and no data",
        lambda: json.dumps({"dataframe_split": {"columns": FEATURES, "data": []}}).encode(),
    ),
    "wrong_column_names.json": (
        "the columns spelt differently",
        lambda: _records(_with().replace('"region"', '"Region"').replace("temperature_c", "temp")),
    ),
    "nan_in_integer.json": (
        "NaN for the whole number day_of_week",
        lambda: _records(_with(day_of_week="NaN")),
    ),
    "nan_in_boolean.json": (
        "NaN for the boolean is_holiday",
        lambda: _records(_with(is_holiday="NaN")),
    ),
    "infinity.json": ("an Infinity literal", lambda: _records(_with(temperature_c="Infinity"))),
    "negative_infinity.json": (
        "a -Infinity literal",
        lambda: _records(_with(production_volume="-Infinity")),
    ),
    "string_in_number.json": (
        "a decimal comma as text",
        lambda: _records(_with(temperature_c='"12,5"')),
    ),
    "boolean_in_number.json": ("true for a number", lambda: _records(_with(temperature_c="true"))),
    "huge_exponent.json": (
        "1e400: past the largest float",
        lambda: _records(_with(temperature_c="1e400")),
    ),
    "huge_integer_in_double.json": (
        "a 401-digit integer for a double",
        lambda: _records(_with(temperature_c="1" + "0" * 400)),
    ),
    "huge_integer_in_long.json": (
        "a 401-digit integer for a long",
        lambda: _records(_with(day_of_week="1" + "0" * 400)),
    ),
    "integer_2_pow_63.json": (
        "2**63: one past int64 (used to wrap to a negative number)",
        lambda: _records(_with(day_of_week=str(2**63))),
    ),
    "too_many_digits.json": (
        "a 5000-digit integer (Python reads at most 4300)",
        lambda: _records(_with(production_volume="7" * 5000)),
    ),
    "null_in_required.json": (
        "null for the required day_of_week",
        lambda: _records(_with(day_of_week="null")),
    ),
    "lone_surrogate.json": (
        "a lone UTF-16 surrogate in text",
        lambda: _records(_with(region='"\\ud800"')),
    ),
    "array_for_record.json": (
        "a record given as an array",
        lambda: _records(json.dumps(list(GOOD_RECORD.values()))),
    ),
    "records_as_object.json": (
        "dataframe_records given as one object",
        lambda: ('{"dataframe_records": ' + _with() + "}").encode(),
    ),
    "top_level_array.json": ("a JSON array, not an object", lambda: ("[" + _with() + "]").encode()),
    "top_level_scalar.json": ("a bare number", lambda: b"42"),
    "duplicate_keys.json": (
        "region named twice in a record",
        lambda: _records(_with().replace("{", '{"region": "Sud", ', 1)),
    ),
    "duplicate_format_keys.json": (
        "dataframe_records named twice (empty, then a record)",
        lambda: ('{"dataframe_records": [], "dataframe_records": [' + _with() + "]}").encode(),
    ),
    "two_formats.json": (
        "dataframe_records and inputs together",
        lambda: ('{"dataframe_records": [' + _with() + '], "inputs": []}').encode(),
    ),
    "split_ragged.json": (
        "a dataframe_split row one value short",
        lambda: json.dumps(
            {"dataframe_split": {"columns": FEATURES, "data": [list(GOOD_RECORD.values())[:-1]]}}
        ).encode(),
    ),
    "missing_columns.csv": (
        "a CSV without four columns",
        lambda: _csv_body("Nord,1", header="region,temperature_c"),
    ),
    "latin1.csv": (
        "a Latin-1 CSV",
        lambda: _csv_body("Nörd,12.5,100.0,2,false,2000.0").decode().encode("latin-1"),
    ),
    "row_longer_than_header.csv": (
        "a row with two values past the header (pandas used to shift it)",
        lambda: _csv_body(GOOD_CSV_ROW + ",7,8"),
    ),
    "duplicate_header.csv": (
        "region named twice in the header",
        lambda: _csv_body("Sud," + GOOD_CSV_ROW, header="region," + ",".join(FEATURES)),
    ),
    "unterminated_quote.csv": (
        "a quote never closed",
        lambda: _csv_body('"Nord,12.5,100.0,2,false,2000.0'),
    ),
    "infinity.csv": ("inf in a numeric column", lambda: _csv_body("Nord,inf,100.0,2,false,2000.0")),
    "huge_integer.csv": (
        "a 401-digit day_of_week",
        lambda: _csv_body(f"Nord,12.5,100.0,1{'0' * 400},false,2000.0"),
    ),
    "empty.csv": ("a zero-byte CSV body", lambda: b""),
}


def _readme() -> str:
    lines = [
        "# Bad input corpus",
        "",
        "Malformed data files (`data/`) and scoring-request bodies (`payloads/`), written by",
        "`make_corpus.py` (rerun it after changing a case). `tests/test_corpus.py` says what",
        "each must produce: a `WorkbenchError` naming the file and the problem, or a load",
        "where valid + quarantined rows = input rows; for payloads, a 4xx naming the problem.",
        "Made at test time, being too large to commit: a 1 MB cell, JSON nested 100 000",
        "levels deep, a body over the server's size limit (with and without Content-Length).",
        "",
        "## data/",
        "",
        "| file | what it is |",
        "| --- | --- |",
        *(f"| `{name}` | {what} |" for name, (what, _) in DATA_FILES.items()),
        "",
        "## payloads/",
        "",
        "| file | what it is |",
        "| --- | --- |",
        *(f"| `{name}` | {what} |" for name, (what, _) in PAYLOAD_FILES.items()),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    for folder, files in ((DATA, DATA_FILES), (PAYLOADS, PAYLOAD_FILES)):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_file() and old.name not in files:
                old.unlink()
        for name, (_, make) in files.items():
            data = make()
            assert len(data) < 100_000, f"{name} is {len(data):,} bytes; make it at test time"
            (folder / name).write_bytes(data)
    (HERE / "README.md").write_text(_readme())
    print(f"{len(DATA_FILES)} data files, {len(PAYLOAD_FILES)} payloads under {HERE}")


if __name__ == "__main__":
    main()
