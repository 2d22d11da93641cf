"""Packaging stands on the floors below it: it imports no later stage, and the two
foundation modules it shares with the stages around it (pinning, the registered-version
seam) import no stage at all. Tuning, below packaging, does not import it (the cycle
tuning → packaging → tuning is gone).

The scan reads the source (AST), so it also sees imports inside functions, through
``require()`` or ``importlib``; see :mod:`tests.presentation.test_import_rule`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..presentation.test_import_rule import imports, is_presentation

PACKAGE = Path(__file__).resolve().parents[2] / "workbench"
STAGES = ("data", "explore", "features", "tuning", "packaging", "serving", "monitoring")
#: What each scanned part may not import (a later stage, presentation, the top floor).
ABOVE_PACKAGING = (
    "workbench.serving",
    "workbench.monitoring",
    "workbench.presentation",
    "workbench._cli",
    "workbench._demo",
    "workbench._init",
    "workbench._jupyter",
    "workbench._notebooks",
)
# None left: the reference profile packaging writes and monitoring reads is foundation
# (workbench/_reference_profile.py).
ALLOWED: set[tuple[str, str]] = set()


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(paths: list[Path]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for path in paths:
        module = _module(path)
        for line, name in imports(path.read_text(encoding="utf-8"), module):
            if name.startswith("workbench"):
                found.setdefault((module, name), line)
    return found


def _breaking(found: dict[tuple[str, str], int], banned: tuple[str, ...]) -> set[tuple[str, str]]:
    return {
        (module, next(b for b in banned if name == b or name.startswith(b + ".")))
        for (module, name) in found
        if any(name == b or name.startswith(b + ".") for b in banned)
    }


def test_packaging_imports_no_later_stage() -> None:
    """Packaging's compute; its figures and widgets stand on the presentation floor, where
    the kit is below them (tests/test_layers.py checks that floor)."""
    packaging = [
        p for p in sorted((PACKAGE / "packaging").glob("*.py")) if not is_presentation(_module(p))
    ]
    assert len(packaging) > 5
    broken = _breaking(_imports_of(packaging), ABOVE_PACKAGING)
    assert broken - ALLOWED == set(), sorted(broken - ALLOWED)
    assert ALLOWED - broken == set(), "cleared: remove these from ALLOWED"


def test_packaging_reads_tuning_only_through_lower_floors() -> None:
    """The metrics are ``workbench._metrics``, pinning ``workbench._requirements``:
    packaging needs no private tuning module."""
    packaging = sorted((PACKAGE / "packaging").glob("*.py"))
    private = {
        (module, name)
        for (module, name) in _imports_of(packaging)
        if name.startswith("workbench.tuning._")
    }
    assert private == set()


def test_tuning_does_not_import_packaging() -> None:
    tuning = sorted((PACKAGE / "tuning").glob("*.py"))
    assert _breaking(_imports_of(tuning), ("workbench.packaging",)) == set()


def test_the_seam_and_pinning_import_no_stage() -> None:
    shared = [PACKAGE / "_versions.py", PACKAGE / "_requirements.py"]
    stages = tuple(f"workbench.{s}" for s in STAGES) + ABOVE_PACKAGING
    assert _breaking(_imports_of(shared), stages) == set()


def test_the_seam_and_pinning_load_nothing_heavy() -> None:
    """Serving, monitoring and tuning import them at the top: MLflow, pandas and the
    rest load only when a version is read or a model pinned."""
    code = (
        "import sys, workbench._versions, workbench._requirements; "
        "print(sorted({'mlflow', 'pandas', 'numpy', 'sklearn', 'cloudpickle'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pinned_requirements_stays_public_in_packaging() -> None:
    from workbench import _requirements, packaging

    assert packaging.pinned_requirements is _requirements.pinned_requirements
    assert "pinned_requirements" in packaging.__all__
