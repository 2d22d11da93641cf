"""Where ``workbench demo`` may write: never over a project's own data or model.

The demo writes a raw export, its contract, the valid rows, the quarantine and a training
set under the project's ``data/`` folder, and registers and promotes ``model_name``. In a
project of the user's own (one made by ``workbench init`` ships a sample
``data/raw/electricity.csv`` and names its model after itself) that would replace their
data and their ``@champion``. So the demo keeps a record of what it wrote
(``.workbench/demo.json``: each file's SHA-256 and the model name) and writes a project
only when everything it would touch there is absent or still as it left it; otherwise it
works in a folder of its own, ``.workbench/demo``, and says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from workbench._settings import Settings, resolve_settings

__all__ = ["DEMO_FILES", "DEMO_MODEL", "demo_settings", "keep_record", "not_the_demos"]

#: The files the demo writes, relative to the project's data folder.
DEMO_FILES = (
    "raw/electricity.csv",
    "raw/electricity.contract.yaml",
    "interim/electricity_valid.parquet",
    "interim/electricity_quarantine.csv",
    "interim/electricity_failures.csv",
    "processed/electricity_features.parquet",
)
#: The model the demo registers when it works in a folder of its own.
DEMO_MODEL = "electricity-consumption"
#: Only the demo writes this (its monitoring report): a project where it lies, but no
#: record, ran the demo before the record was kept.
_EARLIER_DEMO = Path("reports") / "monitoring.ipynb"


def _record_path(settings: Settings) -> Path:
    return settings.home / "demo.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _model_registered(settings: Settings) -> bool:
    """Whether the settings' registry holds ``model_name``; ``False`` without asking when
    the embedded store does not exist yet (asking would create it)."""
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return False
    from workbench._tracking import mlflow_for

    mlflow = mlflow_for(settings)
    try:
        mlflow.MlflowClient().get_registered_model(settings.model_name)
    except mlflow.exceptions.MlflowException:
        return False
    return True


def not_the_demos(settings: Settings) -> list[str]:
    """What the demo would overwrite in this project that it did not write itself: files
    under ``data/`` (relative to the project when they lie in it) and the registered model.
    Empty when the project is the demo's to write."""
    record_file = _record_path(settings)
    if record_file.is_file():
        record = json.loads(record_file.read_text(encoding="utf-8"))
    elif (settings.home / _EARLIER_DEMO).is_file():
        return []  # the demo ran here before it kept a record: its files, its model
    else:
        record = {"files": {}, "model_name": None}
    found = []
    for relative in DEMO_FILES:
        path = settings.data_dir / relative
        if path.is_file() and record["files"].get(relative) != _digest(path):
            found.append(_shown(path, settings.project_dir))
    if record.get("model_name") != settings.model_name and _model_registered(settings):
        found.append(f"the registered model {settings.model_name!r}")
    return found


def demo_settings(settings: Settings, echo: Callable[[str], None] = print) -> Settings:
    """The settings the demo runs with: ``settings`` when the project is the demo's to
    write (see :func:`not_the_demos`); else those of ``.workbench/demo`` in it, under the
    model :data:`DEMO_MODEL`, after saying why."""
    theirs = not_the_demos(settings)
    if not theirs:
        return settings
    folder = settings.home / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    echo(
        f"This project has data of its own, which the demo leaves as it is: "
        f"{', '.join(theirs)}.\nThe demo works in {folder} instead: its own data, stores "
        f"and model {DEMO_MODEL!r}.\nPoint the commands at it with --project-dir {folder}.\n"
    )
    own = resolve_settings(folder)
    sources = {**own.sources, "model_name": "the demo's own folder"}
    return dataclasses.replace(own, model_name=DEMO_MODEL, sources=sources)


def keep_record(settings: Settings) -> Path:
    """Write down what the demo has written in ``settings``' project (each of
    :data:`DEMO_FILES` there with its SHA-256, and the model name), so that its next run
    may replace them."""
    files = {
        relative: _digest(settings.data_dir / relative)
        for relative in DEMO_FILES
        if (settings.data_dir / relative).is_file()
    }
    path = _record_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"files": files, "model_name": settings.model_name}, indent=2) + "\n",
        encoding="utf-8",
    )
    return path
