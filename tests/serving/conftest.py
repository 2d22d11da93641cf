"""A small registered model for the scoring server's tests: ``tiny@champion``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@contextlib.contextmanager
def own_settings() -> Iterator[None]:
    """No WORKBENCH_* or MLFLOW_* variable of the session (a module's fixtures run before
    the per-test isolation of tests/conftest.py): the project's own registry is used."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("WORKBENCH_", "MLFLOW_")):
                patch.delenv(name)
        yield


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose registry holds ``tiny@champion``: a constant over ``x`` (a number)
    and ``region`` (text)."""
    from sklearn.dummy import DummyRegressor

    from workbench import resolve_settings
    from workbench.packaging import package_model, promote

    folder = tmp_path_factory.mktemp("tiny-project")
    (folder / "pyproject.toml").write_text('[project]\nname = "p"\n')
    frame = pd.DataFrame({"x": np.arange(30.0), "region": ["a", "b", "c"] * 10})
    frame["y"] = frame["x"]
    model = DummyRegressor(strategy="constant", constant=1.0)
    model.fit(frame[["x", "region"]], frame["y"])
    with own_settings():
        settings = resolve_settings(folder)
        package_model(
            model, frame, "tiny", target="y", measure_cost=False, progress=False, settings=settings
        )
        promote("tiny", frame, target="y", force=True, settings=settings)
    return folder
