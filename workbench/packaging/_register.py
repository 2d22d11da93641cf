"""One call from a fitted pipeline to a verified, documented, registered model version.

``package_model`` logs the pipeline with a serialization chosen on purpose, a signature
that keeps nullable columns usable, an input example and requirements pinned from the
installed versions; checks the logged model in a fresh process; measures its cost;
registers a version with tags, an alias, a model card, the reference data and the data
contract. ``promote`` moves ``champion`` to the ``challenger`` only when it is not worse
on a holdout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import importlib.metadata
import json
import logging
import math
import numbers
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from workbench._exceptions import ConfigurationError, DataError, ModelError, PromotionRefused
from workbench._imports import require
from workbench._paths import check_name
from workbench._settings import Settings, get_settings
from workbench._tracking import ensure_experiment, mlflow_for, ui_url
from workbench._urls import redact_text, redact_url
from workbench.packaging._card import ModelCard, feature_rows, metric_entry, profile_columns
from workbench.packaging._signature import Serialization, choose_serialization, infer_signature
from workbench.packaging._verifier import replace_spare, spare_verifier

if TYPE_CHECKING:
    import pandas as pd

    from workbench.data import Contract

__all__ = [
    "PackagedModel",
    "Promotion",
    "card_of",
    "conform",
    "package_model",
    "pinned_requirements",
    "promote",
]

_log = logging.getLogger(__name__)

# What a scikit-learn pyfunc needs at load time. Pinned from this environment, which takes
# ~0.1 s, instead of MLflow's requirement inference (~2.7 s: it re-imports the model).
_RUNTIME_DISTRIBUTIONS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")
# A module whose distribution is named otherwise (the first one installed is pinned:
# XGBoost also ships as ``xgboost-cpu``). Other modules are looked up in the installed
# distributions' metadata.
_KNOWN_DISTRIBUTIONS = {
    "sklearn": ("scikit-learn",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "skops": ("skops",),
}
# Never a requirement of a model: it must load where the workbench is not installed (the
# ``workbench`` on the package index is another project).
_NEVER_PINNED = frozenset({"workbench", "__main__"})
_STEPS = 6
_EXAMPLE_ROWS = 5
_BATCH_ROWS = 1000


@dataclasses.dataclass(frozen=True)
class PackagedModel:
    """A registered, verified model version.

    Attributes:
        name: Registered model name.
        version: Version number in the registry.
        alias: Alias that now points at this version.
        run_id: The run the model was logged under.
        model_uri: ``models:/<name>@<alias>``.
        version_uri: ``models:/<name>/<version>`` (stays put when the alias moves).
        logged_model_uri: The logged model (``models:/m-...``).
        serialization: The format chosen and why.
        card: The model card (also stored with the run, as Markdown, HTML and JSON).
        card_uri: Where the card's HTML lives (``runs:/<run>/packages/...``).
        reference_uri: The reference data monitoring compares production against.
        ui_url: The version's page in the MLflow UI.
        seconds: Wall time of the packaging, and of the cost measurement within it.
    """

    name: str
    version: int
    alias: str
    run_id: str
    model_uri: str
    version_uri: str
    logged_model_uri: str
    serialization: Serialization
    card: ModelCard
    card_uri: str
    reference_uri: str
    ui_url: str
    seconds: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Promotion:
    """The outcome of :func:`promote`.

    Attributes:
        name: Registered model name.
        version: The version now under the ``champion`` alias.
        previous: The version that held it before (``None`` if there was none).
        metric: The holdout metric compared, and ``direction`` whether lower is better.
        challenger_score, champion_score: Their holdout scores (``None`` without a champion).
        forced: Promoted although it scored worse.
        rows: Holdout rows compared on.
        reason: One sentence on why it was (or was not) promoted.
    """

    name: str
    version: int
    previous: int | None
    metric: str
    direction: str
    challenger_score: float
    champion_score: float | None
    forced: bool
    rows: int
    reason: str


def pinned_requirements(
    distributions: Iterable[str] = _RUNTIME_DISTRIBUTIONS,
    model: Any = None,
    *,
    modules: Iterable[str] = (),
) -> list[str]:
    """``name==version`` for each installed distribution (skipping absent ones).

    With ``model``, the distribution of every module its pickle refers to (XGBoost,
    LightGBM, CatBoost, a team's own installed package) is pinned too; ``modules`` names
    such top-level modules directly (``package_model`` passes those its serialization
    found). The standard library, modules no installed distribution provides (local
    code shipped with ``code_paths``) and the workbench are never pinned: a packaged
    model loads where the workbench is not installed.

    Example:
        >>> pinned_requirements(["numpy"])  # doctest: +SKIP
        ['numpy==2.1.3']
    """
    wanted: list[tuple[str, ...]] = [(d,) for d in dict.fromkeys(distributions)]
    needed = set(modules)
    if model is not None:
        from workbench.packaging._signature import _pickle_references

        needed |= {r.split(".", 1)[0] for r in _pickle_references(model)}
    wanted += [d for m in sorted(needed) if (d := _distributions_of(m))]
    pins: dict[str, str] = {}
    for candidates in wanted:
        for dist in candidates:
            key = _canonical(dist)
            if key in pins:
                break
            try:
                pins[key] = f"{dist}=={importlib.metadata.version(dist)}"
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        else:
            _log.debug("%s is not installed; not pinned", candidates[0])
    return list(pins.values())


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _distributions_of(module: str) -> tuple[str, ...]:
    """The installed distributions that provide top-level ``module`` (none for the
    standard library, the workbench and local modules)."""
    import sys

    if module in _NEVER_PINNED or module in sys.stdlib_module_names:
        return ()
    if module in _KNOWN_DISTRIBUTIONS:
        return _KNOWN_DISTRIBUTIONS[module]
    for candidate in dict.fromkeys((module, module.replace("_", "-"))):
        try:
            dist = importlib.metadata.distribution(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
        if module in _top_level(dist):
            return (str(dist.metadata["Name"]),)
    # another name (PyYAML for yaml): every distribution's files, read once (~1 s)
    return tuple(_all_top_levels().get(module, ()))


def _top_level(dist: importlib.metadata.Distribution) -> set[str]:
    listed = dist.read_text("top_level.txt")
    if listed:
        return set(listed.split())
    return {
        f.parts[0].removesuffix(".py")
        for f in dist.files or ()
        if f.parts and not f.parts[0].endswith((".dist-info", ".data"))
    }


@functools.cache
def _all_top_levels() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


# ---------------------------------------------------------------- helpers


def _task(model: Any) -> str:
    from sklearn.base import is_classifier

    return "classification" if is_classifier(model) else "regression"


def _steps(model: Any) -> list[str]:
    if hasattr(model, "steps"):
        return [type(step).__name__ for _, step in model.steps]
    return [type(model).__name__]


def _final(model: Any) -> Any:
    """The estimator at the end of the pipeline (inside a one-estimator vote: the tuning
    pipelines' way to give XGBoost any labels)."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    inner = getattr(final, "estimators", None)
    if type(final).__name__ == "VotingClassifier" and isinstance(inner, list) and len(inner) == 1:
        fitted = getattr(final, "estimators_", None)
        return fitted[0] if fitted else inner[0][1]
    return final


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)[:200]


def _input_columns(model: Any, data: pd.DataFrame, target: str | None) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        columns = [str(c) for c in names]
        absent = [c for c in columns if c not in data.columns]
        if absent:
            raise DataError(
                f"The model was trained on columns {absent} that the packaged data lacks. "
                f"Data columns: {list(data.columns)}."
            )
        return columns
    return [c for c in data.columns if c != target]


def _example(x: pd.DataFrame) -> pd.DataFrame:
    """The first rows, plus rows with missing values (so the check covers them)."""
    head = list(x.index[:_EXAMPLE_ROWS])
    missing = x.isna()
    extra = []
    for column in x.columns:
        rows = missing.index[missing[column]]
        if len(rows) and rows[0] not in head and rows[0] not in extra:
            extra.append(rows[0])
        if len(extra) >= _EXAMPLE_ROWS:
            break
    return x.loc[head + extra]


_PROMOTION_ALIASES = ("champion", "previous_champion")


def _check_columns(x: pd.DataFrame) -> None:
    """Refuse inputs an MLflow signature cannot describe, naming the column."""
    import pandas as pd

    for column in x.columns:
        series = x[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            raise DataError(
                f"Input column {column!r} is timezone-aware ({series.dtype}); MLflow signatures "
                f"take naive datetimes. Convert it, for example with "
                f".dt.tz_convert('UTC').dt.tz_localize(None), before training."
            )
        if series.dtype == "object":
            kinds = sorted({type(v).__name__ for v in series.dropna().head(10_000)})
            numeric = {"int", "float", "bool"}
            if len(kinds) > 1 and not set(kinds) <= numeric:
                raise DataError(
                    f"Input column {column!r} mixes value types {kinds}; a signature needs one "
                    f"type per column. Cast it (for example .astype(str)) before training."
                )


def _check_finite(name: str, *outputs: Any) -> None:
    """A regressor that predicts NaN or infinity cannot be packaged."""
    import numpy as np

    for output in outputs:
        values = np.asarray(output)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ModelError(
                f"Model {name!r} predicts NaN or infinity for {bad} of {values.size} training "
                f"rows; it cannot be packaged."
            )


def _masked(rows: pd.DataFrame, personal: Sequence[str], x: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with personal inputs replaced by values that identify no one.

    Numbers take the column's median (a statistic of many rows); other columns a missing
    value (a name, an address or a health flag is personal however common it is). The
    type stays, so a model that takes missing values still predicts the example.
    """
    import pandas as pd

    present = [c for c in personal if c in rows.columns]
    if not present:
        return rows
    out = rows.copy()
    for column in present:
        series = x[column]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        ):
            value: Any = series.median()
        else:
            value = None
        filled = pd.Series([value] * len(out), index=out.index, dtype=object)
        try:
            out[column] = filled.astype(series.dtype)
        except (TypeError, ValueError):
            out[column] = filled
    return out


def _batch_json(x: pd.DataFrame, seed: int = 0) -> str:
    """1,000 rows as a client would send them (``dataframe_split`` JSON)."""
    rows = x.sample(n=_BATCH_ROWS, replace=len(x) < _BATCH_ROWS, random_state=seed)
    split = rows.to_json(orient="split", index=False, date_format="iso")
    return '{"dataframe_split": ' + split + "}"


def _load_contract(contract: Contract | str | Path | None) -> Contract | None:
    if contract is None:
        return None
    from workbench.data import Contract

    return contract if isinstance(contract, Contract) else Contract.load(contract)


def _study_metrics(tuning: Any, s: Settings) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The tuning study's summary and the best trial's per-fold scores (from its MLflow run)."""
    info = {
        "study": tuning.study_name,
        "storage": redact_url(tuning.storage),
        "parent_run": tuning.parent_run_id,
        "best_family": tuning.best_family,
        "best_value": tuning.best_value,
        "trials": f"{tuning.n_complete} complete, {tuning.n_pruned} pruned, "
        f"{tuning.n_failed} failed",
        "link": ui_url(s, f"#/runs/{tuning.parent_run_id}"),
    }
    client = mlflow_for(s).MlflowClient()
    parent = client.get_run(tuning.parent_run_id)
    best = parent.data.tags.get("best_trial")
    metrics: dict[str, dict[str, Any]] = {}
    if best is not None:
        runs = client.search_runs(
            [parent.info.experiment_id],
            filter_string=(
                f"tags.mlflow.parentRunId = '{tuning.parent_run_id}' "
                f"and tags.`optuna.trial` = '{best}'"
            ),
            max_results=5,
        )
        for run in runs:
            if run.data.tags.get("optuna.state") != "COMPLETE":
                continue
            history = client.get_metric_history(run.info.run_id, f"cv_{tuning.metric}")
            folds = [m.value for m in sorted(history, key=lambda m: m.step)]
            if folds:
                metrics[tuning.metric] = metric_entry(folds, f"cv of best trial {best}")
            info["best_trial_run"] = run.info.run_id
            break
    if tuning.metric not in metrics:
        metrics[tuning.metric] = metric_entry(tuning.best_value, f"cv mean of trial {best}")
    return info, metrics


def _holdout_metrics(
    model: Any, holdout: pd.DataFrame, features: list[str], target: str, task: str
) -> dict[str, dict[str, Any]]:
    from workbench._metrics import evaluate

    if target not in holdout.columns:
        raise DataError(f"The holdout lacks the target column {target!r}.")
    holdout = holdout[holdout[target].notna()]
    if holdout.empty:
        raise DataError(f"The holdout has no row with a value of {target!r} to score on.")
    x = holdout[features]
    classes = getattr(model, "classes_", None) if task == "classification" else None
    scored = classes is not None and hasattr(model, "predict_proba")
    scores = model.predict_proba(x) if scored else None
    values = evaluate(task, holdout[target], model.predict(x), scores=scores, labels=classes)
    return {name: metric_entry(value, "holdout") for name, value in values.items()}


def _missing_module_hint(reason: str) -> str:
    if "No module named 'workbench" in reason:
        return (
            " The model imports the workbench when it loads or predicts; a packaged model "
            "must work where the workbench is not installed. Build it from scikit-learn "
            "parts or ship its own code with code_paths=[...]."
        )
    if "No module named" in reason:
        return " If the model needs a local module, pass code_paths=[...]."
    return ""


def _refuse_workbench_parts(name: str, serialization: Serialization) -> None:
    """A model that refers to the workbench's own code cannot be served without it."""
    parts = [r for r in serialization.references if r.split(".", 1)[0] == "workbench"]
    if parts:
        raise ModelError(
            f"Model {name!r} holds parts of the workbench itself ({', '.join(parts[:5])}); "
            f"a packaged model must load where the workbench is not installed (a scoring "
            f"server, `mlflow models serve`), so it is not packaged. A pipeline tuned by an "
            f"older workbench holds its text step or label encoder: refit it with tune() or "
            f"refit_best(), which now build from scikit-learn parts only."
        )


def _measure_fit(model: Any, x: pd.DataFrame, y: Any) -> float:
    from sklearn.base import clone

    began = time.perf_counter()
    clone(model).fit(x, y)
    return time.perf_counter() - began


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


class _Steps:
    """Progress through the packaging steps: a tqdm bar, a callback, or nothing."""

    def __init__(self, progress: bool | Callable[[int, int, str], None], name: str) -> None:
        self.callback = progress if callable(progress) else None
        self.bar = None
        if progress is True:
            tqdm = require("tqdm.auto").tqdm
            self.bar = tqdm(total=_STEPS, desc=f"packaging {name}", unit="step")
        self.done = 0

    def __call__(self, text: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(text)
            self.bar.update()
        if self.callback is not None:
            try:
                self.callback(self.done, _STEPS, text)
            except Exception:  # a broken progress callback must not break the packaging
                _log.exception("the progress callback failed at step %d", self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- package_model


def _reference_profile(model: Any, reference: pd.DataFrame, features: list[str]) -> Any:
    """What monitoring compares production with: every usable column of the reference
    (personal ones already dropped) and the model's predictions on it (up to 50,000 rows),
    for prediction drift."""
    import numpy as np
    import pandas as pd

    from workbench.monitoring import ReferenceProfile

    usable = [
        c
        for c in reference.columns
        if reference[c].notna().any() and not pd.api.types.is_datetime64_any_dtype(reference[c])
    ]
    profile = ReferenceProfile.from_frame(reference, usable)
    inputs = [c for c in features if c in reference.columns]
    if len(inputs) == len(features) and len(reference):
        predictions = np.asarray(model.predict(reference[features].head(50_000)))
        if predictions.ndim == 1:
            scored = ReferenceProfile.from_frame(pd.DataFrame({"prediction": predictions}))
            profile = profile.merged(scored)
    return profile


def _reference_scores(
    model: Any, rows: pd.DataFrame | None, features: list[str], target: str | None
) -> pd.DataFrame | None:
    """A classifier's class probabilities on labelled rows it was not fitted on (the
    holdout, else the reference), beside the labels: monitoring calibrates its performance
    estimate (CBPE) on them. ``None`` for a regressor or without labelled rows."""
    import numpy as np
    import pandas as pd

    from workbench.serving._log import score_column

    if rows is None or target is None or target not in rows.columns or rows.empty:
        return None
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        return None
    if any(c not in rows.columns for c in features):
        return None
    labelled = rows[rows[target].notna()].head(50_000)
    scores = np.asarray(model.predict_proba(labelled[features]), dtype=float)
    classes = np.asarray(model.classes_).tolist()
    frame = pd.DataFrame({score_column(c): scores[:, i] for i, c in enumerate(classes)})
    frame.insert(0, "label", labelled[target].to_numpy())
    # the class order travels with the scores (to_parquet keeps attrs): CBPE needs it
    frame.attrs["classes"] = classes
    return frame


def package_model(
    model: Any,
    data: pd.DataFrame,
    name: str | None = None,
    *,
    target: str | None = None,
    alias: str = "challenger",
    description: str = "",
    run_id: str | None = None,
    experiment: str | None = None,
    reference: pd.DataFrame | None = None,
    contract: Contract | str | Path | None = None,
    metrics: Mapping[str, float | Sequence[float]] | None = None,
    holdout: pd.DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
    tuning: Any = None,
    lineage: Mapping[str, Any] | None = None,
    fit_seconds: float | None = None,
    measure_cost: bool = True,
    code_paths: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    personal: Sequence[str] = (),
    progress: bool | Callable[[int, int, str], None] = True,
    settings: Settings | None = None,
) -> PackagedModel:
    """Log, verify, document and register a fitted pipeline; point ``alias`` at it.

    Steps: (1) predict on ``data`` and infer the signature (nullable integer and boolean
    columns declared optional doubles, so missing values pass schema enforcement);
    (2) log the model with skops and the pipeline's own scikit-learn/NumPy/SciPy types
    trusted, or cloudpickle with the reason recorded, an input example (first rows plus
    rows with missing values) and requirements pinned from the installed versions;
    (3) load it back with ``mlflow.pyfunc.load_model`` in a fresh Python process and
    check it predicts the input example identically, timing single-row and 1,000-row
    predictions there; (4) take the fit time (given, from the run, or by refitting a
    clone); (5) register a new version with tags and set ``alias``; (6) store the model
    card (Markdown, HTML, JSON), the reference data and the data contract with the run.
    A failure at any step raises with the reason and leaves no registered version.

    Args:
        model: A fitted scikit-learn estimator or pipeline (preprocessing included).
        data: Training rows: the model's input columns, and ``target`` if given.
        name: Registered model name (default: the ``model_name`` setting).
        target: The target column of ``data`` (for the card, and to measure fit time).
        alias: Alias for the new version (``challenger`` by default; see :func:`promote`).
        description: What the model is for; the card's purpose and the version's
            description.
        run_id: Run to log under (default: a new run ``package <name>``).
        experiment: Experiment for a new run (default: the ``experiment_name`` setting).
        reference: Data monitoring will compare production against (default: ``data``).
        contract: Data contract (object or YAML path), stored with the model; its
            nullable columns are optional in the signature, its personal columns are
            never shown on the card.
        metrics: Scores to show: a value, or per-fold values (mean and spread shown).
        holdout: Rows with ``target`` to score the model on for the card.
        params: Extra parameters to show on the card.
        tuning: A ``TuningResult``: the study is linked and its best trial's fold scores
            shown.
        lineage: The feature-store lineage of the training set (default:
            ``data.attrs["lineage"]``, which ``get_historical_features`` sets): views and
            versions go on the card and in the version's tags.
        fit_seconds: How long training took (else taken from the run's ``fit_seconds``
            metric, else measured by refitting a clone on ``data``).
        measure_cost: Measure latency and fit time (turn off for the fastest package).
        code_paths: Local modules the model needs to load (MLflow ``code_paths``).
        tags: Extra tags of the model version.
        personal: Personal columns besides those the contract marks: left out of the
            stored reference data and the card, and replaced in the input example.
        progress: A tqdm bar (``True``), nothing (``False``), or
            ``callback(step, total, text)``.
        settings: Settings to use (default: the process-wide ones).

    Returns:
        A :class:`PackagedModel`.

    Raises:
        DataError: ``data`` is empty or lacks the model's columns or ``target``.
        ConfigurationError: ``name`` is not one plain name (``/``, ``\\``, ``:``, ``..``).
        ModelError: The model cannot predict on ``data``, cannot be logged, or fails the
            fresh-process check; nothing is registered.
    """

    began = time.perf_counter()
    s = settings or get_settings()
    name = name or s.model_name
    # the name becomes an artifact folder (packages/<name>/) before MLflow's registry
    # sees it: a name MLflow would refuse is refused before anything is logged
    check_name(name, "The registered model name", also=":")
    if data.empty:
        raise DataError(f"The data to package model {name!r} with is empty; pass training rows.")
    if target is not None and target not in data.columns:
        raise DataError(
            f"The target {target!r} is not a column of the data. Columns: {list(data.columns)}."
        )
    if holdout is not None and target is None:
        raise DataError("A holdout needs target= to be scored.")
    if alias in _PROMOTION_ALIASES:
        raise ConfigurationError(
            f"@{alias} is moved only by promote(), which compares the versions on a holdout. "
            f"Package as @challenger (the default), then promote()."
        )
    verifier = spare_verifier(take=True)  # it imports MLflow while we log
    assert verifier is not None
    steps: _Steps | None = None
    try:
        steps = _Steps(progress, name)
        mlflow = mlflow_for(s)
        sklearn_flavor = require("mlflow.sklearn", feature="model packaging")
        client = mlflow.MlflowClient()
        the_contract = _load_contract(contract)
        features = _input_columns(model, data, target)
        x = data[features]
        personal = sorted({*(the_contract.pii_columns if the_contract else []), *personal})
        _check_columns(x)
        # the example is shown in MLflow's UI: no personal value of a real row goes in it
        example = _masked(_example(x), personal, x)
        try:  # a sample is enough for the output schema; the example checks missing values
            predictions = model.predict(x.iloc[:_BATCH_ROWS])
            expected = model.predict(example)
        except Exception as exc:
            hint = (
                f" (in the input example, personal columns {personal} hold a missing value "
                f"or the median instead of a real person's value; the model must take that)"
                if set(personal) & set(features)
                else ""
            )
            raise ModelError(
                f"Model {name!r} cannot predict on the data it is packaged with{hint}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        _check_finite(name, predictions, expected)
        nullable = (
            {c.name for c in the_contract.columns if c.nullable} & set(features)
            if the_contract
            else set()
        )
        signature = infer_signature(x, predictions, nullable)
        task = _task(model)
        steps("signature inferred")

        # 1. log: serialization chosen on purpose, pinned requirements
        serialization = choose_serialization(model)
        _refuse_workbench_parts(name, serialization)
        if run_id is None:
            run_id = _new_run(client, model, name, experiment or s.experiment_name, s)
        loader = ["skops"] if serialization.format == "skops" else []
        requirements = pinned_requirements(modules=[*serialization.modules, *loader])
        with _in_run(mlflow, run_id), _without_mlflow_example_check():
            info = sklearn_flavor.log_model(
                model,
                name="model",
                signature=signature,
                input_example=example,
                pip_requirements=requirements,
                serialization_format=serialization.format,
                skops_trusted_types=list(serialization.trusted_types) or None,
                code_paths=list(code_paths) if code_paths else None,
            )
        logged_seconds = time.perf_counter() - began
        steps(f"logged ({serialization.format})")

        # 2. the fresh process loads and checks it while we gather the card's contents
        verifier.send(
            {
                "tracking_uri": s.tracking_uri,
                "model_uri": _local_or_uri(client, info),
                "expected": expected.tolist() if hasattr(expected, "tolist") else list(expected),
                "batch_json": _batch_json(x) if measure_cost else None,
            }
        )
        card_metrics: dict[str, dict[str, Any]] = {}
        tuning_info = None
        if tuning is not None:
            tuning_info, card_metrics = _study_metrics(tuning, s)
        run_metrics = client.get_run(run_id).data.metrics
        for key, value in run_metrics.items():
            # the run's model scores (not its bookkeeping: fit time, trial counts)
            if key != "fit_seconds" and not key.startswith("n_") and key not in card_metrics:
                card_metrics[key] = metric_entry(value, "run")
        for key, given in (metrics or {}).items():
            source = "given" if isinstance(given, numbers.Real) else "cv folds"
            card_metrics[key] = metric_entry(given, source)
        if holdout is not None and target is not None:
            for key, entry in _holdout_metrics(model, holdout, features, target, task).items():
                card_metrics[f"holdout_{key}"] = entry
        lineage = (lineage or data.attrs.get("lineage") or {}).get("views", {})
        folder = f"packages/{name}/{info.model_id}"
        checked = verifier.receive()
        if not checked.get("ok"):
            reason = redact_text(str(checked.get("reason")), s.tracking_uri)
            client.set_tag(run_id, "workbench.package_error", reason[:5000])
            raise ModelError(
                f"Model {name!r} failed its check in a fresh process "
                f"(mlflow.pyfunc.load_model of {info.model_uri} and a prediction of its "
                f"input example): {reason}. Nothing was registered." + _missing_module_hint(reason)
            )
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            # no personal column in the reference: monitoring never shows them
            kept = reference if reference is not None else data
            kept = kept.drop(columns=[c for c in personal if c in kept.columns])
            kept.to_parquet(out / "reference.parquet", index=False)
            _reference_profile(model, kept, features).save(out / "reference_profile.json")
            scored = _reference_scores(
                model, holdout if holdout is not None else kept, features, target
            )
            if scored is not None and task == "classification":
                scored.to_parquet(out / "reference_scores.parquet", index=False)
            if the_contract is not None:
                the_contract.save(out / "contract.yaml")
            client.log_artifacts(run_id, str(out), artifact_path=folder)
        steps("verified in a fresh process")

        # 3. register (no alias yet), with every tag in one call
        version_tags = {
            "task": task,
            "target": target or "",
            "serialization": serialization.format,
            "serialization_reason": serialization.reason[:5000],
            "verified": "loaded in a fresh process; identical predictions on the input example",
            "features": ",".join(features)[:5000],
            "model_card": f"runs:/{run_id}/{folder}/model_card.html",
            "reference": f"runs:/{run_id}/{folder}/reference.parquet",
            "reference_profile": f"runs:/{run_id}/{folder}/reference_profile.json",
            **({"contract": f"runs:/{run_id}/{folder}/contract.yaml"} if the_contract else {}),
            **(
                {"reference_scores": f"runs:/{run_id}/{folder}/reference_scores.parquet"}
                if scored is not None and task == "classification"
                else {}
            ),
            **(
                {"feature_views": ",".join(f"{v}@{d['version']}" for v, d in lineage.items())}
                if lineage
                else {}
            ),
            **({"tuning_study": tuning.study_name} if tuning is not None else {}),
            **{k: str(v) for k, v in (tags or {}).items()},
        }
        version, created_model = _register(client, name, info, run_id, version_tags, description)
        try:
            steps(f"version {version} registered")
            # 4. cost: the fresh process's timings, and the fit time
            measure_began = time.perf_counter()
            cost: dict[str, Any] = {"load_seconds": checked.get("load_seconds")}
            if measure_cost:
                timed = verifier.receive()
                if not timed.get("ok"):
                    raise ModelError(
                        f"The model predicted its input example but failed on 1,000 training "
                        f"rows sent as JSON, as a client would: {timed.get('reason')}"
                    )
                cost.update(
                    {
                        k: timed.get(k)
                        for k in (
                            "single_row_ms",
                            "batch_rows",
                            "batch_ms",
                            "predictions_per_second",
                        )
                    }
                )
            if fit_seconds is not None:
                cost.update(fit_seconds=float(fit_seconds), fit_source="given")
            elif "fit_seconds" in run_metrics:
                cost.update(fit_seconds=run_metrics["fit_seconds"], fit_source=f"run {run_id}")
            elif measure_cost and target is not None:
                cost.update(
                    fit_seconds=_measure_fit(model, x, data[target]),
                    fit_source=f"refitting a clone on the {len(x):,} packaged rows",
                )
            cost["machine"] = _machine() if measure_cost else None
            measure_seconds = time.perf_counter() - measure_began
            steps("cost measured")

            # 5. the card, then the alias (last: everything it points at exists)
            link = ui_url(s, f"#/models/{quote(name)}/versions/{version}")
            card = _card(
                model,
                data,
                name=name,
                version=version,
                alias=alias,
                description=description,
                task=task,
                run_id=run_id,
                link=link,
                target=target,
                features=features,
                signature=signature,
                lineage=lineage,
                metrics=card_metrics,
                params=params,
                tuning=tuning_info,
                cost=cost,
                serialization=serialization,
                requirements=requirements,
                contract=the_contract,
                personal=personal,
            )
            with tempfile.TemporaryDirectory() as tmp:
                card.save(tmp)
                client.log_artifacts(run_id, tmp, artifact_path=folder)
            client.set_registered_model_alias(name, alias, str(version))
        except BaseException as exc:  # an interrupt too: no version without card and alias
            _unregister(client, name, version, created_model)
            if not isinstance(exc, Exception):
                raise
            raise ModelError(
                f"Registering {name!r} version {version} failed ({type(exc).__name__}: {exc}); "
                f"the version was removed, nothing is half-registered."
            ) from exc
        steps(f"card stored, @{alias} → v{version}")
    finally:
        if steps is not None:
            steps.close()
        verifier.close()
        replace_spare()
    total = time.perf_counter() - began
    _log.info("registered %s version %s as @%s in %.2f s", name, version, alias, total)
    return PackagedModel(
        name=name,
        version=version,
        alias=alias,
        run_id=run_id,
        model_uri=f"models:/{name}@{alias}",
        version_uri=f"models:/{name}/{version}",
        logged_model_uri=info.model_uri,
        serialization=serialization,
        card=card,
        card_uri=version_tags["model_card"],
        reference_uri=version_tags["reference"],
        ui_url=link,
        seconds={
            "total": total,
            "until_logged": logged_seconds,
            "cost_measurement": measure_seconds,
        },
    )


_PATCH_LOCK = threading.Lock()


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


def _new_run(client: Any, model: Any, name: str, experiment: str, s: Settings) -> str:
    """A finished run ``package <name>`` holding the estimator's parameters."""
    entities = require("mlflow.entities")
    run = client.create_run(ensure_experiment(experiment, s), run_name=f"package {name}")
    client.log_batch(
        run.info.run_id,
        params=[
            entities.Param(f"model.{k}", str(_plain(v))[:500])
            for k, v in sorted(_final(model).get_params(deep=False).items())
        ],
    )
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def _card(
    model: Any,
    data: pd.DataFrame,
    *,
    name: str,
    version: int,
    alias: str,
    description: str,
    task: str,
    run_id: str,
    link: str,
    target: str | None,
    features: list[str],
    signature: Any,
    lineage: Mapping[str, Any],
    metrics: dict[str, dict[str, Any]],
    params: Mapping[str, Any] | None,
    tuning: dict[str, Any] | None,
    cost: dict[str, Any],
    serialization: Serialization,
    requirements: list[str],
    contract: Contract | None,
    personal: Sequence[str],
) -> ModelCard:
    import pandas as pd

    times = [
        c
        for c in data.columns
        if pd.api.types.is_datetime64_any_dtype(data[c]) and c not in personal
    ]
    span = f"{times[0]} {data[times[0]].min()} … {data[times[0]].max()}" if times else None
    profiled = data[[*features, *([target] if target else [])]]
    return ModelCard(
        name=name,
        version=version,
        alias=alias,
        purpose=description,
        task=task,
        estimator=type(_final(model)).__name__,
        steps=_steps(model),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        run_id=run_id,
        model_uri=f"models:/{name}/{version}",
        ui_url=link,
        target=target,
        data={
            "rows": len(data),
            "span": span,
            "profile": profile_columns(profiled, personal),
        },
        features=feature_rows(signature),
        feature_views={
            view: {"version": v["version"], "fingerprint": v["fingerprint"]}
            for view, v in lineage.items()
        },
        metrics=metrics,
        params={
            **{f"model.{k}": _plain(v) for k, v in _final(model).get_params(deep=False).items()},
            **{k: _plain(v) for k, v in (params or {}).items()},
        },
        tuning=tuning,
        cost=cost,
        serialization={"format": serialization.format, "reason": serialization.reason},
        requirements=requirements,
        contract=(contract.name or "contract.yaml") if contract else None,
    )


def _local_or_uri(client: Any, info: Any) -> str:
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


def _register(
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
            _unregister(client, name, int(version.version), created)
        elif created and not client.search_model_versions(f"name = '{name}'"):
            client.delete_registered_model(name)
        raise
    return int(version.version), created


def _unregister(client: Any, name: str, version: int, created_model: bool) -> None:
    try:
        client.delete_model_version(name, str(version))
        if created_model and not client.search_model_versions(f"name = '{name}'"):
            client.delete_registered_model(name)
    except Exception:  # the original error is the one to report
        _log.exception("could not remove %s version %s after a failure", name, version)


# ---------------------------------------------------------------- promotion


def conform(frame: pd.DataFrame, signature: Any) -> pd.DataFrame:
    """``frame`` with nullable integer/boolean columns as floats where the signature says double.

    Rows that arrive over JSON are already like that; a pandas frame with ``Int64`` or
    ``boolean`` columns is not, and MLflow's schema enforcement would refuse it.
    """
    import pandas as pd

    doubles = [
        spec.name
        for spec in signature.inputs.inputs
        if getattr(spec.type, "name", str(spec.type)) == "double" and spec.name in frame.columns
    ]
    casts = {
        c: "float64"
        for c in doubles
        if isinstance(frame[c].dtype, pd.api.extensions.ExtensionDtype) or frame[c].dtype == object
    }
    return frame.astype(casts) if casts else frame


def _score_version(
    name: str, version: str, holdout: pd.DataFrame, target: str, metric: Any
) -> float:
    import mlflow.pyfunc
    import numpy as np

    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    signature = model.metadata.signature
    columns = (
        signature.inputs.input_names()
        if signature is not None
        else [c for c in holdout.columns if c != target]
    )
    absent = [c for c in columns if c not in holdout.columns]
    if absent:
        raise DataError(
            f"The holdout lacks columns {absent} that version {version} of {name!r} needs."
        )
    predictions = model.predict(
        conform(holdout[columns], signature) if signature else holdout[columns]
    )
    values = np.asarray(predictions)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        return math.nan  # sklearn's metrics raise on NaN; promote() refuses a NaN score
    return float(metric.func(holdout[target], predictions))


def promote(
    name: str,
    holdout: pd.DataFrame,
    *,
    target: str,
    challenger: str = "challenger",
    champion: str = "champion",
    metric: str | None = None,
    force: bool = False,
    settings: Settings | None = None,
) -> Promotion:
    """Move ``champion`` to the ``challenger``'s version if it is not worse on ``holdout``.

    Both versions are loaded from the registry and scored on the same holdout rows with
    ``metric`` (default: ``rmse`` for regression, ``accuracy`` for classification; the
    task is the version's ``task`` tag). A tie promotes. The old champion keeps the alias
    ``previous_champion`` (for a quick rollback); the ``challenger`` alias stays where it
    is (until the next package moves it); the new champion is tagged with the scores.

    Raises:
        PromotionRefused: The challenger scored worse and ``force`` is false (the message
            gives both scores); nothing is changed.
        ModelError: An alias is missing.
        DataError: The holdout lacks the target or a column the models need.
    """
    from workbench.tuning._objective import metric_for

    s = settings or get_settings()
    mlflow = mlflow_for(s)
    client = mlflow.MlflowClient()
    exceptions = require("mlflow.exceptions")
    try:
        new = client.get_model_version_by_alias(name, challenger)
    except exceptions.MlflowException as exc:
        raise ModelError(
            f"Model {name!r} has no version with alias @{challenger} to promote ({exc})."
        ) from exc
    if target not in holdout.columns:
        raise DataError(
            f"The holdout has no target column {target!r}. Columns: {list(holdout.columns)}."
        )
    if holdout.empty or holdout[target].isna().all():
        raise DataError(f"The holdout has no rows with a value of {target!r} to compare on.")
    holdout = holdout[holdout[target].notna()]
    task = new.tags.get("task", "regression")
    chosen = metric_for(task, metric or ("rmse" if task == "regression" else "accuracy"))
    if chosen.proba:
        raise ConfigurationError(
            f"Promotion compares predicted values; {chosen.name!r} needs probabilities. "
            f"Choose one of: regression rmse/mae/mape/r2, classification accuracy, "
            f"f1_macro, f1_binary, precision_*/recall_* (_binary or _macro)."
        )
    try:
        old = client.get_model_version_by_alias(name, champion)
    except exceptions.MlflowException:
        old = None
    new_v = str(new.version)
    old_v = str(old.version) if old is not None else ""
    challenger_score = _score_version(name, new_v, holdout, target, chosen)
    champion_score = None
    lower = chosen.direction == "minimize"
    if not math.isfinite(challenger_score) and not force:
        raise PromotionRefused(
            f"Not promoting {name!r}: challenger v{new_v} scores {chosen.name}="
            f"{challenger_score} on the holdout (it predicts NaN or infinity)."
        )
    if old is not None and old_v == new_v:
        reason = f"version {new_v} already holds @{champion}"
    elif old is None:
        reason = f"no version held @{champion}"
    else:
        champion_score = _score_version(name, old_v, holdout, target, chosen)
        if not math.isfinite(champion_score):  # a broken champion loses to a working one
            worse = not math.isfinite(challenger_score)
        elif not math.isfinite(challenger_score):
            worse = True
        else:
            worse = (
                challenger_score > champion_score if lower else challenger_score < champion_score
            )
        verdict = (
            f"challenger v{new_v} {chosen.name}={challenger_score:.6g} vs champion "
            f"v{old_v} {chosen.name}={champion_score:.6g} on {len(holdout)} holdout rows "
            f"({'lower' if lower else 'higher'} is better)"
        )
        if worse and not force:
            client.set_model_version_tag(name, new_v, "promotion_refused", verdict[:5000])
            raise PromotionRefused(
                f"Not promoting {name!r}: {verdict}. Pass force=True (--force) to promote anyway."
            )
        reason = ("forced: " if worse else "") + verdict
    forced = bool(force and champion_score is not None and reason.startswith("forced"))
    moved = old is None or old_v != new_v
    if moved:  # nothing to record when the champion already is this version
        if old is not None:
            client.set_registered_model_alias(name, "previous_champion", old_v)
        client.set_registered_model_alias(name, champion, new_v)
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        for key, value in {
            "promoted_at": stamp,
            "promoted_over": old_v,
            f"holdout_{chosen.name}": f"{challenger_score:.6g}",
            "promotion": reason[:5000],
            "forced": str(forced).lower(),
        }.items():
            client.set_model_version_tag(name, new_v, key, value)
    _log.info("promoted %s v%s to @%s: %s", name, new_v, champion, reason)
    return Promotion(
        name=name,
        version=int(new_v),
        previous=int(old_v) if old is not None and moved else None,
        metric=chosen.name,
        direction=chosen.direction,
        challenger_score=challenger_score,
        champion_score=champion_score,
        forced=forced,
        rows=len(holdout),
        reason=reason,
    )


def card_of(
    name: str,
    version: int | str | None = None,
    *,
    alias: str = "champion",
    settings: Settings | None = None,
) -> ModelCard:
    """The model card of a registered version (by number, else by alias)."""
    s = settings or get_settings()
    mlflow = mlflow_for(s)
    client = mlflow.MlflowClient()
    mv = (
        client.get_model_version(name, str(version))
        if version is not None
        else client.get_model_version_by_alias(name, alias)
    )
    uri = mv.tags.get("model_card")
    if not uri:
        raise ModelError(
            f"Version {mv.version} of {name!r} has no model card (not packaged by workbench)."
        )
    local = mlflow.artifacts.download_artifacts(uri.replace("model_card.html", "model_card.json"))
    return ModelCard(**json.loads(Path(local).read_text(encoding="utf-8")))
