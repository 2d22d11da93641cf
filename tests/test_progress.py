"""map_with_progress: plain work on local threads, with a bar."""

from __future__ import annotations

import threading
import time

from workbench._progress import map_with_progress


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
