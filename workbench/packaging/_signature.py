"""Model signatures that survive missing values, and the serialization chosen on purpose."""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

from workbench._imports import require
from workbench._requirements import pickle_references

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Serialization", "choose_serialization", "infer_signature"]

# Types from these packages are what a scikit-learn pipeline is made of; skops may load
# them. Anything else (XGBoost boosters, a team's own transformers) is not trusted blindly.
# The workbench is not among them: a packaged model loads where it is not installed.
_TRUSTED_ROOTS = ("sklearn", "numpy", "scipy")
# ``FunctionTransformer(methodcaller("fillna", ...))``: the tuning pipelines' text step calls
# the input frame's own methods by name (see ``workbench.tuning._estimators``).
_TRUSTED_NAMES = ("operator.methodcaller",)


def _nullable_number(series: pd.Series) -> bool:
    """An integer or boolean column that holds, or may hold, missing values."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.BooleanDtype) or (
        isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dtype)
    ):
        return True
    if dtype == "object":
        kinds = {type(v) for v in series.dropna().head(1000)}
        return bool(kinds) and kinds <= {bool} and bool(series.isna().any())
    return False


def _type_name(spec: Any) -> str:
    """``double``, ``long``, ... of an MLflow column spec."""
    return str(getattr(spec.type, "name", spec.type))


def infer_signature(
    sample: pd.DataFrame, predictions: Any, nullable: set[str] | None = None
) -> Any:
    """MLflow's signature of ``sample`` → ``predictions``, with nullable columns usable.

    MLflow declares a pandas nullable integer or boolean column as ``long``/``boolean``;
    then a missing value fails schema enforcement ("cannot convert NA to integer"), and a
    JSON ``null`` in such a column arrives as a float. Those columns are declared
    ``double`` and optional instead (MLflow's own advice for integers that may be
    missing): integers and booleans are exact in a double, and missing values survive.
    A column with missing values in ``sample`` or named in ``nullable`` (from the data
    contract) is optional.
    """
    import pandas as pd

    models = require("mlflow.models", feature="model packaging")
    schema_mod = require("mlflow.types.schema")
    with warnings.catch_warnings():
        # The hint is about integer columns that may be missing: handled below.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        # the first rows and some with missing values say the types (all rows say below
        # which columns may be missing)
        probe = sample.head(1000)
        gaps = sample[sample.isna().any(axis=1)].head(100)
        inferred = models.infer_signature(
            pd.concat([probe, gaps]) if len(gaps) else probe, predictions
        )
    nullable = nullable or set()
    specs = []
    for spec in inferred.inputs.inputs:
        series = sample[spec.name]
        optional = not spec.required or spec.name in nullable or bool(series.isna().any())
        if _nullable_number(series) or (
            spec.name in nullable and _type_name(spec) in ("long", "integer", "boolean")
        ):
            specs.append(schema_mod.ColSpec("double", spec.name, required=False))
        else:
            specs.append(schema_mod.ColSpec(spec.type, spec.name, required=not optional))
    return models.ModelSignature(schema_mod.Schema(specs), inferred.outputs, inferred.params)


@dataclasses.dataclass(frozen=True)
class Serialization:
    """How a model is written, and why.

    Attributes:
        format: ``skops`` or ``cloudpickle``.
        trusted_types: The types skops is told to trust when it loads the model.
        reason: One sentence recorded with the model version.
        references: Every ``module.name`` the written model refers to (its classes,
            functions and reconstructors), read from the serialized bytes: what loading
            it imports, so what its requirements must install.
    """

    format: str
    trusted_types: tuple[str, ...]
    reason: str
    references: tuple[str, ...] = ()

    @property
    def modules(self) -> tuple[str, ...]:
        """The top-level modules of :attr:`references`."""
        return tuple(sorted({r.split(".", 1)[0] for r in self.references}))


def choose_serialization(model: Any) -> Serialization:
    """skops with the pipeline's own trusted types where it can, else cloudpickle.

    skops (MLflow's default) loads only types it is told to trust; MLflow's default trusts
    none beyond skops' built-in list, so ``HistGradientBoosting*`` (``TreePredictor``) and
    random forests (``Tree``) are refused. Types from scikit-learn, NumPy and SciPy are
    trusted here; a pipeline holding anything else, or that skops cannot write (local
    functions, lambdas), is written with cloudpickle, which loads anything, and the reason
    is recorded. Models are only ever loaded from the registry (never from a path a
    request names), so cloudpickle's risk is the registry's, not the network's.

    The :attr:`Serialization.references` are read from the bytes written here (skops'
    schema, or the pickle's globals), so the requirements pinned from them are what
    loading imports.
    """
    sio = require("skops.io", feature="skops serialization")
    try:
        data = sio.dumps(model)
        untrusted = sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:  # skops cannot represent it
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return Serialization(
            "cloudpickle",
            (),
            f"cloudpickle: skops cannot write this model ({reason})",
            pickle_references(model),
        )
    foreign = [
        t for t in untrusted if t.split(".", 1)[0] not in _TRUSTED_ROOTS and t not in _TRUSTED_NAMES
    ]
    if foreign:
        return Serialization(
            "cloudpickle",
            (),
            f"cloudpickle: the model holds types skops does not trust and workbench will not "
            f"trust blindly: {', '.join(foreign[:8])}",
            pickle_references(model),
        )
    reason = "skops" + (
        f", trusting the pipeline's scikit-learn/NumPy/SciPy types: {', '.join(untrusted)}"
        if untrusted
        else ": every type in the pipeline is trusted by skops"
    )
    return Serialization("skops", tuple(untrusted), reason, _skops_references(data))


def _skops_references(data: bytes) -> tuple[str, ...]:
    """``module.name`` of every node of a skops file (its ``schema.json``)."""
    import io
    import json
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    todo: list[Any] = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            module = node.get("__module__")
            if isinstance(module, str) and module:
                found.add(f"{module}.{node.get('__class__', '')}".rstrip("."))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return tuple(sorted(found))
