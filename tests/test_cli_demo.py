"""`workbench demo` never writes over a project's own data or model: in a project made by
`workbench init` it works in a folder of its own and says so; in its own project it
replaces what it wrote before."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import resolve_settings
from workbench._demo_home import DEMO_MODEL, demo_settings, keep_record, not_the_demos
from workbench._init import init_project


def _digests(root: Path, skip: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_relative_to(skip)
    }


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n')
    return root


def test_a_fresh_project_is_the_demos_and_its_record_lets_it_replace_its_own(
    tmp_path: Path,
) -> None:
    settings = resolve_settings(_project(tmp_path))
    assert not_the_demos(settings) == []
    raw = settings.data_dir / "raw" / "electricity.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("date,factory_id\n")
    assert not_the_demos(settings) == ["data/raw/electricity.csv"]  # not written by the demo
    keep_record(settings)
    assert not_the_demos(settings) == []  # as the demo left it: its own to replace
    raw.write_text("date,factory_id\n2024-01-01,F1\n")  # the user edited it since
    assert not_the_demos(settings) == ["data/raw/electricity.csv"]
    assert demo_settings(settings, echo=lambda _: None).project_dir == settings.home / "demo"


def test_a_project_where_the_demo_ran_before_it_kept_a_record_stays_the_demos(
    tmp_path: Path,
) -> None:
    settings = resolve_settings(_project(tmp_path))
    raw = settings.data_dir / "raw" / "electricity.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("date,factory_id\n")
    report = settings.home / "reports" / "monitoring.ipynb"  # only the demo writes it
    report.parent.mkdir(parents=True)
    report.write_text("{}")
    assert not_the_demos(settings) == []


def test_a_registered_model_the_demo_did_not_register_is_the_projects(tmp_path: Path) -> None:
    from workbench import mlflow_for

    root = _project(tmp_path)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.workbench]\nmodel_name = "energy"\n'
    )
    settings = resolve_settings(root)
    assert not_the_demos(settings) == []
    assert not (settings.home / "mlflow.db").exists()  # asking created no store
    mlflow_for(settings).MlflowClient().create_registered_model("energy")
    assert not_the_demos(settings) == ["the registered model 'energy'"]
    said: list[str] = []
    own = demo_settings(settings, echo=said.append)
    assert own.project_dir == settings.home / "demo" and own.model_name == DEMO_MODEL
    assert own.tracking_uri != settings.tracking_uri  # a store of its own
    assert "the registered model 'energy'" in said[0] and str(own.project_dir) in said[0]


@pytest.mark.slow
def test_demo_in_an_init_project_leaves_its_data_and_works_in_a_folder_of_its_own(
    tmp_path: Path,
) -> None:
    root = init_project("energy", tmp_path)
    before = _digests(root, root / ".workbench")
    run = subprocess.run(
        [
            *(sys.executable, "-m", "workbench", "demo", "--project-dir", str(root)),
            *("--factories", "1", "--start", "2024-01-01", "--change-date", "2024-07-01"),
            *("--end", "2024-08-31", "--no-report", "--no-loop"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    own = root / ".workbench" / "demo"
    assert "This project has data of its own" in run.stdout
    assert "data/raw/electricity.csv" in run.stdout and str(own) in run.stdout
    assert "workbench dashboard --project-dir .workbench/demo" in run.stdout
    # the project's files are byte for byte as init left them; only .workbench/demo is new
    assert _digests(root, root / ".workbench") == before
    assert sorted(p.name for p in (root / ".workbench").iterdir()) == ["demo"]
    assert (own / "data" / "raw" / "electricity.csv").is_file()
    assert (own / ".workbench" / "mlflow.db").is_file()
