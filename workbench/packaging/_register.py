"""Log a pipeline with signature, input example and pinned requirements; register it."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ModelError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._tracking import mlflow_for

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PackagedModel", "package_model", "pinned_requirements"]

_log = logging.getLogger(__name__)

# What a scikit-learn pyfunc needs at load time. Pinned from this environment, which takes
# ~0.1 s, instead of MLflow's requirement inference (~2.7 s, it re-imports the model).
_RUNTIME_DISTRIBUTIONS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")

# skops (MLflow's default sklearn format) refuses HistGradientBoosting and RandomForest as
# "untrusted types"; cloudpickle loads anything, so it is only for models from our own
# registry, which the serving layer enforces (models are never loaded from request paths).
_SERIALIZATION = "cloudpickle"
_SERIALIZATION_REASON = (
    "cloudpickle: skops refuses HistGradientBoosting/RandomForest internals as untrusted "
    "types; models are loaded only from this registry"
)


@dataclasses.dataclass(frozen=True)
class PackagedModel:
    """A registered model version.

    Attributes:
        name: Registered model name.
        version: Version number in the registry.
        alias: Alias that now points at this version.
        run_id: The run the model was logged under.
        model_uri: ``models:/<name>@<alias>``.
    """

    name: str
    version: int
    alias: str
    run_id: str
    model_uri: str


def pinned_requirements(distributions: Iterable[str] = _RUNTIME_DISTRIBUTIONS) -> list[str]:
    """``name==version`` for each installed distribution (skipping absent ones)."""
    pins = []
    for dist in distributions:
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            _log.debug("%s is not installed; not pinned", dist)
    return pins


def package_model(
    model: Any,
    sample: pd.DataFrame,
    name: str,
    *,
    run_id: str,
    alias: str = "champion",
    reference: pd.DataFrame | None = None,
    description: str | None = None,
    settings: Settings | None = None,
) -> PackagedModel:
    """Log ``model`` under ``run_id``, register a new version of ``name``, set ``alias``.

    The logged model carries a signature inferred from ``sample`` and the model's own
    predictions on it, the first rows of ``sample`` as input example, and requirements
    pinned from the installed versions. ``reference`` (the training data) is stored with
    the run as ``reference/reference.parquet`` for monitoring to compare against.

    Args:
        model: A fitted scikit-learn estimator or pipeline.
        sample: Input rows representative of training data (columns in model order).
        name: Registered model name.
        run_id: Run to log under (from ``workbench.tuning.fit_baseline``).
        alias: Alias to point at the new version.
        reference: Reference data for monitoring.
        description: Free text for the version.
        settings: Settings to use (default: the process-wide ones).

    Returns:
        A :class:`PackagedModel`.

    Raises:
        ModelError: The model cannot predict on ``sample`` or registration fails.
    """
    s = settings or get_settings()
    mlflow = mlflow_for(s)
    models = require("mlflow.models")
    sklearn_flavor = require("mlflow.sklearn")
    if sample.empty:
        raise ModelError(f"The sample for model {name!r} is empty; pass training rows.")
    try:
        predictions = model.predict(sample)
    except Exception as exc:
        raise ModelError(
            f"Model {name!r} cannot predict on the sample it is packaged with: {exc}"
        ) from exc
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values; the signature is
        # inferred from real training rows, which is the remedy the hint itself suggests.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = models.infer_signature(sample, predictions)
    client = mlflow.MlflowClient()
    with mlflow.start_run(run_id=run_id):
        info = sklearn_flavor.log_model(
            model,
            name="model",
            signature=signature,
            input_example=sample.head(5),
            pip_requirements=pinned_requirements(),
            serialization_format=_SERIALIZATION,
            registered_model_name=name,
        )
        mlflow.set_tag("workbench.serialization", _SERIALIZATION_REASON)
        if reference is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "reference.parquet"
                reference.to_parquet(path, index=False)
                mlflow.log_artifact(str(path), artifact_path="reference")
    version = info.registered_model_version
    if version is None:
        raise ModelError(f"Model {name!r} was logged but not registered; check the registry.")
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), "serialization", _SERIALIZATION)
    if description:
        client.update_model_version(name, str(version), description=description)
    _log.info("registered %s version %s as @%s", name, version, alias)
    return PackagedModel(
        name=name,
        version=int(version),
        alias=alias,
        run_id=run_id,
        model_uri=f"models:/{name}@{alias}",
    )
