"""Faults of the inference log: a process killed with SIGKILL (its last batch lost,
bounded, and reported at the next start), a full disk, a read-only folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from workbench import ServingError
from workbench.serving import InferenceLogWriter, ScoringServer, read_inference_log, read_lost

from ..conftest import demo_request_body, read_only_folder

WRITER = textwrap.dedent(
    """
    import os, resource, signal, sys
    import numpy as np
    from workbench.serving import InferenceLogWriter
    from workbench.serving._log import LoggedRequest

    folder, mode = sys.argv[1], sys.argv[2]

    def request(i):
        return LoggedRequest(request_id=f"r{i}", timestamp_ns=1_700_000_000 * 10**9 + i,
                             model_name="m", model_version="1", latency_ms=1.0,
                             inputs={"x": np.arange(3, dtype=float) + i}, rows=3,
                             predictions=np.zeros(3))

    writer = InferenceLogWriter(folder, flush_seconds=3600, journal=True)
    for i in range(5):
        writer.append(request(i))
    writer.flush()
    if mode == "kill":
        for i in range(5, 8):
            writer.append(request(i))
        os.kill(os.getpid(), signal.SIGKILL)  # the last batch was never written
    # mode "full": files may not grow beyond 1 kB, as on a full disk
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))
    for i in range(5, 8):
        writer.append(request(i))
    try:
        writer.flush()
    except Exception as exc:
        print("ERROR", type(exc).__name__, exc)
    print("PENDING", writer.pending_rows)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
    writer.close()
    print("WRITTEN", writer.rows_written)
    """
)


def _writer(folder: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), mode],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_killed_writer_loses_only_its_last_batch_and_the_next_one_reports_it(
    tmp_path: Path,
) -> None:
    done = _writer(tmp_path, "kill")
    assert done.returncode == -signal.SIGKILL, done.stderr
    log = read_inference_log(tmp_path)  # readable: whole segments only
    assert sorted(log["request_id"].unique()) == [f"r{i}" for i in range(5)]
    assert read_lost(tmp_path).empty  # nobody has looked yet
    journals = list((tmp_path / ".journal").glob("*.ids"))
    assert len(journals) == 2  # the dead writer's: the file in use and its ready spare
    again = InferenceLogWriter(tmp_path, journal=True)
    again.close()
    assert [(r["requests"], r["rows"]) for r in again.recovered] == [(3, 9)]
    lost = read_lost(tmp_path)
    assert lost["request_id"].tolist() == ["r5", "r6", "r7"]
    assert lost["rows"].tolist() == [3, 3, 3]
    assert lost["timestamp"].iloc[0] == pd.Timestamp(1_700_000_000 * 10**9 + 5, unit="ns", tz="UTC")
    assert not list((tmp_path / ".journal").glob("*.ids"))  # checked once, then gone
    assert len(read_lost(tmp_path)) == 3  # a third start reports nothing new
    InferenceLogWriter(tmp_path, journal=True).close()
    assert len(read_lost(tmp_path)) == 3


OVERFLOW = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from workbench.serving import InferenceLogWriter, _journal
    from workbench.serving._log import LoggedRequest

    _journal.PAGE_BYTES = 4096  # 150 notes in the first file: 600 requests outgrow two
    writer = InferenceLogWriter(sys.argv[1], flush_seconds=3600, journal=True)
    for i in range(600):
        writer.append(LoggedRequest(request_id=f"q{i:03d}", timestamp_ns=1_700_000_000 * 10**9,
                                    model_name="m", model_version="1", latency_ms=1.0,
                                    inputs={"x": np.zeros(2)}, rows=2, predictions=np.zeros(2)))
    os.kill(os.getpid(), signal.SIGKILL)  # nothing written, every note in mapped pages
    """
)


def test_notes_in_the_mapped_journal_survive_sigkill_across_full_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", OVERFLOW, str(tmp_path)], capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(list((tmp_path / ".journal").glob("*.ids"))) >= 3  # full ones, one in use
    again = InferenceLogWriter(tmp_path, journal=True)
    again.close()
    lost = read_lost(tmp_path)
    assert sorted(lost["request_id"]) == [f"q{i:03d}" for i in range(600)]
    assert (lost["rows"] == 2).all()
    assert not list((tmp_path / ".journal").glob("*.ids"))


def test_journal_files_are_made_for_the_traffic_and_left_behind_by_none(tmp_path: Path) -> None:
    from workbench.serving._journal import Journal

    journal = Journal(tmp_path, page_bytes=4096)
    for i in range(1000):  # 20 bytes a note: 20,000 bytes, outgrowing 4 KiB files
        journal.note(f"r{i:05d}", 1, 1_700_000_000)
    journal.rotate()
    assert journal.page_bytes == 40_960  # twice the batch, in whole 4 KiB pages
    journal.prepare()  # the writing thread, after the batch is written
    assert journal._spare is not None and journal._spare.size == 40_960
    journal.settle()
    assert len(list(tmp_path.glob("*.ids"))) == 2  # the file in use and the spare
    journal.close()
    assert not list(tmp_path.glob("*.ids"))


def test_a_note_cut_short_by_a_kill_is_not_read(tmp_path: Path) -> None:
    from workbench.serving._journal import _read

    journal = tmp_path / "1-2-x.ids"
    journal.write_bytes(b"aaa 1 5\nbbb 2 6\nccc 3 7" + bytes(100))  # no newline after ccc
    assert _read(journal) == {"aaa": (1, 5), "bbb": (2, 6)}
    journal.write_bytes(b"aaa 1 5\nbbb 2 6\n")  # a journal from before the mapping
    assert _read(journal) == {"aaa": (1, 5), "bbb": (2, 6)}


def test_a_full_disk_keeps_the_rows_pending_with_a_clear_error(tmp_path: Path) -> None:
    done = _writer(tmp_path, "full")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    error = next(line for line in lines if line.startswith("ERROR"))
    assert "ServingError" in error and str(tmp_path) in error
    assert "File too large" in error and "9 rows stay pending" in error
    assert "PENDING 9" in lines and "WRITTEN 24" in lines  # 15 before, 9 once there was space
    assert sorted(read_inference_log(tmp_path)["request_id"].unique()) == [
        f"r{i}" for i in range(8)
    ]
    assert not list((tmp_path / ".journal").glob("*.ids"))
    assert read_lost(tmp_path).empty


def test_a_read_only_log_folder_is_refused_at_start(tmp_path: Path) -> None:
    folder = read_only_folder(tmp_path)
    with pytest.raises(
        ServingError, match=rf"folder {folder} is not writable: .*(denied|permitted)"
    ):
        InferenceLogWriter(folder)


@pytest.mark.slow
def test_sigkill_under_load_loses_at_most_the_unwritten_batch_and_says_so(  # type: ignore[no-untyped-def]
    demo_project, tmp_path: Path
) -> None:
    body = demo_request_body(demo_project, 2)
    log_dir = tmp_path / "log"
    options = {"log_dir": log_dir, "project_dir": demo_project.settings.project_dir}
    server = ScoringServer(demo_project.model.model_uri, **options).start()  # type: ignore[arg-type]
    acknowledged: dict[str, float] = {}
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as own:
            while True:
                try:
                    r = own.post(
                        "/invocations", content=body, headers={"Content-Type": "application/json"}
                    )
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    with lock:
                        acknowledged[r.headers["X-Request-ID"]] = time.monotonic()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 400 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    server.process.wait(30)
    for t in threads:
        t.join(timeout=60)

    log = read_inference_log(log_dir)  # readable after the kill
    logged = set(log["request_id"])
    missing = set(acknowledged) - logged
    assert logged <= set(acknowledged) | logged  # nothing invented
    # bounded: only what was answered within the last flush interval (1 s) and a margin
    assert all(killed_at - acknowledged[m] < 3.0 for m in missing), "older rows were lost"
    with ScoringServer(demo_project.model.model_uri, **options):  # type: ignore[arg-type]
        pass  # its start checks the dead server's journal
    lost = read_lost(log_dir)
    assert missing <= set(lost["request_id"])  # every lost answer is reported...
    assert not set(lost["request_id"]) & logged  # ...and nothing that was logged
    assert (lost["rows"] == 2).all()
    print(f"SIGKILL: {len(acknowledged)} answered, {len(missing)} lost, all reported")
