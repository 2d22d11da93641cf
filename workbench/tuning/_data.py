"""The training set on a worker: received once per study, kept in the form trials use.

The driver scatters the training set to every worker once per study; Dask keeps it in
the worker's memory and a trial only names it, so nothing is sent per trial. Each worker
takes it in once per study (:func:`worker_data`, counted in :data:`RECEIVED`), known by
the key of the driver's scatter: Dask's active memory manager drops replicas no queued
trial waits for, so a worker may be sent the same set again as a new object, which it
then recognises and does not take in twice. On a
worker that trains on a GPU, with cuDF installed, that is when the set is copied into
GPU memory, as a cuDF frame, for the families that take one (``Family.cudf``: XGBoost
and the cuML families) on a regression over numeric columns; their folds are then cut,
imputed and scaled on the GPU (:class:`~workbench.tuning._estimators.FrameImputer`)
and only the scores come back. Elsewhere (no cuDF, categorical columns, a
classification, whose labels are encoded on the host) GPU families read the host copy
and their library moves each fold's rows to the GPU: slower, and said once per worker.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from workbench.tuning._objective import TuningSpec

__all__ = ["RECEIVED", "WorkerData", "device_frames", "to_host", "worker_data"]

_log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_HELD: collections.OrderedDict[str, WorkerData] = collections.OrderedDict()
_KEEP = 2  # studies whose data a worker keeps (a GPU's memory is not for old studies)
#: How many times this process took in each study's training set (by study token).
RECEIVED: collections.Counter[str] = collections.Counter()
_SAID: set[str] = set()


@dataclasses.dataclass(frozen=True)
class WorkerData:
    """A study's training set on this worker: the host frame, and its GPU copy (cuDF)
    where the study's GPU families take one (else ``None``)."""

    host: pd.DataFrame
    device: Any = None
    token: str = ""  # the key of the driver's scatter this set came from


def device_frames(spec: TuningSpec) -> bool:
    """Whether a GPU copy of the set serves the study: a regression on numeric columns
    with a family that takes cuDF frames."""
    return (
        spec.objective is None
        and spec.task == "regression"
        and not spec.categorical
        and any(f.cudf for f in spec.families.values())
    )


def worker_data(key: str, frame: pd.DataFrame, spec: TuningSpec, token: str) -> WorkerData:
    """The training set of study ``key`` on this worker, taken in (and copied to the GPU
    when ``spec.device`` is ``cuda`` and :func:`device_frames`) at its first trial here,
    and again only if the driver scattered it anew (``token``, the scatter's key, changed:
    the last worker holding it died). The same scatter sent again (Dask dropped this
    worker's replica between trials, then fetched it back) is the set already held."""
    with _LOCK:
        held = _HELD.get(key)
        if held is not None and (held.host is frame or held.token == token):
            _HELD.move_to_end(key)
            return held
        RECEIVED[key] += 1
        copy = _to_device(frame) if spec.device == "cuda" and device_frames(spec) else None
        data = _HELD[key] = WorkerData(frame, copy, token)
        while len(_HELD) > _KEEP:
            _HELD.popitem(last=False)
        return data


def _to_device(frame: pd.DataFrame) -> Any:
    try:
        cudf = importlib.import_module("cudf")  # GPU workers only: no stubs to check against
    except ImportError:
        if "cudf" not in _SAID:
            _SAID.add("cudf")
            _log.warning(
                "cuDF is not installed on this GPU worker: GPU families read the training "
                "set from host memory, and each fold is copied to the GPU (pip install "
                "cudf-cu12 for one copy per study)."
            )
        return None
    return cudf.DataFrame.from_pandas(frame)


def to_host(values: Any) -> Any:
    """Predictions or labels in host memory: a cuDF object as pandas, a CuPy array as
    NumPy, anything else as it is."""
    if hasattr(values, "to_pandas"):
        return values.to_pandas()
    if type(values).__module__.split(".")[0] == "cupy":
        return values.get()
    return values
