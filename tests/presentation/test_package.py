"""The kit's public face: its names, and an import that loads no display package."""

from __future__ import annotations

import subprocess
import sys

import workbench.presentation as kit


def test_every_public_name_is_there() -> None:
    assert sorted(kit.__all__) == sorted(set(kit.__all__))
    for name in kit.__all__:
        assert getattr(kit, name) is not None, name


def test_importing_the_kit_loads_no_display_package() -> None:
    heavy = ["plotly", "ipywidgets", "anywidget", "IPython", "nbconvert", "pandas", "numpy"]
    code = f"import sys, workbench.presentation; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_docstring_examples_run() -> None:
    import doctest
    import importlib

    for name in ("_formats", "_cards", "_tables", "_empty", "_theme"):
        module = importlib.import_module(f"workbench.presentation.{name}")
        failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert failed == 0 and attempted > 0, name
