"""What goes on the model card besides the model itself: its scores and its cost.

Scores come from the tuning study (the best trial's folds, read from its MLflow runs),
the packaging run's own metrics, the ones given, and the holdout; the cost is what the
fresh process timed plus the fit time (given, from the run, or measured by refitting a
clone). :func:`build_card` assembles the :class:`~workbench.packaging.ModelCard`.
"""

from __future__ import annotations

import datetime as dt
import numbers
import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from workbench._exceptions import DataError, ModelError
from workbench._settings import Settings
from workbench._tracking import configured_ui_url, mlflow_for
from workbench._versions import CONTRACT, FILES
from workbench.packaging._card import ModelCard, feature_rows, metric_entry, profile_columns
from workbench.packaging._model import final_estimator, plain_value, step_names

if TYPE_CHECKING:
    import pandas as pd

    from workbench.data import Contract
    from workbench.packaging._signature import Serialization

__all__ = [
    "build_card",
    "card_metrics",
    "holdout_metrics",
    "measured_cost",
    "study_metrics",
    "study_storage",
]

#: What the fresh process timed, as the card shows it.
_TIMINGS = ("single_row_ms", "batch_rows", "batch_ms", "predictions_per_second")


def card_metrics(
    model: Any,
    *,
    run_metrics: Mapping[str, float],
    given: Mapping[str, float | Sequence[float]] | None,
    tuning: Any,
    holdout: pd.DataFrame | None,
    features: list[str],
    target: str | None,
    task: str,
    settings: Settings,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The card's scores, and the tuning study's summary (``None`` without a study)."""
    scores: dict[str, dict[str, Any]] = {}
    tuning_info = None
    if tuning is not None:
        tuning_info, scores = study_metrics(tuning, settings)
    for key, value in run_metrics.items():
        # the run's model scores (not its bookkeeping: fit time, trial counts)
        if key != "fit_seconds" and not key.startswith("n_") and key not in scores:
            scores[key] = metric_entry(value, "run")
    for key, values in (given or {}).items():
        source = "given" if isinstance(values, numbers.Real) else "cv folds"
        scores[key] = metric_entry(values, source)
    if holdout is not None and target is not None:
        for key, entry in holdout_metrics(model, holdout, features, target, task).items():
            scores[f"holdout_{key}"] = entry
    return scores, tuning_info


#: Optuna RDB back ends as people name them, by the URL's dialect.
_DATABASES = {
    "sqlite": "SQLite",
    "postgresql": "PostgreSQL",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "oracle": "Oracle",
    "mssql": "SQL Server",
}


def study_storage(url: str, project_dir: Path | None = None) -> str:
    """Where a study is kept, as a card may say it: the kind of database and where to
    find it, naming no path of this machine and no credential.

    A SQLite file inside the project is named relative to the project folder (the study
    travels with the project); one elsewhere by its file name only. A database server is
    named by host, port and database, without user or password.

    Example:
        >>> study_storage("sqlite:////home/ana/proj/.workbench/optuna.db", Path("/home/ana/proj"))
        'SQLite file .workbench/optuna.db in the project folder'
        >>> study_storage("sqlite:////srv/studies/optuna.db", Path("/home/ana/proj"))
        'SQLite file optuna.db'
        >>> study_storage("postgresql+psycopg://ana:secret@db.lan:5432/optuna")
        'PostgreSQL database optuna on db.lan:5432'
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # not a URL: say nothing of it but that it was given
        return "an Optuna storage given by URL"
    dialect = parts.scheme.split("+", 1)[0].lower()
    if not dialect:
        return "an Optuna storage given by URL"
    kind = _DATABASES.get(dialect, dialect)
    if dialect == "sqlite":
        # sqlite:///relative.db, sqlite:////absolute.db, sqlite:// or :memory: (in memory)
        file = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
        if not file or file == ":memory:":
            return "SQLite in memory (not kept)"
        path = PurePosixPath(unquote(file).replace("\\", "/"))
        if project_dir is not None:
            root = PurePosixPath(Path(project_dir).resolve().as_posix())
            if path.is_relative_to(root):
                return f"SQLite file {path.relative_to(root).as_posix()} in the project folder"
        return f"SQLite file {path.name}"
    where = f"{host}:{port}" if host and port else host
    database = parts.path.lstrip("/")
    named = f"{kind} database {database}" if database else kind
    return f"{named} on {where}" if where else named


def study_metrics(tuning: Any, s: Settings) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The tuning study's summary and the best trial's per-fold scores (from its MLflow run).

    The summary says how to find the study (its name, and its storage by
    :func:`study_storage`: no path of this machine) and links the study's MLflow run
    only where a UI address is configured."""
    info = {
        "study": tuning.study_name,
        "storage": study_storage(tuning.storage, s.project_dir),
        "parent_run": tuning.parent_run_id,
        "best_family": tuning.best_family,
        "best_value": tuning.best_value,
        "trials": f"{tuning.n_complete} complete, {tuning.n_pruned} pruned, "
        f"{tuning.n_failed} failed",
    }
    link = configured_ui_url(s, f"#/runs/{tuning.parent_run_id}")
    if link is not None:
        info["link"] = link
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


def holdout_metrics(
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


def measured_cost(
    model: Any,
    checked: Mapping[str, Any],
    timed: Mapping[str, Any] | None,
    *,
    fit_seconds: float | None,
    run_metrics: Mapping[str, float],
    run_id: str,
    x: pd.DataFrame,
    y: Any,
    measure: bool,
) -> dict[str, Any]:
    """The card's cost: load time and (when ``measure``) the latencies the fresh process
    timed (``timed``), and the fit time (given, from the run, or by refitting a clone on
    ``x`` and ``y`` when ``measure`` and there is a target).

    Raises:
        ModelError: The fresh process could not predict 1,000 rows sent as JSON.
    """
    cost: dict[str, Any] = {"load_seconds": checked.get("load_seconds")}
    if timed is not None:
        if not timed.get("ok"):
            raise ModelError(
                f"The model predicted its input example but failed on 1,000 training "
                f"rows sent as JSON, as a client would: {timed.get('reason')}"
            )
        cost.update({k: timed.get(k) for k in _TIMINGS})
    if fit_seconds is not None:
        cost.update(fit_seconds=float(fit_seconds), fit_source="given")
    elif "fit_seconds" in run_metrics:
        cost.update(fit_seconds=run_metrics["fit_seconds"], fit_source=f"run {run_id}")
    elif measure and y is not None:
        cost.update(
            fit_seconds=_measure_fit(model, x, y),
            fit_source=f"refitting a clone on the {len(x):,} packaged rows",
        )
    cost["machine"] = _machine() if measure else None
    return cost


def _measure_fit(model: Any, x: pd.DataFrame, y: Any) -> float:
    from sklearn.base import clone

    began = time.perf_counter()
    clone(model).fit(x, y)
    return time.perf_counter() - began


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def build_card(
    model: Any,
    data: pd.DataFrame,
    *,
    name: str,
    version: int,
    alias: str,
    description: str,
    task: str,
    run_id: str,
    link: str | None,
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
        estimator=type(final_estimator(model)).__name__,
        steps=step_names(model),
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
            **{
                f"model.{k}": plain_value(v)
                for k, v in final_estimator(model).get_params(deep=False).items()
            },
            **{k: plain_value(v) for k, v in (params or {}).items()},
        },
        tuning=tuning,
        cost=cost,
        serialization={"format": serialization.format, "reason": serialization.reason},
        requirements=requirements,
        contract=(contract.name or FILES[CONTRACT]) if contract else None,
    )
