"""Lazy imports of heavy or optional packages, with an install hint when one is missing.

``import workbench`` must stay light (no mlflow, dask, optuna, plotly, ipywidgets or
scikit-learn); modules that need them call :func:`require` at the point of use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from workbench._exceptions import MissingDependencyError

# Where the package name on PyPI differs from the import name, or an extra provides it.
_INSTALL_HINTS: dict[str, str] = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "dask_cuda": "mlops-workbench[gpu]  (or: pip install dask-cuda)",
    "playwright": "mlops-workbench[dev]  (or: pip install playwright)",
}


def require(module: str, *, feature: str | None = None) -> ModuleType:
    """Import ``module``, or fail with a message that says what to install.

    Args:
        module: The dotted import name, for example ``"mlflow.sklearn"``.
        feature: What the caller was trying to do, used in the message.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: The package is not installed.

    Example:
        >>> json = require("json")
        >>> json.dumps([1])
        '[1]'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # a dependency of the package is broken, not the package missing
        package = _INSTALL_HINTS.get(top, top)
        what = f" for {feature}" if feature else ""
        raise MissingDependencyError(
            f"The package {top!r} is needed{what} but is not installed. "
            f"Install it with: pip install {package}"
        ) from exc
