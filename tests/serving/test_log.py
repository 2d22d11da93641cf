from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import ServingError
from workbench.serving import InferenceLogWriter, read_inference_log
from workbench.serving._log import LoggedRequest


def _rows(n: int, request: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": range(n),
            "prediction": [0.5] * n,
            "request_id": request,
            "row_in_request": range(n),
            "timestamp": pd.Timestamp.now(tz="UTC"),
        }
    )


def test_close_flushes_every_pending_row(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path, flush_seconds=60)
    for i in range(50):
        writer.append(_rows(3, f"r{i}"))
    writer.close()
    log = read_inference_log(tmp_path)
    assert len(log) == 150 and log["request_id"].nunique() == 50
    with pytest.raises(ServingError, match="closed"):
        writer.append(_rows(1, "late"))


def test_background_flush_writes_segments_without_close(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path, flush_seconds=0.1)
    writer.append(_rows(2, "a"))
    deadline = time.monotonic() + 10
    while not list(tmp_path.glob("segment-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(read_inference_log(tmp_path)) == 2
    writer.close()


def test_full_batch_triggers_a_flush(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path, max_rows=10, flush_seconds=60)
    writer.append(_rows(10, "a"))
    deadline = time.monotonic() + 10
    while writer.rows_written < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.rows_written == 10
    writer.close()


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path, max_rows=7, flush_seconds=0.01)

    def work(t: int) -> None:
        for i in range(200):
            writer.append(_rows(1, f"{t}-{i}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    log = read_inference_log(tmp_path)
    assert len(log) == 800 and log["request_id"].is_unique


def test_no_temporary_files_are_left_and_readers_ignore_them(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path)
    writer.append(_rows(1, "a"))
    writer.close()
    (tmp_path / ".segment-partial.parquet.tmp").write_bytes(b"half a file")
    assert len(read_inference_log(tmp_path)) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == [
        ".segment-partial.parquet.tmp"
    ]


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ServingError, match="does not exist"):
        read_inference_log(tmp_path / "nope")
    assert read_inference_log(tmp_path).empty


def test_actuals_are_checked_recorded_and_joined(tmp_path: Path) -> None:
    from workbench import DataError
    from workbench.serving import join_actuals, log_actuals, read_actuals

    writer = InferenceLogWriter(tmp_path)
    writer.append(
        pd.DataFrame(
            {
                "x": [1.0, 2.0, 3.0],
                "prediction": [10.0, 20.0, 30.0],
                "request_id": ["a", "a", "b"],
                "row_in_request": [0, 1, 0],
                "timestamp": pd.Timestamp.now(tz="UTC"),
                "model_name": "m",
                "model_version": "1",
                "latency_ms": 1.0,
            }
        )
    )
    writer.close()
    assert log_actuals(tmp_path, ["a", "b"], [11.0, 29.0]) == 2
    assert log_actuals(tmp_path, ["a"], [19.0], rows=[1]) == 1
    assert log_actuals(tmp_path, ["a"], [12.0]) == 1  # a correction: the latest counts
    with pytest.raises(DataError, match=r"1 of 2 actuals .* \['zzz#0'\]; nothing was recorded"):
        log_actuals(tmp_path, ["b", "zzz"], [1.0, 2.0])
    with pytest.raises(DataError, match="one value and one row per request id"):
        log_actuals(tmp_path, ["a", "b"], [1.0])
    assert len(read_actuals(tmp_path)) == 3
    joined = join_actuals(read_inference_log(tmp_path), tmp_path)
    assert joined.set_index(["request_id", "row_in_request"])["actual"].to_dict() == {
        ("a", 0): 12.0,
        ("a", 1): 19.0,
        ("b", 0): 29.0,
    }


def test_pandas_duckdb_and_dask_read_the_same_log(tmp_path: Path) -> None:
    import dask.dataframe as dd
    import duckdb
    import numpy as np

    from workbench.serving._log import LoggedRequest

    writer = InferenceLogWriter(tmp_path, flush_seconds=60)
    for i in range(30):
        writer.append(
            LoggedRequest(
                request_id=f"r{i:02d}",
                timestamp_ns=1_700_000_000_000_000_000 + i * 1_000_000,
                model_name="m",
                model_version="1" if i < 15 else "2",
                latency_ms=1.5,
                inputs={
                    "x": np.arange(3.0) + i,
                    "region": np.array(["a", "b", None], dtype=object),
                },
                rows=3,
                predictions=np.arange(3.0) * i,
            )
        )
        if i % 10 == 9:
            writer.flush()  # three segments
    writer.close()
    assert len(list(tmp_path.glob("segment-*.parquet"))) == 3
    ours = read_inference_log(tmp_path)
    pattern = str(tmp_path / "segment-*.parquet")
    counted = duckdb.sql(
        f"SELECT model_version, count(*) AS n, sum(prediction) AS total "
        f"FROM read_parquet('{pattern}') GROUP BY model_version ORDER BY model_version"
    ).fetchall()
    expected = ours.groupby("model_version")["prediction"].agg(["size", "sum"])
    assert counted == [(v, int(n), float(t)) for v, (n, t) in expected.iterrows()]
    on_dask = dd.read_parquet(pattern).compute()
    assert len(on_dask) == len(ours) == 90
    assert sorted(on_dask["request_id"]) == sorted(ours["request_id"])
    assert ours["region"].isna().sum() == 30 and str(ours["timestamp"].dt.tz) == "UTC"


def test_class_probabilities_are_logged_one_column_per_class(tmp_path: Path) -> None:
    writer = InferenceLogWriter(tmp_path, flush_seconds=3600)
    for i, scored in enumerate([True, True, False]):
        writer.append(
            LoggedRequest(
                request_id=f"r{i}",
                timestamp_ns=1_700_000_000 * 10**9 + i,
                model_name="m",
                model_version="1",
                latency_ms=1.0,
                inputs={"x": np.array([0.1, 0.2])},
                rows=2,
                predictions=np.array(["no", "yes"], dtype=object),
                scores=np.array([[0.7, 0.3], [0.2, 0.8]]) if scored else None,
                classes=("no", "yes") if scored else (),
            )
        )
    writer.close()
    log = read_inference_log(tmp_path)
    assert {"proba_no", "proba_yes"} <= set(log.columns)
    assert log["proba_yes"].tolist()[:4] == [0.3, 0.8, 0.3, 0.8]
    assert log["proba_yes"].isna().tolist()[4:] == [True, True]  # a request without scores
