"""A venv of its own for each tool whose pins clash with ours, created on first use."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent


def tool_python(name: str, packages: list[str], why: str) -> Path:
    """``benchmarks/.venv-<name>/bin/python``, creating the venv with ``packages``."""
    folder = HERE / f".venv-{name}"
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"creating benchmarks/.venv-{name} ({why}) ...", flush=True)
        venv.create(folder, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python
