#!/usr/bin/env bash
# A short study on cluster="cuda" (dask-cuda LocalCUDACluster, one worker per GPU it sees)
# that prints the device each trial trained on, as XGBoost reports it (told device="cuda"
# without a usable GPU, XGBoost warns and trains on the CPU: that is recorded as cpu, and
# fails this check). For a machine with NVIDIA GPUs; run from the repo:
#
#     bash benchmarks/gpu_check.sh
#
# It makes a venv in $GPU_VENV (default /tmp/gpu-venv), installs the workbench with the
# gpu extra (dask-cuda, cuML, cuDF) and the boosting libraries, and runs 6 trials; then
# the same study through a Client of that cluster (each worker decides from the GPU it
# has) must train on the GPUs too. Then the cuML families (random forest, ridge, lasso,
# logistic regression) must train on the GPU, each trial's device as recorded; and last
# `benchmarks/tuning.py --cuda`: the same boosting studies on the CPU workers and on the
# GPU workers, trials per second, best score and their ratio. One script, one report.
#
# Set GPU_CHECK_SKIP_BENCH=1 to leave the benchmark out (it takes a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi -L
VENV="${GPU_VENV:-/tmp/gpu-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -e ".[gpu,boost]" \
        || "$VENV/bin/pip" install -q --extra-index-url=https://pypi.nvidia.com -e ".[gpu,boost]"
fi
export WORKBENCH_PROJECT_DIR="$(mktemp -d)"
"$VENV/bin/python" - <<'PY'
import numpy as np, pandas as pd
from distributed import Client
from workbench.tuning import cuda_worker_count, tune

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20000, 20)), columns=[f"x{i}" for i in range(20)])
    frame["y"] = frame["x0"] * 3 + np.sin(frame["x1"]) + rng.normal(scale=0.1, size=len(frame))
    options = dict(families=["xgboost"], n_trials=6, cv=3, pruner=None, refit=False,
                   progress=False)
    result = tune(frame, "y", cluster="cuda", study_name="gpu-check", **options)
    shown = ["number", "state", "value", "family", "worker", "device", "gpu", "duration_s"]
    print(result.trials[shown].to_string(index=False))
    done = result.trials[result.trials["state"] == "COMPLETE"]
    devices = sorted(done["device"].dropna().unique())
    print(f"{result.n_complete} trials complete; devices {devices}, GPUs "
          f"{sorted(done['gpu'].dropna().unique())}; {cuda_worker_count()} GPU worker(s)")
    assert result.n_complete == 6, "a trial did not complete"
    assert len(devices) > 0 and all(d.startswith("cuda") for d in devices), (
        f"XGBoost reports training on {devices}: not on a GPU")
    assert done["worker"].nunique() <= cuda_worker_count()

    import dask_cuda
    with dask_cuda.LocalCUDACluster(threads_per_worker=1) as cluster, Client(cluster) as client:
        again = tune(frame, "y", cluster=client, study_name="gpu-check-client", **options)
    used = sorted(again.trials["device"].dropna().unique())
    print(f"through a Client: devices {used}")
    assert used and all(d.startswith("cuda") for d in used), "a Client's GPU workers used no GPU"
PY

echo "--- cuML families on cluster='cuda'"
"$VENV/bin/python" - <<'PY'
import numpy as np, pandas as pd
from workbench.tuning import available_families, tune

if __name__ == "__main__":
    assert "cuml_ridge" in available_families("regression"), "cuML is not installed"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20000, 20)), columns=[f"x{i}" for i in range(20)])
    frame["y"] = frame["x0"] * 3 + np.sin(frame["x1"]) + rng.normal(scale=0.1, size=len(frame))
    frame["label"] = np.where(frame["y"] > 0, "high", "low")
    options = dict(n_trials=8, cv=3, pruner=None, refit=False, progress=False, cluster="cuda")
    for task, target, families, drop in (
        ("regression", "y", ["cuml_random_forest", "cuml_ridge", "cuml_lasso"], "label"),
        ("classification", "label", ["cuml_random_forest", "cuml_logistic"], "y"),
    ):
        result = tune(frame.drop(columns=drop), target, task=task, families=families,
                      study_name=f"gpu-check-cuml-{task}", **options)
        shown = ["number", "state", "value", "family", "worker", "device", "gpu", "duration_s"]
        print(result.trials[shown].to_string(index=False))
        done = result.trials[result.trials["state"] == "COMPLETE"]
        devices = sorted(done["device"].dropna().unique())
        print(f"{task}: {result.n_complete} complete, best {result.best_family} "
              f"{result.best_value:.4f}; devices {devices}")
        assert result.n_complete == 8, "a trial did not complete"
        assert devices and all(d.startswith("cuda") for d in devices), (
            f"cuML families report {devices}: not on a GPU")
PY

if [ "${GPU_CHECK_SKIP_BENCH:-0}" != "1" ]; then
    echo "--- benchmarks/tuning.py --cuda"
    "$VENV/bin/python" benchmarks/tuning.py --cuda
fi
