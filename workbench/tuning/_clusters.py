"""Where trials run: a Dask cluster started here (local processes, or one worker per
GPU), one reached at a scheduler address, or a ``distributed.Client`` given.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from workbench._exceptions import ConfigurationError
from workbench._imports import require
from workbench._settings import Settings
from workbench.tuning._devices import cuda_worker_count

__all__ = ["cluster_client", "device_for", "local_cluster", "resolve_cluster"]


def local_cluster(n_workers: int | None = None) -> Any:
    """A LocalCluster as :func:`tune` starts one: worker processes (default: one per CPU,
    at most 8) of one thread each, BLAS/OpenMP threads 1, everything bound to 127.0.0.1.

    Pass it (through a ``distributed.Client``) to several studies to start it once.
    """
    distributed = require("distributed", feature="tuning on a Dask cluster")
    return distributed.LocalCluster(
        n_workers=n_workers or max(1, min(os.cpu_count() or 1, 8)),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=50,
        env={v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    )


def resolve_cluster(cluster: Any, settings: Settings) -> Any:
    """``cluster`` as given, or (``None``) the ``dask_scheduler`` setting, else local."""
    if cluster is None:
        return settings.dask_scheduler or "local"
    return cluster


def device_for(cluster: Any) -> str:
    """What trials ask of a GPU-capable family: ``cpu`` on a LocalCluster (CPU workers),
    ``cuda`` on one worker per GPU, and on a cluster we did not start, ``auto``: each
    worker decides from the GPUs it has."""
    if cluster == "local":
        return "cpu"
    if cluster == "cuda":
        return "cuda"
    return "auto"


@contextlib.contextmanager
def cluster_client(cluster: Any, n_workers: int | None) -> Iterator[Any]:
    """A dask.distributed Client for ``cluster``: ``local``, ``cuda``, an address, or a Client."""
    distributed = require("distributed", feature="tuning on a Dask cluster")
    if isinstance(cluster, distributed.Client):
        yield cluster
        return
    if cluster == "local":
        with local_cluster(n_workers) as local, distributed.Client(local) as client:
            yield client
        return
    if cluster == "cuda":
        if cuda_worker_count() == 0:
            raise ConfigurationError(
                "cluster='cuda' needs NVIDIA GPUs, and this machine shows none (dask-cuda, "
                "or nvidia-smi -L and CUDA_VISIBLE_DEVICES, list no GPU). Use "
                "cluster='local', or a scheduler address of a GPU cluster."
            )
        dask_cuda = require("dask_cuda", feature="cluster='cuda'")
        # one worker per GPU (or MIG instance) dask-cuda sees, unless told how many
        options: dict[str, Any] = {"n_workers": n_workers} if n_workers else {}
        with (
            dask_cuda.LocalCUDACluster(
                threads_per_worker=1, dashboard_address="127.0.0.1:0", **options
            ) as local,
            distributed.Client(local) as client,
        ):
            yield client
        return
    if isinstance(cluster, str) and "://" in cluster:
        try:
            client = distributed.Client(cluster, timeout="20s")
        except OSError as exc:
            raise ConfigurationError(
                f"No Dask scheduler answers at {cluster}: {exc}. Start one (dask scheduler) "
                f"or use cluster='local'."
            ) from None
        with client:
            yield client
        return
    raise ConfigurationError(
        f"cluster must be 'local', 'cuda', a scheduler address (tcp://host:port) or a "
        f"distributed.Client. Got {cluster!r}."
    )
