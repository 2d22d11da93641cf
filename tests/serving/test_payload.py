"""The request parser and the prediction thread, against a model logged to a real store."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.serving._batch import Batcher, Loaded
from workbench.serving._payload import Columns, InputSpec, PayloadError


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """A one-hot + HistGradientBoosting pipeline logged to a SQLite store, loaded back."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    folder = tmp_path_factory.mktemp("store")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "count": rng.integers(0, 10, 300),
            "region": rng.choice(["north", "south"], 300),
        }
    )
    y = frame["x"] * 2 + frame["count"] + (frame["region"] == "north")
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("r", OneHotEncoder(handle_unknown="ignore"), ["region"])],
                    remainder="passthrough",
                ),
            ),
            ("model", HistGradientBoostingRegressor(max_iter=20)),
        ]
    ).fit(frame, y)
    return _logged_and_loaded(model, frame, folder)


def _logged_and_loaded(model: object, frame: pd.DataFrame, folder: Path) -> Loaded:
    """``model`` logged to a SQLite store in ``folder`` and loaded back as the server does."""
    import mlflow
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    try:
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(frame, model.predict(frame)),  # type: ignore[attr-defined]
                serialization_format="cloudpickle",
                pip_requirements=["scikit-learn"],
            )
        return Loaded.of(mlflow.pyfunc.load_model(info.model_uri), "1", [])
    finally:
        mlflow.set_tracking_uri("")


ROWS = pd.DataFrame(
    {"x": [0.5, -1.25, 3.0], "count": [1, 4, 9], "region": ["north", "south", "east"]}
)


def test_the_spec_reads_the_signature(logged: Loaded) -> None:
    assert logged.spec.supported
    assert logged.spec.columns == (
        ("x", "double", True),
        ("count", "long", True),
        ("region", "string", True),
    )
    assert logged.direct is not None  # scikit-learn's predict, called directly


@pytest.mark.parametrize("fmt", ["split", "records", "inputs", "instances", "columns", "csv"])
def test_every_format_predicts_what_mlflow_predicts(logged: Loaded, fmt: str) -> None:
    from mlflow.pyfunc import scoring_server

    split = json.loads(ROWS.to_json(orient="split", index=False))
    records = json.loads(ROWS.to_json(orient="records"))
    payloads = {
        "split": {"dataframe_split": split},
        "records": {"dataframe_records": records},
        "inputs": {"inputs": records},
        "instances": {"instances": records},
        "columns": {"inputs": {c: ROWS[c].tolist() for c in ROWS.columns}},
    }
    if fmt == "csv":
        ours = logged.spec.parse_csv(ROWS.to_csv(index=False))
        theirs = scoring_server.parse_csv_input(
            __import__("io").StringIO(ROWS.to_csv(index=False)), logged.schema
        )
    else:
        ours = logged.spec.parse_json(payloads[fmt])
        theirs = scoring_server.infer_and_parse_data(payloads[fmt], logged.schema)
    assert ours.rows == 3
    assert ours.arrays["count"].dtype == np.int64 and ours.arrays["x"].dtype == np.float64
    np.testing.assert_allclose(logged.predict(ours), logged.model.predict(theirs))


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"dataframe_split": {"columns": ["x", "count"], "data": [[1.0, 2]]}}, "['region']"),
        (
            {"dataframe_split": {"columns": ["x", "count", "region"], "data": [[1.0, 2]]}},
            "'dataframe_split.data[0]' must be a list of 3 values",
        ),
        (
            {"dataframe_records": [{"x": "abc", "count": 1, "region": "north"}]},
            "column 'x', row 0: expected a number (double), got 'abc'",
        ),
        (
            {"dataframe_records": [{"x": 1.0, "count": 1.5, "region": "north"}]},
            "column 'count', row 0: expected a whole number (long), got 1.5",
        ),
        (
            {"dataframe_records": [{"x": 1.0, "count": None, "region": "north"}]},
            "column 'count', row 0: expected a whole number (long), not missing",
        ),
        (
            {"dataframe_records": [{"x": 1.0, "count": 2**70, "region": "north"}]},
            "column 'count', row 0: expected a whole number (long) within 64 bits",
        ),
        (
            {"dataframe_records": [{"x": 1.0, "count": 1, "region": 7}]},
            "column 'region', row 0: expected text (string), got 7",
        ),
        (
            {"dataframe_records": [{"x": [1.0], "count": 1, "region": "a"}]},
            "column 'x', row 0: expected a number (double), got [1.0]",
        ),
        ({"dataframe_records": {"x": 1}}, "'dataframe_records' must be a list of records"),
        ({"inputs": {"x": [1.0], "count": [1, 2], "region": ["a"]}}, "all the same length"),
        ({"dataframe_split": [], "inputs": []}, "exactly one of"),
        ({"rows": []}, "got the keys ['rows']"),
    ],
)
def test_bad_payloads_name_the_field_and_the_problem(
    logged: Loaded, payload: dict[str, object], needle: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        logged.spec.parse_json(payload)
    assert needle in str(caught.value)


def test_csv_cells_that_do_not_fit_are_named(logged: Loaded) -> None:
    with pytest.raises(PayloadError, match="column 'x', row 1: expected a number"):
        logged.spec.parse_csv("x,count,region\n1.0,1,north\nlots,2,south\n")
    with pytest.raises(PayloadError, match=r"\['region'\]"):
        logged.spec.parse_csv("x,count\n1.0,1\n")
    empty_x = logged.spec.parse_csv("x,count,region\n,1,north\n")
    assert np.isnan(empty_x.arrays["x"][0])  # an empty cell is a missing value


def test_unsupported_schemas_fall_back_to_mlflow() -> None:
    from mlflow.types import ColSpec, Schema, TensorSpec

    tensor = Schema([TensorSpec(np.dtype("float64"), (-1, 3))])
    assert not InputSpec.from_schema(tensor).supported
    assert not InputSpec.from_schema(None).supported
    binary = Schema([ColSpec("binary", "blob")])
    assert not InputSpec.from_schema(binary).supported


def test_merged_requests_get_their_own_predictions(logged: Loaded) -> None:
    batcher = Batcher()
    try:
        singles = [logged.spec.parse_json({"dataframe_records": [r]}) for r in _records(40)]
        gate = threading.Event()
        # hold the prediction thread so that the 40 requests queue up and merge
        blocker = batcher.submit(_Slow(logged, gate), singles[0])
        futures = [batcher.submit(logged, one) for one in singles]
        gate.set()
        blocker.result(timeout=30)
        got = [f.result(timeout=30).predictions for f in futures]
        expected = logged.predict(_concat(singles))
        np.testing.assert_allclose(np.concatenate(got), expected)
        assert batcher.merged >= 40 and batcher.calls <= 3
    finally:
        batcher.close()


def test_a_lingering_batcher_predicts_requests_sent_apart_in_one_call(logged: Loaded) -> None:
    """The shadow's batcher waits after a request for more: ten requests sent one at a
    time, each after the last one was queued, go to the model together."""
    batcher = Batcher(linger=5.0)  # longer than the test needs: the tenth ends the wait
    batcher.max_rows = 10
    try:
        singles = [logged.spec.parse_json({"dataframe_records": [r]}) for r in _records(10)]
        futures = [batcher.submit(logged, one) for one in singles]
        got = [f.result(timeout=30).predictions for f in futures]
        np.testing.assert_allclose(np.concatenate(got), logged.predict(_concat(singles)))
        assert batcher.calls == 1 and batcher.merged == 10
    finally:
        batcher.close()


def test_one_failing_request_fails_alone(logged: Loaded) -> None:
    batcher = Batcher()
    try:
        good = logged.spec.parse_json({"dataframe_records": _records(3)})
        bad = Columns({**good.arrays, "x": np.array(["not a number"] * 3, dtype=object)}, 3)
        gate = threading.Event()
        blocker = batcher.submit(_Slow(logged, gate), good)
        first, broken, last = (batcher.submit(logged, c) for c in (good, bad, good))
        gate.set()
        blocker.result(timeout=30)
        assert len(first.result(timeout=30).predictions) == 3
        assert len(last.result(timeout=30).predictions) == 3
        with pytest.raises(ValueError):
            broken.result(timeout=30)
    finally:
        batcher.close()
    with pytest.raises(Exception, match="shutting down"):
        batcher.submit(logged, good)


def _records(n: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(n)
    return [
        {"x": float(rng.normal()), "count": int(rng.integers(0, 9)), "region": "north"}
        for _ in range(n)
    ]


def _concat(parts: list[Columns]) -> Columns:
    names = list(parts[0].arrays)
    return Columns(
        {n: np.concatenate([p.arrays[n] for p in parts]) for n in names},
        sum(p.rows for p in parts),
    )


class _Slow:
    """A version whose prediction waits for a gate (another identity: never merged)."""

    def __init__(self, inner: Loaded, gate: threading.Event) -> None:
        self.inner, self.gate = inner, gate

    def predict_scored(self, data: Columns) -> object:
        self.gate.wait(30)
        return self.inner.predict_scored(data)


def test_the_log_writer_takes_an_fsspec_url() -> None:
    import fsspec

    from workbench.serving import read_inference_log
    from workbench.serving._log import InferenceLogWriter, LoggedRequest

    url = "memory://workbench-test/log"
    writer = InferenceLogWriter(url, flush_seconds=60)
    for i in range(5):
        writer.append(
            LoggedRequest(
                request_id=f"r{i}",
                timestamp_ns=1_700_000_000_000_000_000 + i,
                model_name="m",
                model_version="1",
                latency_ms=1.0,
                inputs={"x": np.array([1.0, 2.0])},
                rows=2,
                predictions=np.array([0.1, 0.2]),
            )
        )
    writer.close()
    assert fsspec.filesystem("memory").glob("/workbench-test/log/segment-*.parquet")
    log = read_inference_log(url)
    assert len(log) == 10 and log["row_in_request"].tolist() == [0, 1] * 5
    assert log["prediction"].tolist() == [0.1, 0.2] * 5


def test_a_failed_write_keeps_its_rows_for_the_next_try(tmp_path: Path) -> None:
    from workbench import ServingError
    from workbench.serving import read_inference_log
    from workbench.serving._log import InferenceLogWriter

    folder = tmp_path / "log"
    writer = InferenceLogWriter(folder, flush_seconds=60)
    folder.rmdir()
    folder.write_text("a file where the log folder was")  # every write now fails
    writer.append(_logged_frame("a"))
    with pytest.raises(ServingError, match="1 rows stay pending"):
        writer.flush()
    assert writer.pending_rows == 1 and writer.failed_writes == 1
    folder.unlink()
    folder.mkdir()
    writer.append(_logged_frame("b"))
    writer.close()
    assert sorted(read_inference_log(folder)["request_id"]) == ["a", "b"]


def _logged_frame(request_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": [request_id],
            "row_in_request": [0],
            "timestamp": [pd.Timestamp.now(tz="UTC")],
            "x": [1.0],
        }
    )


def test_rows_no_file_can_hold_are_set_aside_with_the_reason(tmp_path: Path) -> None:
    from workbench.serving import read_inference_log
    from workbench.serving._log import InferenceLogWriter

    writer = InferenceLogWriter(tmp_path, flush_seconds=60)
    poison = _logged_frame("bad")
    poison["x"] = poison["x"].astype(object)
    poison.loc[0, "x"] = "\ud800 lone surrogate"  # JSON can carry it; Parquet cannot
    for i in range(7):
        writer.append(_logged_frame(f"ok{i}"))
        if i == 3:
            writer.append(poison)
    assert writer.flush() == 7
    writer.close()
    assert sorted(read_inference_log(tmp_path)["request_id"]) == [f"ok{i}" for i in range(7)]
    (rejected,) = (tmp_path / "rejected").glob("rejected-*.json")
    record = json.loads(rejected.read_text())
    assert "surrogate" in record["reason"] and record["rows"]["request_id"] == ["bad"]
    assert writer.rows_rejected == 1


def test_text_that_is_not_unicode_is_refused_at_the_door(logged: Loaded) -> None:
    with pytest.raises(PayloadError, match="column 'region', row 1: expected valid Unicode"):
        logged.spec.parse_json(
            json.loads(
                '{"dataframe_records": [{"x": 1, "count": 1, "region": "north"},'
                ' {"x": 1, "count": 1, "region": "\\ud800"}]}'
            )
        )


@pytest.mark.parametrize("kind", ["forest", "logistic"])
def test_a_classifier_gives_its_class_probabilities_beside_its_labels(
    tmp_path: Path, kind: str
) -> None:
    """One predict_proba call for an argmax classifier (labels derived from it), predict and
    predict_proba otherwise; either way exactly what scikit-learn predicts, and merged
    requests get their own rows of scores."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    labels = np.where(frame["a"] + rng.normal(0, 0.5, 400) > 0, "yes", "no").astype(object)
    labels[:40] = "maybe"
    model = (
        RandomForestClassifier(n_estimators=20, random_state=0)
        if kind == "forest"
        else make_pipeline(StandardScaler(), LogisticRegression())
    ).fit(frame, labels)
    loaded = _logged_and_loaded(model, frame, tmp_path)
    assert loaded.classes == ("maybe", "no", "yes")
    assert loaded.from_scores is (kind == "forest")
    singles = [
        loaded.spec.parse_json({"dataframe_records": frame.iloc[i : i + 3].to_dict("records")})
        for i in range(0, 60, 3)
    ]
    answer = loaded.predict_scored(_concat(singles))
    assert answer.scores is not None
    np.testing.assert_array_equal(answer.predictions, model.predict(frame.head(60)))
    np.testing.assert_allclose(answer.scores, model.predict_proba(frame.head(60)))
    batcher = Batcher()
    try:
        gate = threading.Event()
        blocker = batcher.submit(_Slow(loaded, gate), singles[0])
        futures = [batcher.submit(loaded, one) for one in singles]
        gate.set()
        blocker.result(timeout=30)
        got = [f.result(timeout=30) for f in futures]
        assert batcher.merged >= len(singles)
    finally:
        batcher.close()
    np.testing.assert_allclose(np.concatenate([g.scores for g in got]), answer.scores)
    assert all(g.scores.shape == (3, 3) for g in got)
    assert np.concatenate([g.predictions for g in got]).tolist() == answer.predictions.tolist()
    without = Loaded.of(loaded.model, "1", [], scores=False)
    assert without.scorer is None and without.predict_scored(singles[0]).scores is None
