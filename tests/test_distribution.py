"""The workbench's distribution has a name of its own: ``workbench`` on the package index is
an unrelated project, so no requirement, install hint or metadata lookup of ours may name
it (a requirement on it installs someone else's code: dependency confusion)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from workbench._init import DISTRIBUTION

REPO = Path(__file__).resolve().parents[1]

# `workbench==1`, `workbench[gpu]`, `pip install workbench`, metadata.version("workbench")
BARE = re.compile(
    r"""(?<![\w./-])workbench(\[[\w,]+\]|\s*(==|~=|>=|<=))"""
    r"""|pip install\s+['"]?workbench\b(?!-)"""
    r"""|metadata\.(version|distribution|requires|files|metadata)\(\s*['"]workbench['"]"""
    r"""|\b\w*version\(\s*['"]workbench['"]\s*\)"""  # `from importlib.metadata import version`
)
# Files that name the bare distribution only to assert it is gone; none may be added.
KNOWN = {
    "tests/tuning/test_clusters.py",  # the cuda install hint no longer says 'workbench[gpu]'
}


def test_the_distribution_is_mlops_workbench() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION == "mlops-workbench"
    assert project["scripts"]["workbench"] == "workbench._cli:main"  # the command keeps its name


def test_no_requirement_or_lookup_names_the_bare_workbench() -> None:
    files = [
        *REPO.glob("workbench/**/*.py"),
        *REPO.glob("workbench/templates/**/*"),
        *REPO.glob("notebooks/*.ipynb"),
        *REPO.glob("apps/*.ipynb"),
        *(p for p in REPO.glob("tests/**/*.py") if p.name != "test_distribution.py"),
        *REPO.glob("benchmarks/*"),
        *REPO.glob("deploy/**/*"),
        *REPO.glob("docs/**/*.md"),
        REPO / "README.md",
        REPO / "Makefile",
        REPO / "environment.yml",
        REPO / "pyproject.toml",
    ]
    found = {}
    for path in files:
        if path.is_file():
            hits = BARE.findall(path.read_text(errors="replace"))
            if hits:
                found[path.relative_to(REPO).as_posix()] = len(hits)
    assert set(found) <= KNOWN, found


def test_the_pattern_catches_what_it_is_for() -> None:
    for bad in (
        "dependencies = ['workbench~=0.1.0']",
        "pip install 'workbench[gpu]'",
        "pip install workbench",
        'importlib.metadata.version("workbench")',
        "installed_version('workbench')",
        "workbench==0.1.0",
    ):
        assert BARE.search(bad), bad
    for fine in (
        "pip install mlops-workbench",
        "mlops-workbench[gpu]",
        "[tool.workbench]",
        "import workbench",
        "workbench serve models:/x@champion",
        "pip install workbench-cli-extra",
    ):
        assert not BARE.search(fine), fine
