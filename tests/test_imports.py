from __future__ import annotations

import subprocess
import sys

import pytest

import workbench
from workbench._imports import require

HEAVY = ["mlflow", "dask", "distributed", "optuna", "plotly", "ipywidgets", "sklearn"]


def test_import_workbench_loads_no_heavy_package() -> None:
    code = (
        "import sys, workbench, workbench.datasets, workbench.data, workbench.features, "
        "workbench.tuning, workbench.packaging, workbench.serving, workbench.monitoring; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_optional_package_fails_with_an_install_hint() -> None:
    with pytest.raises(
        workbench.MissingDependencyError, match=r"needed for a test .* pip install no_such_pkg_xyz"
    ):
        require("no_such_pkg_xyz", feature="a test")
    with pytest.raises(ImportError):  # also catchable as the standard error
        require("no_such_pkg_xyz")


def test_install_hint_uses_the_distribution_name() -> None:
    from workbench._imports import _INSTALL_HINTS

    assert _INSTALL_HINTS["sklearn"] == "scikit-learn"
    assert "gpu" in _INSTALL_HINTS["dask_cuda"]


def test_exception_tree_is_rooted_at_workbench_error() -> None:
    for name in (
        "ConfigurationError",
        "DataError",
        "MissingDependencyError",
        "ModelError",
        "MonitoringError",
        "ServingError",
    ):
        assert issubclass(getattr(workbench, name), workbench.WorkbenchError), name
    assert issubclass(workbench.MissingDependencyError, ImportError)
