"""Which device a trial trains on: the decision per worker and what the library reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.tuning import FAMILIES
from workbench.tuning._clusters import device_for
from workbench.tuning._devices import (
    cuda_worker_count,
    physical_gpu,
    trained_device,
    visible_cuda_devices,
    worker_device,
)
from workbench.tuning._objective import TuningSpec, cross_validate, metric_for


def test_the_worker_decides_from_the_gpus_it_has() -> None:
    assert worker_device("auto", 0) == "cpu"
    assert worker_device("auto", 2) == "cuda"
    assert worker_device("cpu", 4) == "cpu"  # a LocalCluster's CPU workers, asked for
    assert worker_device("cuda", 0) == "cuda"  # left to the library, which reports a fallback
    with pytest.raises(ValueError, match="device must be one of"):
        worker_device("gpu", 1)
    # what tune asks: CPU on its LocalCluster, the GPU on dask-cuda, each worker's own
    # hardware on a cluster it did not start (an address or a Client)
    assert [device_for(c) for c in ("local", "cuda", "tcp://10.0.0.1:8786", object())] == [
        "cpu",
        "cuda",
        "auto",
        "auto",
    ]


def test_cuda_workers_are_what_cuda_visible_devices_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """dask-cuda starts one worker per entry of CUDA_VISIBLE_DEVICES (MIG instances
    included), not one per GPU nvidia-smi lists."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1b2c,MIG-3d4e")
    assert cuda_worker_count() == 2
    assert physical_gpu("cuda:1") == "MIG-3d4e" and physical_gpu("cuda") == "GPU-1b2c"
    assert physical_gpu("cpu") is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert cuda_worker_count() == 0


@pytest.mark.skipif(visible_cuda_devices() > 0, reason="a GPU is here: no fallback to see")
def test_xgboost_told_cuda_without_a_gpu_is_recorded_as_cpu() -> None:
    """XGBoost told device='cuda' without a usable GPU warns and trains on the CPU: what
    is recorded is what it trained on, from its own configuration."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["y"] = frame["a"] - frame["b"]
    spec = TuningSpec(
        task="regression",
        target="y",
        features=("a", "b"),
        categorical=(),
        families={"xgboost": FAMILIES[("regression", "xgboost")]},
        metric=metric_for("regression", "rmse"),
        cv=2,
        seed=0,
        device="cuda",
    )
    import optuna

    trial = optuna.trial.FixedTrial(
        {
            "family": "xgboost",
            "xgboost.n_estimators": 50,
            "xgboost.learning_rate": 0.1,
            "xgboost.max_depth": 2,
            "xgboost.subsample": 1.0,
            "xgboost.colsample_bytree": 1.0,
            "xgboost.reg_lambda": 1.0,
        }
    )
    extra: dict[str, object] = {}
    with pytest.warns(UserWarning, match="GPU"):  # XGBoost's own warning
        cross_validate(trial, spec, frame, lambda *a: None, [], extra)
    assert extra["device"] == "cpu"

    from sklearn.linear_model import Ridge

    assert trained_device(Ridge().fit(frame[["a"]], frame["y"])) == "cpu"  # scikit-learn's
    assert trained_device(object()) is None  # a library we cannot ask
