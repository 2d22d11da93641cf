"""Progress bars (tqdm.auto: a widget in notebooks, text in a terminal) over Dask tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench._imports import require

__all__ = ["compute_with_progress"]


def compute_with_progress(
    tasks: Sequence[Any], *, desc: str, unit: str = "partition", show: bool = True
) -> list[Any]:
    """``dask.compute`` the delayed ``tasks`` on threads, advancing a bar per finished task."""
    dask = require("dask", feature="partitioned computation")
    tqdm = require("tqdm.auto").tqdm
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
