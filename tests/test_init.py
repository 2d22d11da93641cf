"""``workbench init``: a Cookiecutter Data Science project wired to the workbench, whose
own tests pass and whose notebooks run."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import yaml

import workbench
from workbench import ConfigurationError, init_project, resolve_settings
from workbench import _init as init_module
from workbench._cli import build_parser, main
from workbench._notebooks import _declared

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Created:
    root: Path
    output: str


def _env(project: Path) -> dict[str, str]:
    """The environment of the generated project's commands: none of the developer's
    WORKBENCH_*/MLFLOW_* settings, its package importable as after `make install`, one
    BLAS/OpenMP thread (a shared machine is slow when every process takes them all)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(project), OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    return env


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Created:
    """One project made through the CLI, shared by the tests that read or run it."""
    parent = tmp_path_factory.mktemp("init")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["init", str(parent / "Energy Forecast")])
    assert code == 0, out.getvalue()
    return Created(parent / "Energy Forecast", out.getvalue())


def test_init_lays_out_a_ccds_project_wired_to_the_workbench(created: Created) -> None:
    root = created.root
    for folder in init_module.EMPTY_FOLDERS:
        assert (root / folder / ".gitkeep").is_file(), folder
    for file in (
        "README.md",
        "pyproject.toml",
        "Makefile",
        ".gitignore",
        ".github/workflows/ci.yml",
        "contracts/electricity.yaml",
        "data/raw/electricity.csv",
        "energy_forecast/__init__.py",
        "energy_forecast/dataset.py",
        "energy_forecast/features.py",
        "energy_forecast/modeling.py",
        "notebooks/01_explore_and_validate.ipynb",
        "notebooks/02_train_and_package.ipynb",
        "tests/test_project.py",
    ):
        assert (root / file).is_file(), file
    rendered = [p for p in root.rglob("*") if p.is_file() and p.suffix != ".csv"]
    assert not [p for p in rendered if p.name.endswith(".tmpl") or "PACKAGE" in p.parts]
    for path in rendered:  # every placeholder filled; only GitHub's ${{ ... }} remain
        assert not re.search(r"(?<!\$)\{\{", path.read_text()), path
    assert len((root / "data/raw/electricity.csv").read_text().splitlines()) == 1 + 3 * 366

    # The workbench's settings resolver reads the generated [tool.workbench] table.
    settings = resolve_settings(root, environ={})
    assert (settings.model_name, settings.experiment_name) == ("energy-forecast",) * 2
    assert settings.sources["model_name"] == "pyproject"
    assert settings.data_dir == root / "data" and settings.home == root / ".workbench"
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "energy-forecast"
    # our own distribution name: the index's "workbench" is someone else's
    assert pyproject["project"]["dependencies"] == ["mlops-workbench~=0.1.0"]
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "energy_forecast"
    ]
    for commented in ("tracking_uri", "optuna_storage", "dask_scheduler", "inference_log_dir"):
        assert f"# {commented} = " in (root / "pyproject.toml").read_text()

    makefile = (root / "Makefile").read_text()
    for target in ("demo:", "test:", "notebooks:", "data:"):
        assert f"\n{target}" in makefile
    assert "$(BIN)/workbench run-notebooks" in makefile and "\t$(BIN)/python -m pytest" in makefile
    dry = subprocess.run(
        ["make", "-n", "demo", "test"], cwd=root, capture_output=True, text=True, env=_env(root)
    )
    assert dry.returncode == 0, dry.stderr
    for command in ("pip install", "run-notebooks", "ruff check", "-m pytest"):
        assert command in dry.stdout, command
    steps = yaml.safe_load((root / ".github/workflows/ci.yml").read_text())["jobs"]["test"]
    commands = [step.get("run", "") for step in steps["steps"]]
    assert "make test" in commands and "make notebooks" in commands
    assert "vars.WORKBENCH_REQUIREMENT" in steps["env"]["WORKBENCH"]

    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        assert "project_dir" in _declared(notebook), notebook.name
        cells = json.loads(notebook.read_text())["cells"]
        assert not [c for c in cells if c.get("outputs")], f"{notebook.name} has outputs"

    assert str(root) in created.output and "energy_forecast" in created.output
    assert "cd 'Energy Forecast'" in created.output or f"cd '{root}'" in created.output
    assert "make demo" in created.output and "make test" in created.output


def test_an_empty_folder_is_used_and_dot_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "churn"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert main(["init", "."]) == 0
    assert (folder / "churn" / "features.py").is_file()
    assert resolve_settings(folder, environ={}).model_name == "churn"
    assert "cd " not in capsys.readouterr().out  # already there


def test_a_non_empty_folder_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    (folder / "drafts").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "init", str(folder)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert str(folder) in out.stderr and "not empty" in out.stderr
    assert "drafts, notes.txt" in out.stderr and "nothing was written" in out.stderr
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigurationError, match="a file of that name exists"):
        init_project("file", tmp_path)


@pytest.mark.parametrize(
    ("name", "package", "expected"),
    [
        ("", None, "must start with a letter"),
        ("2nd-model", None, "must start with a letter"),
        ("bad*name", None, "only letters, digits, spaces"),
        ("trailing-", None, "end with a letter or digit"),
        (".hidden", None, "Got '.hidden' instead"),
        ("x" * 65, None, "at most 64 characters"),
        ("my/project", None, "the whole path on the command line"),
        ("Class", None, "'class' (derived from the project name 'Class') is a Python keyword"),
        ("JSON", None, "would shadow the module 'json'"),
        ("workbench", None, "would shadow the module 'workbench'"),
        ("fine", "Not-A-Package", "must be a lower-case Python identifier"),
    ],
)
def test_an_unusable_name_is_refused_with_the_rule(
    tmp_path: Path, name: str, package: str | None, expected: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(expected)):
        init_project(name, tmp_path, package=package)
    assert list(tmp_path.iterdir()) == []


def test_names_derive_the_package_and_the_distribution() -> None:
    names = init_module.project_names("My Project.v2")
    assert (names.package, names.distribution) == ("my_project_v2", "my-project-v2")
    assert init_module.project_names("My Project", "energy").package == "energy"


def test_a_failure_half_way_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str) -> dict[str, Any]:
        raise RuntimeError(f"cannot run {path}")

    monkeypatch.setattr(init_module.runpy, "run_path", broken)
    with pytest.raises(RuntimeError, match=r"dataset\.py"):
        init_project("new", tmp_path)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError):
        init_project("empty", tmp_path)
    assert list((tmp_path / "empty").iterdir()) == []  # the folder stays, empty as it was


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (  # an editable checkout: said on the command line, never written into the project
            {"url": "file:///srv/work%20bench", "dir_info": {"editable": True}},
            ("", "/srv/work bench"),
        ),
        (  # a wheel file of this machine: the same
            {"url": "file:///tmp/dist/mlops_workbench-0.1.0-py3-none-any.whl"},
            ("", "/tmp/dist/mlops_workbench-0.1.0-py3-none-any.whl"),
        ),
        (
            {"url": "https://example.org/workbench", "vcs_info": {"vcs": "git", "commit_id": "ab"}},
            ("git+https://example.org/workbench@ab", ""),
        ),
        (None, ("mlops-workbench==0.1.0", "")),  # from a package index, under our own name
    ],
)
def test_the_makefile_and_ci_install_the_workbench_from_where_it_came(
    monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, Any] | None, expected: tuple[str, str]
) -> None:
    asked: list[str] = []

    class Distribution:
        def read_text(self, name: str) -> str | None:
            return None if direct_url is None else json.dumps(direct_url)

    def distribution(name: str) -> Distribution:
        asked.append(name)
        return Distribution()

    monkeypatch.setattr(init_module.importlib.metadata, "distribution", distribution)
    source = init_module.workbench_source(workbench.__version__)
    assert (source.portable, source.local) == expected
    assert asked == ["mlops-workbench"]


def _machine_paths() -> set[str]:
    """Paths of this machine a generated project must not name: this checkout, the folder
    the imported workbench lives in, and where the installed one came from (PEP 610)."""
    paths = {str(REPO), str(Path(workbench.__file__).resolve().parents[1])}
    for name in ("mlops-workbench", "workbench"):  # an older install has the old name
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            raw = importlib.metadata.distribution(name).read_text("direct_url.json")
            url = json.loads(raw or "{}").get("url", "")
            if url.startswith("file://"):
                paths.add(unquote(urlparse(url).path).rstrip("/"))
    return paths


def assert_names_no_machine_path(root: Path, *more: str) -> None:
    """No file of the generated project names a path of the machine that made it."""
    needles = {p for p in (*_machine_paths(), *more) if p and p != "/"}
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            found = [n for n in needles if n in text]
            assert not found, f"{path.relative_to(root)} names {found}"


def test_a_generated_project_names_no_path_of_this_machine(created: Created) -> None:
    assert_names_no_machine_path(created.root, str(created.root.parent))
    makefile = (created.root / "Makefile").read_text()
    assert re.search(
        r"^WORKBENCH \?= (mlops-workbench==\S+|git\+\S+|https://\S+)?$", makefile, re.M
    )
    # the apps come along, the project's own to edit, the same notebooks as the workbench's
    apps = sorted(p.name for p in (created.root / "apps").glob("*.ipynb"))
    assert apps == sorted(p.name for p in (REPO / "apps").glob("*.ipynb"))
    for name in apps:
        assert (created.root / "apps" / name).read_bytes() == (REPO / "apps" / name).read_bytes()


def test_init_says_on_the_command_line_where_a_local_workbench_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    local = str(tmp_path / "wheels" / "mlops_workbench-0.1.0-py3-none-any.whl")
    monkeypatch.setattr(
        init_module, "workbench_source", lambda version: init_module.WorkbenchSource("", local)
    )
    assert main(["init", str(tmp_path / "churn")]) == 0
    out = capsys.readouterr().out
    assert f"make demo WORKBENCH={local}" in out
    assert_names_no_machine_path(tmp_path / "churn", local, str(tmp_path))
    makefile = (tmp_path / "churn" / "Makefile").read_text()
    assert "\nWORKBENCH ?= \n" in makefile  # nothing to write: make asks for it
    ci = yaml.safe_load((tmp_path / "churn" / ".github/workflows/ci.yml").read_text())
    assert ci["jobs"]["test"]["env"]["WORKBENCH"] == "${{ vars.WORKBENCH_REQUIREMENT }}"
    # an environment without the workbench, and no WORKBENCH: make says what to give it
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    install = subprocess.run(
        ["make", "install", f"VENV={bare}"],
        cwd=tmp_path / "churn",
        capture_output=True,
        text=True,
        env=_env(tmp_path / "churn"),
    )
    assert install.returncode == 2, install.stdout + install.stderr
    assert "has no workbench yet: make install WORKBENCH=<" in install.stdout


def test_init_help_explains_the_layout_and_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["init", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for expected in ("NAME", "--package", "Cookiecutter", "papermill", "empty", "make demo"):
        assert expected in text, expected
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert "workbench init" in capsys.readouterr().out
