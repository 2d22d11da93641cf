"""The bad-input corpus (``tests/corpus``): every malformed file and request is refused
clearly or loaded without losing a row; the scoring server never answers 5xx.

Data files are loaded and validated against the demo's contract: either a
``WorkbenchError`` that names the file and the problem, or a load where valid plus
quarantined rows equal the input rows (counted here from the raw file, independently of
pandas), each quarantined row with its reasons. Request bodies go over real HTTP to one
``workbench serve`` process for the whole module; every one gets a 4xx naming the
problem, the server keeps answering, refusals are in the errors log and none is in the
inference log. ``tests/corpus/make_corpus.py`` writes the corpus and its README.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench import DataError, WorkbenchError
from workbench.data import load, validate
from workbench.datasets import ELECTRICITY_CONTRACT

CORPUS = Path(__file__).parent / "corpus"
DATA = CORPUS / "data"
PAYLOADS = CORPUS / "payloads"


@dataclasses.dataclass(frozen=True)
class Refused:
    """``load`` or ``validate`` raises a WorkbenchError naming the file and ``needles``."""

    needles: tuple[str, ...]
    error: type[WorkbenchError] = DataError


@dataclasses.dataclass(frozen=True)
class Split:
    """Loads; ``valid`` + ``quarantined`` rows = the input rows; ``reasons`` are among the
    quarantined rows' reasons."""

    valid: int
    quarantined: int
    reasons: tuple[str, ...] = ()


#: What each file in ``corpus/data`` must produce (README.md says what each file is).
DATA_CASES: dict[str, Refused | Split] = {
    "truncated_mid_row.csv": Split(4, 1, ("consumption_kwh: missing value",)),
    "truncated_mid_quote.csv": Refused(("not a well-formed CSV", "EOF inside string", "row 5")),
    "unterminated_quote.csv": Refused(("not a well-formed CSV", "EOF inside string", "row 2")),
    "latin1.csv": Refused(("not readable as utf-8", r"b'\xe9' at line 3", "encoding='latin-1'")),
    "utf16.csv": Refused(("not readable as utf-8", "UTF-16 byte-order mark", "encoding='utf-16'")),
    "utf8_bom.csv": Split(4, 0),
    "binary_garbage.csv": Refused(("not readable as utf-8", "at line 1, byte 0")),
    "zero_bytes.csv": Refused(("the file is empty (0 bytes)",)),
    "whitespace_only.csv": Refused(("no header and no rows",)),
    "header_only.csv": Split(0, 0),
    "mixed_types_numeric.csv": Split(
        3,
        4,
        (
            "consumption_kwh: type:float (abc)",
            "consumption_kwh: type:float (12 kWh)",
            "consumption_kwh: type:float (true)",
            "consumption_kwh: missing value",
        ),
    ),
    "nan_inf_strings.csv": Split(
        1,
        6,
        (
            "temperature_c: type:float (NaN)",
            # an infinite number is a number beyond the range, not a failed conversion
            "production_volume: must be finite (inf)",
            "consumption_kwh: must be >= 0 (-inf)",
            "temperature_c: must be <= 50 (inf)",  # Infinity
            "consumption_kwh: must be finite (inf)",  # 1e999
        ),
    ),
    "wrong_column_names.csv": Refused(
        ("['date', 'factory_id']", "absent", "'Date' → 'date'?", "'Factory ID' → 'factory_id'?")
    ),
    "missing_column.csv": Refused(("needs column(s) ['consumption_kwh']", "absent")),
    "duplicated_column.csv": Refused(("['consumption_kwh'] more than once",)),
    "header_whitespace.csv": Refused(("' date ' → 'date'?",)),
    "empty_header_cell.csv": Refused(("['factory_id']", "absent", "['Unnamed: 1'] are empty")),
    "ragged_rows.csv": Refused(("not a well-formed CSV", "Expected 6 fields in line 4, saw 8")),
    "rows_longer_than_header.csv": Refused(("line 2 has 8 fields", "header names 6", "'7', '8'")),
    "trailing_delimiters.csv": Split(4, 0),
    "short_rows.csv": Split(2, 2, ("consumption_kwh: missing value",)),
    "wrong_delimiter.csv": Refused(("single column", "Pass delimiter=';'")),
    "tab_separated.tsv": Split(4, 0),
    "dates_many_formats.csv": Split(
        4,
        6,
        (
            "date: type:datetime (05/01/2024)",
            "date: type:datetime (Jan 5 2024)",
            "date: type:datetime (2024-13-45)",
            "date: type:datetime (yesterday)",
            "date: missing value",
        ),
    ),
    "mixed_time_zones.csv": Split(3, 0),
    "naive_and_aware_dates.csv": Split(3, 1, ("date: type:datetime (2024-01-03T00:00:00+01:00)",)),
    "duplicate_keys.csv": Split(4, 1, ("duplicate key (date, factory_id)", "factory_id=F01")),
    "out_of_range.csv": Split(
        1,
        3,
        (
            "temperature_c: must be <= 50 (999.0)",
            "consumption_kwh: must be >= 0 (-5.0)",
            "region: not one of ['Centro', 'Nord', 'Sud'] (Atlantis)",
        ),
    ),
    "nul_bytes.csv": Split(2, 0),
    "quoted_newlines.csv": Split(3, 0),
    "blank_lines.csv": Split(3, 0),
    "truncated.csv.gz": Refused(("cannot be read or decompressed", "end-of-stream")),
    "not_gzip.csv.gz": Refused(("cannot be read or decompressed", "Not a gzipped file")),
    "records.json": Refused(("unknown format '.json'", ".csv")),
    "wrong_types.parquet": Split(
        0,
        3,
        (
            "temperature_c: type:float (True)",
            "consumption_kwh: type:float (abc)",
            "date: type:datetime (1)",
            "region: not one of ['Centro', 'Nord', 'Sud'] (1)",
        ),
    ),
    "nested_cells.parquet": Split(
        0, 3, ("consumption_kwh: type:float ([1. 2.])", "factory_id: type:str ({'id': 1})")
    ),
    "binary_cells.parquet": Split(2, 1, (r"factory_id: type:str (b'\xff\xfe')",)),
    "truncated.parquet": Refused(("not a readable Parquet file",)),
    "csv_named_parquet.parquet": Refused(("not a readable Parquet file", "magic bytes")),
}


def _input_rows(path: Path) -> int:
    """Data rows in the file, counted without pandas: Parquet metadata, or csv records."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.read_metadata(path).num_rows)
    delimiter = "\t" if path.suffix == ".tsv" else ","
    csv.field_size_limit(2**31 - 1)  # the megabyte cell
    with path.open(encoding="utf-8-sig", newline="") as fh:
        records = [r for r in csv.reader(fh, delimiter=delimiter) if r]  # blank lines: none
    return len(records) - 1  # the header


def _load_and_validate(path: Path, out: Path) -> Any:
    frame = load(path, contract=ELECTRICITY_CONTRACT)
    return validate(frame, ELECTRICITY_CONTRACT, source=str(path), quarantine_dir=out)


def test_the_corpus_is_complete_and_what_its_script_writes() -> None:
    files = {p.name for p in DATA.iterdir()}
    assert files == set(DATA_CASES) and len(files) >= 18
    assert len(list(PAYLOADS.iterdir())) >= 14
    assert all(p.stat().st_size < 100_000 for p in [*DATA.iterdir(), *PAYLOADS.iterdir()])
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert set(script.DATA_FILES) == files
    assert set(script.PAYLOAD_FILES) == {p.name for p in PAYLOADS.iterdir()}
    for folder, made in ((DATA, script.DATA_FILES), (PAYLOADS, script.PAYLOAD_FILES)):
        for name, (_, make) in made.items():
            if not name.endswith(".parquet"):  # Parquet bytes vary with pyarrow's version
                assert (folder / name).read_bytes() == make(), f"rerun make_corpus.py: {name}"
    assert (CORPUS / "README.md").read_text() == script._readme()


@pytest.mark.parametrize("name", list(DATA_CASES))
def test_each_bad_file_is_refused_clearly_or_split_without_losing_a_row(
    name: str, tmp_path: Path
) -> None:
    path = DATA / name
    expected = DATA_CASES[name]
    if isinstance(expected, Refused):
        with pytest.raises(WorkbenchError) as caught:
            _load_and_validate(path, tmp_path)
        message = str(caught.value)
        assert isinstance(caught.value, expected.error), message
        assert name in message, message  # the file...
        for needle in expected.needles:  # ...and the column, rule, line or value
            assert needle in message, message
        return
    result = _load_and_validate(path, tmp_path)
    n_input = _input_rows(path)
    assert result.n_input == n_input == len(result.valid) + len(result.quarantine)
    assert (len(result.valid), len(result.quarantine)) == (expected.valid, expected.quarantined)
    assert sorted([*result.valid["_row"], *result.quarantine["_row"]]) == list(range(n_input))
    reasons = " | ".join(result.quarantine["_reasons"])
    assert result.quarantine["_reasons"].str.len().gt(0).all()  # every row says why
    for needle in expected.reasons:
        assert needle in reasons, reasons
    if len(result.quarantine):  # ...and the quarantine on disk holds every row with it
        kept = pd.read_csv(result.quarantine_path, dtype=str, keep_default_na=False)
        assert len(kept) == expected.quarantined and kept["_reasons"].str.len().gt(0).all()


def test_loads_that_used_to_shift_or_mangle_values_now_keep_them_in_place() -> None:
    trailing = load(DATA / "trailing_delimiters.csv", contract=ELECTRICITY_CONTRACT)
    assert list(trailing.columns) == ELECTRICITY_CONTRACT.names
    assert trailing["date"].tolist()[:2] == ["2024-01-01", "2024-01-02"]  # not the index
    assert trailing["factory_id"].tolist() == ["F01", "F01", "F02", "F02"]
    assert load(DATA / "utf8_bom.csv").columns[0] == "date"  # not "\ufeffdate"
    quoted = load(DATA / "quoted_newlines.csv")
    assert quoted["factory_id"].tolist() == ["F01", "F01\nbis", "F02"]
    zones = validate(
        load(DATA / "mixed_time_zones.csv"), ELECTRICITY_CONTRACT, quarantine_dir=False
    ).valid["date"]
    assert [t.isoformat() for t in zones] == [
        "2023-12-31T23:00:00+00:00",
        "2024-06-30T22:00:00+00:00",
        "2024-07-02T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("name", "encoding", "value"),
    [("latin1.csv", "latin-1", "Fabbrica Tré"), ("utf16.csv", "utf-16", "F01")],
)
def test_the_encoding_an_error_suggests_reads_the_file(
    name: str, encoding: str, value: str
) -> None:
    frame = load(DATA / name, contract=ELECTRICITY_CONTRACT, encoding=encoding)
    assert value in frame["factory_id"].tolist()
    assert validate(frame, ELECTRICITY_CONTRACT, quarantine_dir=False).ok


def test_a_megabyte_cell_is_quarantined_with_a_short_reason(tmp_path: Path) -> None:
    header = ",".join(ELECTRICITY_CONTRACT.names)
    path = tmp_path / "huge_cell.csv"
    path.write_text(
        f"{header}\n"
        f"2024-01-01,{'F' * 1_000_000},Nord,1,2,3\n"  # a 1 MB name: text, valid
        f"2024-01-02,F01,Nord,1,2,{'9' * 1_000_000}\n"  # a 1 MB number: not a float
        f"2024-01-03,F01,Nord,1,2,3\n"
    )
    result = _load_and_validate(path, tmp_path / "out")
    assert (len(result.valid), len(result.quarantine)) == (2, 1) == (_input_rows(path) - 1, 1)
    assert result.valid["factory_id"].str.len().max() == 1_000_000
    reason = result.quarantine["_reasons"].iloc[0]
    assert reason.startswith("consumption_kwh: type:float (999") and len(reason) < 150
    assert "1,000,000 characters" in reason
    assert len(result.failures["value"].iloc[0]) == 1_000_000  # the evidence, whole


def test_payload_files_are_what_their_names_say() -> None:
    """A cheap check, no server: each JSON case decodes (or fails) as intended."""
    good = json.loads((PAYLOADS / "good.json").read_bytes())
    assert list(good) == ["dataframe_records"] and len(good["dataframe_records"]) == 1
    for name in ("invalid.json", "truncated.json", "empty.json"):
        with pytest.raises(json.JSONDecodeError):
            json.loads((PAYLOADS / name).read_bytes())
    pairs: list[list[tuple[str, Any]]] = []
    json.loads((PAYLOADS / "duplicate_keys.json").read_bytes(), object_pairs_hook=pairs.append)
    assert [k for k, _ in pairs[0]].count("region") == 2
    assert (PAYLOADS / "latin1.csv").read_bytes().count(b"\xf6") == 1  # ö, in Latin-1


# -- the scoring server ------------------------------------------------------------------

JSON = "application/json"
CSV_TYPE = "text/csv"
MAX_BODY_MB = 1.0  # the server's --max-body-mb: every committed payload is far below


@dataclasses.dataclass(frozen=True)
class Answer:
    """The status a request must get, and what its message must name."""

    status: int
    needles: tuple[str, ...]


#: What each file in ``corpus/payloads`` must get (``good.json`` is answered, 200).
PAYLOAD_CASES: dict[str, Answer] = {
    "invalid.json": Answer(400, ("not valid JSON", "double quotes")),
    "truncated.json": Answer(400, ("not valid JSON", "char 60")),
    "empty.json": Answer(400, ("not valid JSON", "char 0")),
    "empty_records.json": Answer(400, ("dataframe_records", "no rows")),
    "empty_split.json": Answer(400, ("dataframe_split", "no rows")),
    "wrong_column_names.json": Answer(400, ("'region', 'temperature_c'", "does not have")),
    "nan_in_integer.json": Answer(400, ("'day_of_week'", "whole number", "nan")),
    "nan_in_boolean.json": Answer(400, ("'is_holiday'", "true or false", "nan")),
    "infinity.json": Answer(400, ("'temperature_c'", "finite number", "inf")),
    "negative_infinity.json": Answer(400, ("'production_volume'", "finite number", "-inf")),
    "string_in_number.json": Answer(400, ("'temperature_c'", "a number", "'12,5'")),
    "boolean_in_number.json": Answer(400, ("'temperature_c'", "a number", "True")),
    "huge_exponent.json": Answer(400, ("'temperature_c'", "finite number")),
    "huge_integer_in_double.json": Answer(400, ("'temperature_c'", "finite number", "1000")),
    "huge_integer_in_long.json": Answer(400, ("'day_of_week'", "within 64 bits", "1000")),
    "integer_2_pow_63.json": Answer(400, ("'day_of_week'", "within 64 bits", str(2**63))),
    "too_many_digits.json": Answer(400, ("4300 digits", "5000 digits")),
    "null_in_required.json": Answer(400, ("'day_of_week'", "not missing")),
    "lone_surrogate.json": Answer(400, ("'region'", "valid Unicode", "ud800")),
    "array_for_record.json": Answer(400, ("'dataframe_records[0]'", "must be an object")),
    "records_as_object.json": Answer(400, ("'dataframe_records'", "must be a list")),
    "top_level_array.json": Answer(400, ("must be an object",)),
    "top_level_scalar.json": Answer(400, ("must be an object",)),
    "duplicate_keys.json": Answer(400, ("['region'] twice",)),
    "duplicate_format_keys.json": Answer(400, ("['dataframe_records'] twice",)),
    "two_formats.json": Answer(400, ("exactly one of", "['dataframe_records', 'inputs']")),
    "split_ragged.json": Answer(400, ("'dataframe_split.data[0]'", "6 values")),
    "missing_columns.csv": Answer(400, ("CSV", "'production_volume'", "does not have")),
    "latin1.csv": Answer(400, ("not UTF-8", "0xf6")),
    "row_longer_than_header.csv": Answer(400, ("more values than the header",)),
    "duplicate_header.csv": Answer(400, ("['region'] more than once",)),
    "unterminated_quote.csv": Answer(400, ("CSV body cannot be read", "EOF inside string")),
    "infinity.csv": Answer(400, ("CSV", "'temperature_c'", "finite number")),
    "huge_integer.csv": Answer(400, ("CSV", "'day_of_week'", "within 64 bits")),
    "empty.csv": Answer(400, ("CSV body cannot be read", "No columns")),
}

#: The good body sent with content types the server does not take.
WRONG_TYPES = [
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
]


@dataclasses.dataclass
class Scoring:
    """The module's server, a client, and the request ids it answered and refused."""

    server: Any
    client: Any
    answered: list[str] = dataclasses.field(default_factory=list)
    refused: dict[str, int] = dataclasses.field(default_factory=dict)

    def post(self, body: Any, content_type: str, **headers: str) -> Any:
        if content_type:
            headers["Content-Type"] = content_type
        return self.client.post("/invocations", content=body, headers=headers)

    def refuse(self, response: Any, expected: Answer) -> None:
        """Check a refusal, then check the server still answers a good request."""
        assert response.status_code == expected.status, response.text
        message = response.json()["message"]
        for needle in expected.needles:
            assert needle in message, message
        self.refused[response.headers["X-Request-ID"]] = response.status_code
        good = self.post((PAYLOADS / "good.json").read_bytes(), JSON)
        assert good.status_code == 200, good.text
        assert len(good.json()["predictions"]) == 1
        self.answered.append(good.headers["X-Request-ID"])


@pytest.fixture(scope="module")
def scoring(demo_project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scoring]:  # type: ignore[no-untyped-def]
    """One ``workbench serve`` of the demo champion for every payload of the module."""
    import httpx

    from workbench.serving import ScoringServer

    folder = tmp_path_factory.mktemp("corpus-serve")
    with (
        ScoringServer(
            demo_project.model.model_uri,
            log_dir=folder / "log",
            project_dir=demo_project.settings.project_dir,
            max_body_mb=MAX_BODY_MB,
        ) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield Scoring(server, client)


def test_every_payload_file_has_an_expectation() -> None:
    files = {p.name for p in PAYLOADS.iterdir()}
    assert files == {*PAYLOAD_CASES, "good.json"} and len(PAYLOAD_CASES) >= 14


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PAYLOAD_CASES))
def test_each_bad_payload_gets_a_4xx_that_names_the_problem(scoring: Scoring, name: str) -> None:
    body = (PAYLOADS / name).read_bytes()
    content_type = JSON if name.endswith(".json") else CSV_TYPE
    scoring.refuse(scoring.post(body, content_type), PAYLOAD_CASES[name])


@pytest.mark.slow
@pytest.mark.parametrize("content_type", WRONG_TYPES)
def test_a_wrong_content_type_gets_415(scoring: Scoring, content_type: str) -> None:
    response = scoring.post((PAYLOADS / "good.json").read_bytes(), content_type)
    shown = content_type.split(";")[0] or "(none)"
    scoring.refuse(response, Answer(415, (repr(shown), "application/json", "text/csv")))


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_json_nested_100k_levels_deep_gets_400(scoring: Scoring, shape: str) -> None:
    depth = 100_000
    if shape == "arrays":
        body = '{"dataframe_records": ' + "[" * depth + "]" * depth + "}"
    else:
        body = '{"a": ' * depth + "1" + "}" * depth
    assert len(body) < MAX_BODY_MB * 1024 * 1024  # refused for its depth, not its size
    scoring.refuse(scoring.post(body, JSON), Answer(400, ("nested too deeply",)))


@pytest.mark.slow
def test_a_body_over_the_limit_gets_413_with_and_without_content_length(
    scoring: Scoring,
) -> None:
    record = (PAYLOADS / "good.json").read_text()[len('{"dataframe_records": [') : -2]
    rows = int(MAX_BODY_MB * 1024 * 1024 / len(record)) + 100
    body = '{"dataframe_records": [' + ", ".join([record] * rows) + "]}"
    expected = Answer(413, (f"{len(body):,} bytes", "at most 1,048,576", "fewer rows"))
    scoring.refuse(scoring.post(body, JSON), expected)
    chunks = (body[i : i + 65536].encode() for i in range(0, len(body), 65536))
    scoring.refuse(scoring.post(chunks, JSON), Answer(413, ("at most 1,048,576",)))


@pytest.mark.slow
def test_refusals_are_counted_as_errors_and_never_logged_as_predictions(
    scoring: Scoring,
) -> None:
    """Runs after the payload tests above (file order): stops the server, reads its logs."""
    from workbench.serving import read_errors, read_inference_log

    metrics = scoring.client.get("/metrics").text
    statuses = {
        line.split('status="')[1][:3]
        for line in metrics.splitlines()
        if line.startswith("workbench_requests_total") and 'path="/invocations"' in line
    }
    assert statuses and not any(s.startswith("5") for s in statuses), metrics
    code = scoring.server.stop()  # flushes both logs
    assert code in (0, -15), scoring.server.output()
    assert "Traceback" not in scoring.server.output(), scoring.server.output()
    log_dir = scoring.server.log_dir
    logged = read_inference_log(log_dir)
    assert sorted(set(logged["request_id"])) == sorted(scoring.answered)
    assert not set(logged["request_id"]) & set(scoring.refused)
    errors = read_errors(log_dir)
    assert dict(zip(errors["request_id"], errors["status"], strict=True)) == scoring.refused
    assert errors["message"].str.len().gt(0).all()


@pytest.mark.slow
def test_serving_an_unknown_alias_exits_with_an_error_naming_it(demo_project) -> None:  # type: ignore[no-untyped-def]
    from workbench.serving._process import free_port

    name = demo_project.model.model_uri.removeprefix("models:/").partition("@")[0]
    port = str(free_port())
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(demo_project.settings.project_dir)}
    for uri, says in (
        (f"models:/{name}@nope", "its aliases: ["),
        ("models:/no-such-model@champion", f"'{name}'"),  # among the registered models
        ("/tmp/model.pkl", "must be a registry or run URI"),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "workbench", "serve", uri, "--port", port],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 2, output
        assert uri in output and says in output, output
        assert "Traceback" not in output, output
