#!/usr/bin/env bash
# A short study on cluster="cuda" (dask-cuda LocalCUDACluster, one worker per GPU) that
# prints which GPU each trial ran on. For a machine with NVIDIA GPUs; run from the repo:
#
#     bash benchmarks/gpu_check.sh
#
# It makes a venv in $GPU_VENV (default /tmp/gpu-venv), installs the workbench with the
# gpu extra and xgboost (which trains on the worker's GPU), and runs 6 trials.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi -L
VENV="${GPU_VENV:-/tmp/gpu-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -e ".[gpu]" xgboost
fi
export WORKBENCH_PROJECT_DIR="$(mktemp -d)"
"$VENV/bin/python" - <<'PY'
import numpy as np, pandas as pd
from workbench.tuning import tune

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20000, 20)), columns=[f"x{i}" for i in range(20)])
    frame["y"] = frame["x0"] * 3 + np.sin(frame["x1"]) + rng.normal(scale=0.1, size=len(frame))
    result = tune(frame, "y", families=["xgboost"], n_trials=6, cv=3, cluster="cuda",
                  study_name="gpu-check", pruner=None, refit=False, progress=False)
    print(result.trials[["number", "state", "value", "family", "worker", "gpu", "duration_s"]]
          .to_string(index=False))
    used = sorted(result.trials["gpu"].dropna().unique())
    print(f"{result.n_complete} trials complete on GPU(s) {used}")
    assert result.n_complete == 6 and used, "no trial reported a GPU"
PY
