"""Where trials run: the clusters tune starts or reaches."""

from __future__ import annotations

import importlib.util

import pytest

from workbench import ConfigurationError, MissingDependencyError
from workbench.tuning import _clusters


@pytest.mark.skipif(
    importlib.util.find_spec("dask_cuda") is not None, reason="dask-cuda is installed here"
)
def test_cuda_without_dask_cuda_names_the_workbench_distribution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 24 left one spot in tuning: the hint said pip install 'workbench[gpu]', an
    unrelated project on the package index. The distribution is mlops-workbench."""
    monkeypatch.setattr(_clusters, "cuda_worker_count", lambda: 1)  # a GPU, no dask-cuda
    with pytest.raises(MissingDependencyError) as missing, _clusters.cluster_client("cuda", None):
        pass
    message = str(missing.value)
    assert "for cluster='cuda'" in message and "pip install mlops-workbench[gpu]" in message
    assert "'workbench[gpu]'" not in message


def test_a_cluster_that_is_none_of_the_kinds_is_a_clear_error() -> None:
    refused = pytest.raises(ConfigurationError, match=r"cluster must be 'local', .* Got 42\.")
    with refused, _clusters.cluster_client(42, None):
        pass
