"""Which device a trial trains on: decided per worker, recorded from the library.

A study does not know its workers' hardware: a scheduler address or a ``Client`` may
lead to GPU workers, CPU workers, or both. So the driver only says what it asks for
(``cpu``, ``cuda``, or ``auto``) and each worker decides from the CUDA devices its own
process sees (:func:`visible_cuda_devices`, which honours ``CUDA_VISIBLE_DEVICES`` and MIG
instances as the CUDA runtime does). What is recorded afterwards is what the library
reports it trained on (:func:`trained_device`), not what it was told: XGBoost told
``device="cuda"`` on a machine without a usable GPU warns and trains on the CPU.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
from typing import Any

__all__ = [
    "cuda_worker_count",
    "physical_gpu",
    "trained_device",
    "visible_cuda_devices",
    "worker_device",
]

DEVICES = ("cpu", "cuda", "auto")


def worker_device(requested: str, visible: int) -> str:
    """The device a GPU-capable family trains on, on a worker that sees ``visible`` CUDA
    devices: ``cpu`` and ``cuda`` are taken as asked (a ``cuda`` worker without a GPU is
    left to the library, which falls back and says so in what it records); ``auto`` means
    the GPU when the worker has one."""
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}. Got {requested!r}.")
    if requested == "auto":
        return "cuda" if visible > 0 else "cpu"
    return requested


@functools.cache
def visible_cuda_devices() -> int:
    """CUDA devices this process can use, as the CUDA driver counts them (0 without a
    driver or a GPU). Counted once per process: the driver reads ``CUDA_VISIBLE_DEVICES``
    at its initialization, so later changes would not apply anyway."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return int(count.value)


def cuda_worker_count() -> int:
    """How many workers ``cluster="cuda"`` starts: dask-cuda's own count (one worker per
    entry of ``CUDA_VISIBLE_DEVICES``, MIG instances included, else per GPU NVML lists);
    without dask-cuda, the same rule over ``nvidia-smi -L``."""
    try:
        from dask_cuda.utils import get_n_gpus
    except ImportError:
        pass
    else:
        try:
            return int(get_n_gpus())
        except Exception:  # NVML without a GPU or a driver
            return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))


def _estimator(model: Any) -> Any:
    """The fitted library estimator inside a pipeline and our label-encoding wrapper."""
    steps = getattr(model, "steps", None)
    if steps:
        model = steps[-1][1]
    voters = getattr(model, "estimators_", None)  # any_labels: a vote of one classifier
    if type(model).__name__ == "VotingClassifier" and voters:
        return voters[0]
    return getattr(model, "estimator_", model)


def trained_device(model: Any) -> str | None:
    """The device a fitted model trained on, as its library recorded it: ``cpu`` or
    ``cuda:<ordinal>``; ``None`` for a library we cannot ask (then nothing is recorded).

    XGBoost keeps the device it actually used in its booster's configuration (``cpu``
    after a fallback), CatBoost its task type, LightGBM its ``device_type``; cuML trains
    on this process's current GPU, scikit-learn on the CPU.
    """
    estimator = _estimator(model)
    module = type(estimator).__module__.split(".")[0]
    if module == "sklearn":
        return "cpu"
    if module == "cuml":
        import importlib  # cuML's own dependency, on GPU workers only

        runtime = importlib.import_module("cupy").cuda.runtime
        return f"cuda:{runtime.getDevice()}"
    if module == "xgboost":
        import json

        config = json.loads(estimator.get_booster().save_config())
        device = str(config["learner"]["generic_param"].get("device", "cpu"))
        return "cuda:0" if device in ("cuda", "gpu") else device
    if module == "catboost":
        params = estimator.get_all_params()
        if str(params.get("task_type", "CPU")).upper() != "GPU":
            return "cpu"
        return f"cuda:{str(params.get('devices', '0')).split(':')[0].split('-')[0]}"
    if module == "lightgbm":
        booster = getattr(estimator, "booster_", None)
        kind = str((booster.params if booster is not None else {}).get("device_type", "cpu"))
        return "cpu" if kind == "cpu" else "cuda:0"
    return None


def physical_gpu(device: str | None) -> str | None:
    """The GPU behind ``cuda:<ordinal>`` in this process: its entry of
    ``CUDA_VISIBLE_DEVICES`` (an index, a UUID or a MIG instance), else the ordinal."""
    if not device or not device.startswith("cuda"):
        return None
    ordinal = int(device.partition(":")[2] or 0)
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    visible = [d for d in visible if d]
    return visible[ordinal] if ordinal < len(visible) else str(ordinal)
