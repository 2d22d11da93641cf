"""The Dask cluster the tuning tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import Client

from workbench.tuning import local_cluster


@pytest.fixture(scope="package")
def client() -> Iterator[Client]:
    """Two worker processes, one thread each: the cluster every tuning test shares."""
    with local_cluster(2) as cluster, Client(cluster) as c:
        yield c
