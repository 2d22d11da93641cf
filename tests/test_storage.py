"""A store folder that cannot be written (read-only file system, permissions) is a clear
error naming the folder, what it is for and the setting that chose it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import ConfigurationError
from workbench._settings import resolve_settings
from workbench._storage import make_dir

from .conftest import read_only_folder


def _project(tmp_path: Path, **settings: str) -> Path:
    lines = "\n".join(f'{k} = "{v}"' for k, v in settings.items())
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "p"\n[tool.workbench]\n{lines}\n')
    return tmp_path


def test_a_read_only_feature_store_is_a_clear_error(tmp_path: Path) -> None:
    from workbench.features import Entity, FeatureStore, FeatureView, Source

    store_dir = read_only_folder(tmp_path) / "store"
    settings = resolve_settings(_project(tmp_path, feature_store_dir=str(store_dir)))
    rows = pd.DataFrame(
        {"shop": ["a", "a"], "day": pd.date_range("2024-01-01", periods=2), "sales": [1.0, 2.0]}
    )
    view = FeatureView(
        "shop_daily", Entity("shop", "shop"), Source.frame(rows, "sales"), "day", ["sales"]
    )
    with pytest.raises(ConfigurationError, match=r"feature store.*cannot be created or written"):
        FeatureStore([view], settings=settings).materialize("shop_daily", progress=False)


def test_a_read_only_mlflow_store_is_a_clear_error(tmp_path: Path) -> None:
    from workbench._tracking import ensure_experiment

    home = read_only_folder(tmp_path) / "store"
    settings = resolve_settings(_project(tmp_path, home=str(home)))
    with pytest.raises(ConfigurationError) as caught:
        ensure_experiment("x", settings)
    message = str(caught.value)
    assert str(home) in message and "'tracking_uri' setting" in message


def test_make_dir_names_the_folder_the_use_and_the_reason(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")
    with pytest.raises(ConfigurationError, match=r"validated rows, .*a-file/x, .*Not a directory"):
        make_dir(blocked / "x", "validated rows")
    assert make_dir(tmp_path / "new" / "deep", "x").is_dir()
