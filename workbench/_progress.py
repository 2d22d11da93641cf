"""Progress bars (tqdm.auto: a widget in notebooks, text in a terminal) over Dask tasks,
computed on local threads or on the Dask cluster the settings name, and over plain work
on local threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from workbench._exceptions import ConfigurationError
from workbench._imports import require

__all__ = ["compute_with_progress", "map_with_progress", "scheduler_address", "scheduler_client"]

T = TypeVar("T")
R = TypeVar("R")

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def scheduler_client(address: str) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``, made once per
    address and process (not installed as Dask's default scheduler).

    Raises:
        ConfigurationError: No scheduler answers there.
    """
    distributed = require("distributed", feature="computing on a Dask scheduler")
    import dask

    with _lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        # how long to keep trying: Dask's own setting (30 s unless configured)
        timeout = dask.config.get("distributed.comm.timeouts.connect")
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigurationError(
                f"No Dask scheduler answers at {address} (the dask_scheduler setting, or "
                f"WORKBENCH_DASK_SCHEDULER) within {timeout} "
                f"(distributed.comm.timeouts.connect): {exc}. Start one (`dask scheduler`) "
                f"or unset it to compute on local threads."
            ) from None
        _clients[address] = client
        return client


def scheduler_address(scheduler: str | None) -> str | None:
    """The Dask scheduler to compute on: ``scheduler`` (``"local"``, ``"threads"`` or
    ``""``: none), by default the ``dask_scheduler`` setting; ``None`` for local threads."""
    if scheduler is not None:
        return None if scheduler in ("", "local", "threads") else scheduler
    from workbench._settings import get_settings

    return get_settings().dask_scheduler


def compute_with_progress(
    tasks: Sequence[Any],
    *,
    desc: str,
    unit: str = "partition",
    show: bool = True,
    scheduler: str | None = None,
) -> list[Any]:
    """Compute the delayed ``tasks``, advancing a bar per finished task.

    Where: ``scheduler`` (a ``tcp://`` address, or ``"local"`` for threads), by default
    the ``dask_scheduler`` setting: unset, on threads of this process; set, on that
    cluster's workers. Either way the first task that fails ends the call at once with
    its exception, as it was raised there (on a cluster, the other tasks are cancelled:
    a task still running is not waited for).
    """
    dask = require("dask", feature="partitioned computation")
    tqdm = require("tqdm.auto").tqdm
    address = scheduler_address(scheduler)
    if address is not None:
        distributed = require("distributed", feature="computing on a Dask scheduler")
        client = scheduler_client(address)
        futures = client.compute(list(tasks))
        try:
            with tqdm(total=len(futures), desc=desc, unit=unit, disable=not show) as bar:
                for future in distributed.as_completed(futures, loop=client.loop):
                    if future.status != "finished":  # error or cancelled: raise it now
                        future.result()
                    bar.update()
            return list(client.gather(futures))
        except BaseException:
            client.cancel(futures)
            raise

    from dask.callbacks import Callback

    keys = {t.key for t in tasks}

    class _Progress(Callback):
        def __init__(self, bar: Any):
            super().__init__()  # type: ignore[no-untyped-call]
            self.bar = bar

        def _posttask(self, key: Any, *args: Any) -> None:
            if key in keys:
                self.bar.update()

    with tqdm(total=len(tasks), desc=desc, unit=unit, disable=not show) as bar, _Progress(bar):
        return list(dask.compute(*tasks, scheduler="threads"))


def map_with_progress(
    step: Callable[[T], R],
    items: Iterable[T],
    *,
    desc: str,
    unit: str = "partition",
    show: bool = True,
) -> list[R]:
    """``step`` of each of ``items``, in order, on local threads (one per core), advancing
    a bar per finished item: for work that needs no Dask graph. The first item that
    fails ends the call at once with its exception: items not started are dropped, and
    one still running is not waited for."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    tqdm = require("tqdm.auto").tqdm
    items = list(items)
    pool = ThreadPoolExecutor(max(1, min(len(items), os.cpu_count() or 1)))
    try:
        with tqdm(total=len(items), desc=desc, unit=unit, disable=not show) as bar:
            futures = [pool.submit(step, item) for item in items]
            for future in as_completed(futures):
                future.result()  # the first failure raises here
                bar.update()
            return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
