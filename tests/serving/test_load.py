"""The scoring server under a bounded load at concurrency 32: no error, an inference-log
row for every row of every 2xx answer, and memory that stays flat (the 60-second run is
``benchmarks/load.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._loadgen import drive
from workbench.serving import ScoringServer, read_inference_log

from ..conftest import demo_request_body

pytestmark = pytest.mark.slow


def test_concurrency_32_loses_nothing_and_memory_stays_flat(  # type: ignore[no-untyped-def]
    demo_project, tmp_path: Path
) -> None:
    body = demo_request_body(demo_project, 3).encode()
    log_dir = tmp_path / "log"
    with ScoringServer(
        demo_project.model.model_uri,
        log_dir=log_dir,
        project_dir=demo_project.settings.project_dir,
    ) as server:
        assert server.process is not None
        url = f"{server.url}/invocations"
        drive(url, body, connections=32, seconds=3)  # warm: allocator pools, first segments
        result = drive(url, body, connections=32, seconds=12, pid=server.process.pid)
        code = server.stop()
    print(result.summary())
    assert code in (0, -15), server.output()
    assert result.errors == 0, (result.statuses, result.connection_errors[:3])
    assert result.ok > 1000
    log = read_inference_log(log_dir)
    answered = set(result.request_ids)
    counts = log.groupby("request_id").size()
    assert answered <= set(counts.index)  # every 2xx of the measured run is in the log...
    assert (counts.loc[sorted(answered)] == 3).all()  # ...with all its rows
    memory = [m for _, m in result.rss_mb]
    # flat: after the warm-up the server grows by less than the log's buffers can explain
    assert memory[-1] - memory[0] < 40, memory
