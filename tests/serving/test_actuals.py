"""The index of logged requests behind ``log_actuals`` and ``POST /actuals``: each
segment read once, the server's own segments never read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import DataError
from workbench.serving import InferenceLogWriter, log_actuals, read_actuals
from workbench.serving._actuals import RequestIndex
from workbench.serving._log import LoggedRequest, write_segment


def _request(request_id: str, rows: int) -> LoggedRequest:
    return LoggedRequest(
        request_id=request_id,
        timestamp_ns=1_700_000_000 * 10**9,
        model_name="m",
        model_version="1",
        latency_ms=1.0,
        inputs={"x": np.arange(float(rows))},
        rows=rows,
        predictions=np.zeros(rows),
    )


def test_each_segment_is_read_once_and_the_writers_own_never(tmp_path: Path) -> None:
    for i in range(3):  # a log that was there before
        write_segment(
            pd.DataFrame({"request_id": [f"old{i}"] * 2, "row_in_request": [0, 1]}),
            tmp_path,
            "segment",
        )
    index = RequestIndex(tmp_path)
    assert log_actuals(tmp_path, ["old0", "old2"], [1.0, 2.0], rows=[1, 0], index=index) == 2
    assert index.segments_read == 3
    assert log_actuals(tmp_path, ["old1"], [3.0], index=index) == 1
    with pytest.raises(DataError, match=r"\['old1#2', 'nope#0'\]"):
        log_actuals(
            tmp_path, ["old1", "old1", "nope"], [1.0, 2.0, 3.0], rows=[1, 2, 0], index=index
        )
    assert index.segments_read == 3  # a miss lists the folder again, reads nothing twice

    def added(path: str, table: object) -> None:
        index.add(table.column("request_id"), table.column("row_in_request").to_numpy(), path)  # type: ignore[attr-defined]

    writer = InferenceLogWriter(tmp_path, flush_seconds=3600, on_write=added)
    writer.append(_request("mine", 3))
    writer.flush()
    assert log_actuals(tmp_path, ["mine"], [4.0], rows=[2], index=index) == 1
    assert index.segments_read == 3  # the writer's segment came in through add
    write_segment(
        pd.DataFrame({"request_id": ["theirs"], "row_in_request": [0]}), tmp_path, "segment"
    )
    assert log_actuals(tmp_path, ["theirs"], [5.0], index=index) == 1
    assert index.segments_read == 4  # another writer's: read once, when first needed
    writer.close()
    assert len(read_actuals(tmp_path)) == 5
    assert len(index) == 5  # five requests, 16 bytes each


def test_the_index_answers_like_a_set_of_logged_rows(tmp_path: Path) -> None:
    """Against the plain answer (a set of (id, row) read with pandas), over many runs."""
    rng = np.random.default_rng(3)
    index = RequestIndex(tmp_path)
    truth: set[tuple[str, int]] = set()
    for _ in range(40):  # runs of every size, merged as they grow
        ids = [f"r{rng.integers(5000)}" for _ in range(int(rng.integers(1, 300)))]
        rows = rng.integers(0, 4, len(ids))
        frame = pd.DataFrame({"request_id": ids, "row_in_request": rows})
        frame = frame.groupby("request_id", as_index=False)["row_in_request"].max()
        frame = frame.loc[frame.index.repeat(frame["row_in_request"] + 1)]
        frame["row_in_request"] = frame.groupby("request_id").cumcount()
        write_segment(frame, tmp_path, "segment")
        truth |= set(zip(frame["request_id"], frame["row_in_request"], strict=True))
    index.refresh()
    asked_ids = [f"r{i}" for i in range(5200) for _ in range(5)]
    asked_rows = [n for _ in range(5200) for n in range(5)]
    held = index.held(asked_ids, asked_rows)
    expected = [(r, n) in truth for r, n in zip(asked_ids, asked_rows, strict=True)]
    assert held.tolist() == expected
    assert len(index._runs) <= 12  # merged: a handful of sorted runs, not one per segment


def test_actuals_are_refused_when_infinite_or_twice_for_a_row(tmp_path: Path) -> None:
    write_segment(pd.DataFrame({"request_id": ["a"], "row_in_request": [0]}), tmp_path, "segment")
    with pytest.raises(DataError, match=r"Actual 0 \(request id 'a'\) is inf: .* finite number"):
        log_actuals(tmp_path, ["a"], [float("inf")])
    with pytest.raises(DataError, match=r"Actuals 0 and 1 are both for request id 'a', row 0"):
        log_actuals(tmp_path, ["a", "a"], [1.0, 2.0])
    assert log_actuals(tmp_path, ["a"], [float("nan")]) == 1  # not known (yet): allowed
    assert read_actuals(tmp_path)["actual"].isna().all()


def test_a_segment_that_cannot_be_read_is_skipped_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = write_segment(
        pd.DataFrame({"request_id": ["a"], "row_in_request": [0]}), tmp_path, "segment"
    )
    broken = tmp_path / "segment-20260101T000000000000-broken.parquet"
    broken.write_bytes(b"not parquet")  # a foreign or half-copied file
    index = RequestIndex(tmp_path)
    assert log_actuals(tmp_path, ["a"], [1.0], index=index) == 1
    assert index.segments_read == 1 and "broken.parquet cannot be read" in caplog.text
    write_segment(pd.DataFrame({"request_id": ["b"], "row_in_request": [0]}), tmp_path, "segment")
    broken.write_bytes(Path(good).read_bytes())
    assert log_actuals(tmp_path, ["b"], [2.0], index=index) == 1
    assert index.segments_read == 3  # the new one, and the repaired one tried again
