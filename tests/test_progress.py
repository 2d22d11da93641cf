"""compute_with_progress (local threads, a real Dask cluster) and map_with_progress:
a bar per finished task, and the first failure raised at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workbench._progress import compute_with_progress, map_with_progress, scheduler_client


def test_results_come_in_the_order_of_the_items_and_the_bar_counts_each(capsys) -> None:  # type: ignore[no-untyped-def]
    threads: set[int] = set()

    def step(seconds: float) -> float:
        threads.add(threading.get_ident())
        time.sleep(seconds)  # the first item finishes last
        return seconds * 10

    items = [0.3, 0.2, 0.1, 0.0]
    assert map_with_progress(step, items, desc="waiting", unit="item") == [3.0, 2.0, 1.0, 0.0]
    assert "waiting" in (err := capsys.readouterr().err) and "4/4" in err
    assert threading.get_ident() not in threads  # on the pool's threads, not the caller's
    assert map_with_progress(step, [], desc="nothing", show=False) == []


def _slow_and_failing(done: Path, wait: Callable[[], object]) -> list[Any]:
    """Two tasks: one that waits (then leaves a file), one that fails at once."""
    import dask

    def slow() -> int:
        wait()
        done.touch()
        return 1

    def fails() -> int:
        raise ValueError("boom on the worker")

    return [dask.delayed(slow, pure=False)(), dask.delayed(fails, pure=False)()]


def test_a_failed_task_on_a_cluster_is_raised_at_once_while_another_still_runs(
    tmp_path: Path,
) -> None:
    from distributed import Event, LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        client = scheduler_client(address)
        release = Event("release", client=client)
        done = tmp_path / "slow-task-finished"
        tasks = _slow_and_failing(done, lambda: Event("release").wait(30))
        try:
            # before: the call waited for the slow task (30 s), then raised
            with pytest.raises(ValueError, match="boom on the worker"):
                compute_with_progress(tasks, desc="failing", show=False, scheduler=address)
            assert not done.exists()  # raised while the slow task was still waiting
        finally:
            release.set()
            client.close()


def test_a_failed_task_on_local_threads_is_raised_at_once(tmp_path: Path) -> None:
    release = threading.Event()
    done = tmp_path / "slow-task-finished"
    tasks = _slow_and_failing(done, lambda: release.wait(30))
    try:
        with pytest.raises(ValueError, match="boom on the worker"):
            compute_with_progress(tasks, desc="failing", show=False, scheduler="local")
        assert not done.exists()
    finally:
        release.set()


def test_map_with_progress_raises_the_first_failure_without_waiting_for_the_rest() -> None:
    release = threading.Event()
    finished: list[int] = []

    def step(item: int) -> int:
        if item == 0:
            release.wait(30)  # the first item is slow; the second fails at once
        elif item == 1:
            raise ValueError(f"item {item} failed")
        finished.append(item)
        return item

    try:
        # before: pool.map waited for item 0 (30 s), then raised
        with pytest.raises(ValueError, match="item 1 failed"):
            map_with_progress(step, [0, 1], desc="failing", show=False)
        assert 0 not in finished
    finally:
        release.set()
