from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbench._cli import build_parser


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, cwd=cwd
    )


def test_top_level_help_lists_every_subcommand_and_examples() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for command in ("demo", "lab", "dashboard", "serve", "features", "package", "promote"):
        assert command in out.stdout
    assert "WORKBENCH_" in out.stdout and "examples:" in out.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("demo", ["--factories", "--change-date", "--no-report", "quarantined"]),
        ("lab", ["--port", "127.0.0.1", "--no-browser"]),
        ("dashboard", ["monitoring", "--port", "Voilà"]),
        ("serve", ["MODEL_URI", "/invocations", "--log-dir", "--threads", "SIGTERM"]),
        ("features", ["list", "apply", "materialize", "--online", "features.py", "--start"]),
        ("package", ["MODEL", "--data", "--target", "skops", "fresh process", "--promote"]),
        ("promote", ["NAME", "--holdout", "--force", "previous_champion", "--metric"]),
    ],
)
def test_each_subcommand_has_a_helpful_help(command: str, expected: list[str]) -> None:
    out = _run(command, "--help")
    assert out.returncode == 0, out.stderr
    for text in expected:
        assert text in out.stdout, f"{text!r} missing from `workbench {command} --help`"
    assert "--project-dir" in out.stdout


def test_version() -> None:
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.startswith("workbench ")


def test_serve_refuses_a_file_path_with_a_clear_error(tmp_path: Path) -> None:
    out = _run("serve", "/tmp/model.pkl", "--project-dir", str(tmp_path))
    assert out.returncode == 2
    assert "must be a registry or run URI" in out.stderr
    assert "Traceback" not in out.stderr


def test_dashboard_names_a_missing_app(tmp_path: Path) -> None:
    out = _run("dashboard", "no-such-app", "--project-dir", str(tmp_path))
    assert out.returncode == 2
    assert "No app 'no-such-app'" in out.stderr


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["demo"])
    assert (args.factories, args.change_date, args.no_report) == (20, "2024-07-01", False)


def test_features_apply_materialize_list(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame(
        {
            "shop": ["a", "a", "b", None],
            "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-01"]),
            "sales": [1.0, 2.0, 3.0, 4.0],
        }
    ).to_parquet(tmp_path / "shops.parquet")
    (tmp_path / "features.py").write_text(
        "from workbench.features import Entity, FeatureView, Source, Window\n"
        "daily = FeatureView('daily', Entity('shop', 'shop'), Source.parquet('shops.parquet'),\n"
        "                    'day', features=['sales'], transformations=[Window('sales', 2)])\n"
    )
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shops'\n")
    applied = _run("features", "apply", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "daily: version 1 (first definition)" in applied.stdout
    done = _run("features", "materialize", "--online", "--end", "2024-01-01", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "daily v1: 2 rows" in done.stdout and "1 rejected" in done.stdout
    assert "daily v1: 2 keys online" in done.stdout
    listed = _run("features", "list", cwd=tmp_path)
    assert "daily" in listed.stdout and listed.returncode == 0
    missing = _run("features", "materialize", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "No feature view named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_run_notebooks_executes_each_and_reports_the_failures(tmp_path: Path) -> None:
    import nbformat

    root = tmp_path / "project"
    for folder in ("notebooks", "apps"):
        (root / folder).mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n')

    def notebook(path: Path, *cells: str) -> None:
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(
                'project_dir = ""\nsize = 1', metadata={"tags": ["parameters"]}
            ),
            *[nbformat.v4.new_code_cell(c) for c in cells],
        ]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, path)

    notebook(root / "notebooks" / "01_ok.ipynb", "print('size is', size * 2)")
    notebook(root / "notebooks" / "02_bad.ipynb", "raise ValueError('boom')")
    notebook(
        root / "apps" / "app.ipynb",
        "from workbench import resolve_settings\n"
        "print(f'given {project_dir!r}, working in {resolve_settings().project_dir}')",
    )
    out = tmp_path / "build"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "workbench", "run-notebooks"),
            *("--project-dir", str(root), "--out", str(out)),
            *("-p", "size=21", "-p", "unused=1"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED notebooks/02_bad.ipynb" in run.stdout and "ValueError: boom" in run.stdout
    assert "2 of 3 notebooks ran" in run.stdout
    executed = nbformat.read(out / "notebooks" / "01_ok.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "size is 42" in printed  # the -p value reached the notebook that declares it
    # no project_dir forced on a notebook (a tutorial keeps its folder of its own); the
    # kernel still works in the project
    app = nbformat.read(out / "apps" / "app.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in app.cells for o in c.get("outputs", []))
    assert f"given '', working in {root.resolve()}" in printed, printed
    for name in ("notebooks/01_ok", "notebooks/02_bad", "apps/app"):
        assert (out / f"{name}.ipynb").exists() and (out / f"{name}.html").exists()
    assert "boom" in (out / "notebooks" / "02_bad.html").read_text()


def test_bare_workbench_lists_each_command_on_a_line_and_exits_1_as_git_does() -> None:
    out = _run()
    assert out.returncode == 1, out.stderr
    assert "required" not in out.stderr and out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[0].startswith("usage: workbench")
    commands = ("init", "demo", "lab", "dashboard", "run-notebooks", "serve", "features")
    for command in (*commands, "package", "promote"):
        [line] = [x for x in lines if x.split()[:1] == [command]]  # one line per command
        assert len(line.split()) > 2, line  # with what it does
    assert "workbench COMMAND --help" in out.stdout


def _outside_any_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An empty folder with no pyproject.toml in it or above it, and an environment
    without WORKBENCH_PROJECT_DIR."""
    import os

    folder = tmp_path / "somewhere"
    folder.mkdir()
    assert not [p for p in (folder, *folder.parents) if (p / "pyproject.toml").exists()]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "MLFLOW_"))}
    return folder, env


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "models:/churn@champion"],
        ["dashboard"],
        ["features", "list"],
        ["promote", "churn", "--holdout", "h.csv", "--target", "y"],
        ["demo", "--factories", "1"],
        ["run-notebooks"],
    ],
    ids=lambda c: c[0],
)
def test_outside_a_project_a_command_says_so_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    folder, env = _outside_any_project(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "workbench", *command],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"{folder} is not inside a project" in out.stderr
    assert "--project-dir" in out.stderr and "WORKBENCH_PROJECT_DIR" in out.stderr
    assert "Traceback" not in out.stderr
    assert list(folder.iterdir()) == []  # no .workbench/mlflow.db, no data/


def test_the_project_is_found_from_a_folder_inside_it(tmp_path: Path) -> None:
    folder, env = _outside_any_project(tmp_path)
    (folder / "pyproject.toml").write_text('[project]\nname = "p"\n')
    (folder / "notebooks").mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "dashboard", "no-such-app"],
        capture_output=True,
        text=True,
        cwd=folder / "notebooks",
        env=env,
    )
    assert out.returncode == 2
    assert f"{folder / 'apps'}" in out.stderr  # looked in the project's apps/, found above
    given = subprocess.run(  # and a folder named on purpose that does not exist
        [sys.executable, "-m", "workbench", "dashboard", "--project-dir", "nope"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
    )
    assert given.returncode == 2 and "does not exist" in given.stderr
    assert not (folder / "nope").exists() and not (folder / ".workbench").exists()
