"""MLflow mechanics of packaging: the run, the logged model, the registered version.

This is the one module of packaging that touches MLflow's private internals, each for a
reason written beside it: :func:`log_model` resumes the run without the fluent API's
active experiment (``mlflow.tracking.fluent._active_experiment_id``), and skips
``mlflow.models.utils._validate_serving_input``, MLflow's in-process check of the input
example, which the fresh-process check replaces. Both are undone when logging ends, and
both degrade to MLflow's own behaviour if MLflow renames them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ModelError
from workbench._imports import require
from workbench._settings import Settings
from workbench._tracking import ensure_experiment
from workbench.packaging._model import final_estimator, plain_value

if TYPE_CHECKING:
    import pandas as pd

    from workbench.packaging._signature import Serialization

__all__ = ["local_or_uri", "log_model", "new_run", "register_version", "unregister_version"]

_log = logging.getLogger(__name__)
# one patch of MLflow's module at a time (two threads packaging at once)
_PATCH_LOCK = threading.Lock()


def log_model(
    mlflow: Any,
    run_id: str,
    model: Any,
    *,
    signature: Any,
    example: pd.DataFrame,
    requirements: list[str],
    serialization: Serialization,
    code_paths: Sequence[str] | None,
) -> Any:
    """Log ``model`` under run ``run_id`` as ``model``, written as ``serialization`` chose,
    with its signature, input example and pinned requirements (MLflow's ``ModelInfo``)."""
    sklearn_flavor = require("mlflow.sklearn", feature="model packaging")
    with _in_run(mlflow, run_id), _without_mlflow_example_check():
        return sklearn_flavor.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
            serialization_format=serialization.format,
            skops_trusted_types=list(serialization.trusted_types) or None,
            code_paths=list(code_paths) if code_paths else None,
        )


@contextlib.contextmanager
def _in_run(mlflow: Any, run_id: str) -> Iterator[None]:
    """Resume ``run_id`` whatever the session's active experiment or run.

    ``mlflow.start_run(run_id=...)`` refuses a run of another experiment than the one
    ``mlflow.set_experiment`` chose, and a second run while one is active; a notebook
    user who set an experiment, or is inside a run, must still be able to package.
    """
    fluent = mlflow.tracking.fluent
    saved = getattr(fluent, "_active_experiment_id", None)
    if saved is not None:
        fluent._active_experiment_id = None
    try:
        with mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None):
            yield
    finally:
        if saved is not None:
            fluent._active_experiment_id = saved


@contextlib.contextmanager
def _without_mlflow_example_check() -> Iterator[None]:
    """Skip MLflow's in-process check of the input example while logging.

    ``log_model`` loads the model it just saved and predicts the example in this process
    (0.2 s), and only logs a warning if that fails. The fresh-process check that follows
    does the same where a server would, compares the predictions, and fails the
    packaging. If MLflow renames the helper, its check simply runs.
    """
    utils = require("mlflow.models.utils")
    original = getattr(utils, "_validate_serving_input", None)
    if original is None:
        yield
        return
    with _PATCH_LOCK:
        setattr(utils, "_validate_serving_input", lambda *args, **kwargs: None)  # noqa: B010
        try:
            yield
        finally:
            setattr(utils, "_validate_serving_input", original)  # noqa: B010


def new_run(client: Any, model: Any, name: str, experiment: str, s: Settings) -> str:
    """A finished run ``package <name>`` holding the estimator's parameters."""
    entities = require("mlflow.entities")
    run = client.create_run(ensure_experiment(experiment, s), run_name=f"package {name}")
    client.log_batch(
        run.info.run_id,
        params=[
            entities.Param(f"model.{k}", str(plain_value(v))[:500])
            for k, v in sorted(final_estimator(model).get_params(deep=False).items())
        ],
    )
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def local_or_uri(client: Any, info: Any) -> str:
    """The logged model's folder when the artifact store is local (the fresh process then
    needs no tracking store: opening a SQLite store costs a new process seconds), else its
    ``models:/`` URI."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    location = str(client.get_logged_model(info.model_id).artifact_location)
    if location.startswith("file:"):
        return url2pathname(urlsplit(location).path)
    if location.startswith("/"):
        return location
    return str(info.model_uri)


def register_version(
    client: Any,
    name: str,
    info: Any,
    run_id: str,
    tags: Mapping[str, str],
    description: str,
) -> tuple[int, bool]:
    """Create the version with its tags (and the registered model if new); wait until ready."""
    exceptions = require("mlflow.exceptions")
    created = False
    try:
        client.get_registered_model(name)
    except exceptions.MlflowException:
        try:
            client.create_registered_model(name)
            created = True
        except exceptions.MlflowException:  # another process created it meanwhile
            client.get_registered_model(name)
    try:
        version = client.create_model_version(
            name,
            info.model_uri,
            run_id=run_id,
            tags=dict(tags),
            description=description or None,
            model_id=info.model_id,
        )
        deadline = time.monotonic() + 300
        while version.status == "PENDING_REGISTRATION" and time.monotonic() < deadline:
            time.sleep(0.2)
            version = client.get_model_version(name, version.version)
        if version.status != "READY":
            raise ModelError(f"Version {version.version} of {name!r} is {version.status}.")
    except BaseException:
        if "version" in locals():
            unregister_version(client, name, int(version.version), created)
        elif created and not client.search_model_versions(f"name = '{name}'"):
            client.delete_registered_model(name)
        raise
    return int(version.version), created


def unregister_version(client: Any, name: str, version: int, created_model: bool) -> None:
    try:
        client.delete_model_version(name, str(version))
        if created_model and not client.search_model_versions(f"name = '{name}'"):
            client.delete_registered_model(name)
    except Exception:  # the original error is the one to report
        _log.exception("could not remove %s version %s after a failure", name, version)
