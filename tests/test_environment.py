"""pyproject.toml and environment.yml list the same dependencies with the same bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# pip name (with extras) → conda-forge name, where they differ
PIP_TO_CONDA = {
    "uvicorn[standard]": "uvicorn-standard",
    "dask[dataframe]": "dask",
    "pandera[pandas]": "pandera",
    "duckdb": "python-duckdb",
    "xgboost-cpu": "py-xgboost-cpu",
    "psycopg2-binary": "psycopg2",
}
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$")


def _split(requirement: str) -> tuple[str, str]:
    match = _SPEC.match(requirement)
    assert match, requirement
    return match.group(1), match.group(2).replace(" ", "")


def _pip() -> dict[str, str]:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = doc["project"]
    names = {}
    for req in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        name, bound = _split(req)
        names[PIP_TO_CONDA.get(name, name).lower()] = bound
    return names


def _conda() -> dict[str, str]:
    doc = yaml.safe_load((REPO / "environment.yml").read_text())
    assert doc["channels"] == ["conda-forge"]
    names = {}
    for dep in doc["dependencies"]:
        assert isinstance(dep, str), "no pip: section; every package comes from conda-forge"
        name, bound = _split(dep)
        if name not in ("python", "pip"):
            names[name.lower()] = bound
    return names


def test_environment_yml_matches_pyproject() -> None:
    pip, conda = _pip(), _conda()
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml only"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml only"
    assert {k: v for k, v in pip.items() if conda[k] != v} == {}, "bounds differ"


def test_both_ask_for_python_3_11() -> None:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert doc["project"]["requires-python"] == ">=3.11"
    assert "python=3.11" in yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]


def test_gpu_extra_brings_dask_cuda() -> None:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(r.startswith("dask-cuda") for r in doc["project"]["optional-dependencies"]["gpu"])
