"""MLflow, resolved from settings when first needed (never at import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._sqlite import fast_sqlite
from workbench._storage import make_dir

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["configured_ui_url", "ensure_experiment", "mlflow_for", "ui_url"]


def mlflow_for(settings: Settings | None = None) -> ModuleType:
    """Return the ``mlflow`` module pointed at the settings' tracking and registry URI.

    The embedded default is a SQLite file under the project's ``.workbench`` folder; its
    folder is created here so the first use needs no setup, and it is put in WAL mode
    with cheap commits (see :mod:`workbench._sqlite`).
    """
    s = settings or get_settings()
    mlflow = require("mlflow", feature="experiment tracking")
    _no_telemetry_unless_asked()
    if s.tracking_uri.startswith("sqlite:///"):
        make_dir(
            Path(s.tracking_uri.removeprefix("sqlite:///")).parent,
            "the MLflow store",
            "tracking_uri",
        )
        fast_sqlite(s.tracking_uri)
    if urlsplit(s.tracking_uri).password is not None:
        # MLflow prints "View run ... at: <tracking URI>/#/..." when a run ends: with the
        # password in it, on the console and in every executed notebook.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # MLflow also writes the URI into MLFLOW_TRACKING_URI (and the registry's variable)
    # for subprocesses to inherit; the settings read that variable first, so it would
    # point every later project of this process, and every server or kernel it starts
    # for another project, at this store. The process keeps MLflow's own globals; the
    # environment keeps what the user set.
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(s.tracking_uri)
    mlflow.set_registry_uri(s.tracking_uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return mlflow


def _no_telemetry_unless_asked() -> None:
    """Drop MLflow's telemetry client where MLflow was imported before the workbench set
    ``MLFLOW_DISABLE_TELEMETRY`` (``import workbench`` sets it unless the user did)."""
    if os.environ.get("MLFLOW_DISABLE_TELEMETRY", "").lower() not in ("true", "1"):
        return
    from mlflow.telemetry import get_telemetry_client, set_telemetry_client

    if get_telemetry_client() is not None:
        set_telemetry_client()  # type: ignore[no-untyped-call]  # re-reads the variable


def ensure_experiment(name: str, settings: Settings | None = None) -> str:
    """Get or create the experiment ``name``, with artifacts under the settings' folder;
    on a tracking server (``http(s)://``) where the server puts them (its proxied artifact
    store, reachable by every machine), unless ``artifact_dir`` is set explicitly.

    Returns:
        The experiment id.
    """
    s = settings or get_settings()
    mlflow = mlflow_for(s)
    experiment: Any = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    server = s.tracking_uri.startswith(("http://", "https://"))
    location = None
    if not server or s.sources.get("artifact_dir", "default") != "default":
        make_dir(s.artifact_dir, "MLflow's artifacts", "artifact_dir")
        location = s.artifact_dir.as_uri()
    try:
        return str(mlflow.create_experiment(name, artifact_location=location))
    except mlflow.exceptions.MlflowException:  # created meanwhile by another thread or process
        again: Any = mlflow.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


def ui_url(settings: Settings | None = None, fragment: str = "") -> str:
    """The MLflow UI address for the settings' store, with ``#/...`` ``fragment`` appended.

    A tracking server serves its own UI; for the embedded SQLite store it is where
    ``mlflow ui --backend-store-uri <tracking_uri>`` listens by default.
    """
    s = settings or get_settings()

    base = configured_ui_url(s) or "http://127.0.0.1:5000"
    return f"{base}/{fragment}" if fragment else base


def configured_ui_url(settings: Settings | None = None, fragment: str = "") -> str | None:
    """The MLflow UI address people can open, with ``fragment`` appended: the
    ``mlflow_ui_url`` setting, else the tracking server's address; ``None`` for an
    embedded store (nothing serves its UI unless someone runs ``mlflow ui``), so an app
    offers no link that leads nowhere."""
    s = settings or get_settings()
    from workbench._urls import redact_url

    if s.mlflow_ui_url:
        base = redact_url(s.mlflow_ui_url).rstrip("/")
    elif s.tracking_uri.startswith(("http://", "https://")):
        base = redact_url(s.tracking_uri).rstrip("/")
    else:
        return None
    return f"{base}/{fragment}" if fragment else base
