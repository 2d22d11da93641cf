from __future__ import annotations

from pathlib import Path

import pytest

from workbench import ConfigurationError, get_settings, reset_settings, resolve_settings


def _project(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "p"\n\n[tool.workbench]\n{table}')
    return tmp_path


def test_defaults_live_under_dot_workbench(tmp_path: Path) -> None:
    s = resolve_settings(_project(tmp_path), environ={})
    assert s.home == tmp_path.resolve() / ".workbench"
    assert s.tracking_uri == f"sqlite:///{s.home.as_posix()}/mlflow.db"
    assert s.optuna_storage == f"sqlite:///{s.home.as_posix()}/optuna.db"
    assert s.artifact_dir == s.home / "mlartifacts"
    assert s.inference_log_dir == str(s.home / "inference_log")
    assert s.data_dir == tmp_path.resolve() / "data"
    assert s.host == "127.0.0.1"
    assert s.dask_scheduler is None
    assert s.sources["tracking_uri"] == "default"


def test_pyproject_beats_defaults_and_moves_derived_paths(tmp_path: Path) -> None:
    project = _project(tmp_path, 'home = "state"\nserve_port = 6000\nmodel_name = "m"\n')
    s = resolve_settings(project, environ={})
    assert s.home == tmp_path.resolve() / "state"
    assert s.tracking_uri.endswith("/state/mlflow.db")  # defaults follow `home`
    assert (s.serve_port, s.model_name) == (6000, "m")
    assert s.sources["serve_port"] == "pyproject"


def test_environment_beats_pyproject(tmp_path: Path) -> None:
    project = _project(tmp_path, "serve_port = 6000\n")
    s = resolve_settings(project, environ={"WORKBENCH_SERVE_PORT": "7000"})
    assert s.serve_port == 7000
    assert s.sources["serve_port"] == "env:WORKBENCH_SERVE_PORT"


def test_standard_mlflow_variable_is_honoured_below_the_workbench_one(tmp_path: Path) -> None:
    project = _project(tmp_path, 'tracking_uri = "sqlite:///from-pyproject.db"\n')
    mlflow_env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}
    assert resolve_settings(project, environ=mlflow_env).tracking_uri == "http://127.0.0.1:5000"
    both = {**mlflow_env, "WORKBENCH_TRACKING_URI": "sqlite:///ours.db"}
    s = resolve_settings(project, environ=both)
    assert s.tracking_uri == "sqlite:///ours.db"
    assert s.sources["tracking_uri"] == "env:WORKBENCH_TRACKING_URI"
    assert resolve_settings(project, environ={}).tracking_uri == "sqlite:///from-pyproject.db"


def test_project_dir_is_found_upwards_or_taken_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    nested = project / "notebooks" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert resolve_settings(environ={}).project_dir == project.resolve()
    other = tmp_path / "elsewhere"
    other.mkdir()
    env = {"WORKBENCH_PROJECT_DIR": str(other)}
    assert resolve_settings(environ=env).project_dir == other.resolve()


def test_unknown_key_in_pyproject_is_named(tmp_path: Path) -> None:
    project = _project(tmp_path, 'trackng_uri = "x"\n')
    with pytest.raises(ConfigurationError, match=r"unknown setting\(s\) \['trackng_uri'\]"):
        resolve_settings(project, environ={})


def test_bad_port_names_the_setting_its_source_and_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'serve_port' \(from env:WORKBENCH_SERVE_PORT\)"):
        resolve_settings(_project(tmp_path), environ={"WORKBENCH_SERVE_PORT": "abc"})
    with pytest.raises(ConfigurationError, match=r"\[1, 65535\]"):
        resolve_settings(_project(tmp_path), environ={"WORKBENCH_SERVE_PORT": "70000"})


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.workbench\n")
    with pytest.raises(ConfigurationError, match=r"pyproject\.toml is not valid TOML"):
        resolve_settings(tmp_path, environ={})


def test_get_settings_resolves_once_until_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(_project(tmp_path)))
    monkeypatch.setenv("WORKBENCH_MODEL_NAME", "first")
    assert get_settings().model_name == "first"
    monkeypatch.setenv("WORKBENCH_MODEL_NAME", "second")
    assert get_settings().model_name == "first"  # resolved once
    reset_settings()
    assert get_settings().model_name == "second"


def test_using_one_projects_store_does_not_point_the_next_project_at_it(tmp_path: Path) -> None:
    """MLflow writes MLFLOW_TRACKING_URI into the environment when its URI is set; the
    settings read that variable first, so a server started for project B after project A's
    store was used served A's registry."""
    import os

    from workbench._settings import resolve_settings
    from workbench._tracking import mlflow_for

    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    mlflow = mlflow_for(resolve_settings(a))
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert mlflow.get_tracking_uri() == resolve_settings(a).tracking_uri
    assert str(b) in resolve_settings(b).tracking_uri
