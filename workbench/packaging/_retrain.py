"""Retraining: the champion's pipeline refitted on the feature store's data up to a date,
packaged as ``@challenger`` with its card and a backtest against the champion.

:func:`retrain` rebuilds the training set the way the champion's was built: the label
rows (entity keys, their time, the target) joined point-in-time with the same feature
view versions the champion's lineage names (``view@version:feature``), so each row gets
the features as they were known at its time and never later. The last
``backtest_days`` before ``until`` are held out: the champion's pipeline configuration
(``sklearn.base.clone`` of the registered pipeline: the same steps and
hyperparameters, unfitted) is fitted on the rows before them, and both the champion and
the refitted pipeline are scored on those latest days with known outcomes. The result is
packaged (``package_model``: verified, carded, registered) as ``@challenger``;
``promote`` then decides, on those same rows or any others.

Asked for a short re-tune (``tune=N``), it runs an Optuna study of ``N`` trials
(:func:`workbench.tuning.tune`, on a local Dask cluster by default) on the rows before
the held-out days instead of refitting the champion's configuration: the same families,
metric and folds as the study the champion came from (named on its model card, its
parameters read from the study's MLflow run), else the champion's own family; the
study's best pipeline is what is backtested and packaged, its study linked on the card.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError, ModelError

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.packaging._register import PackagedModel

__all__ = ["Retraining", "retrain"]

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Retraining:
    """The outcome of :func:`retrain`.

    Attributes:
        model: The packaged challenger (its card, version, URI).
        champion_version: The version whose pipeline was refitted.
        train: The rows it was fitted on (point-in-time features, the target).
        backtest: The held-out latest rows, with ``prediction_challenger`` and
            ``prediction_champion``.
        scores: One row per model (``challenger``, ``champion``), one column per metric,
            on the backtest rows.
        metric: The metric compared; ``better`` whether the challenger is not worse on it.
        tuning: The re-tune's ``TuningResult`` (``None`` for a refit).
    """

    model: PackagedModel
    champion_version: int
    train: pd.DataFrame
    backtest: pd.DataFrame
    scores: pd.DataFrame
    metric: str
    better: bool
    tuning: Any = None

    def summary(self) -> str:
        """One line: what was fitted on what, and how it compares."""
        ours = self.scores[self.metric].to_dict()["challenger"]
        theirs = self.scores[self.metric].to_dict()["champion"]
        how = "refitted"
        if self.tuning is not None:
            how = f"re-tuned ({self.tuning.n_complete} trials, {self.tuning.best_family})"
        return (
            f"{self.model.name} v{self.model.version} (@challenger) {how} from "
            f"v{self.champion_version} on {len(self.train):,} rows; on the latest "
            f"{len(self.backtest):,} rows {self.metric} {ours:.4g} vs the champion's "
            f"{theirs:.4g}: {'not worse' if self.better else 'worse'}"
        )


def _read_labels(labels: pd.DataFrame | str | Path) -> pd.DataFrame:
    import pandas as pd

    if isinstance(labels, pd.DataFrame):
        return labels
    path = Path(labels)
    if not path.is_file():
        raise DataError(f"The labels file {path} does not exist.")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise DataError(f"The labels file {path} must be Parquet (.parquet) or CSV (.csv).")


def _references(champion: Any, store: Any) -> list[str]:
    """``view@version:feature`` for each of the champion's features, from the views its
    lineage names."""
    from workbench._versions import FEATURE_VIEWS

    named = champion.tags.get(FEATURE_VIEWS, "")
    if not named:
        raise ModelError(
            f"{champion.name} v{champion.version} names no feature view in its lineage (tag "
            f"{FEATURE_VIEWS!r}): it was not trained on a training set from the feature "
            "store, so it cannot be retrained from one."
        )
    views = []
    for item in named.split(","):
        view, _, number = item.partition("@")
        record = store.registry.version(view, int(number) if number else None)
        views.append((view, record.version, set(record.definition.feature_names)))
    refs = []
    for feature in champion.features:
        owner = next(((v, n) for v, n, names in views if feature in names), None)
        if owner is None:
            raise ModelError(
                f"The champion's input {feature!r} is in none of its feature views "
                f"{[v for v, _, _ in views]}; a retrained model needs every input from the store."
            )
        refs.append(f"{owner[0]}@{owner[1]}:{feature}")
    return refs


def retrain(
    model_name: str | None = None,
    *,
    labels: pd.DataFrame | str | Path,
    until: str = "today",
    since: str | None = None,
    since_days: int | None = None,
    backtest_days: int = 14,
    time_column: str | None = None,
    metric: str | None = None,
    champion: str = "champion",
    description: str | None = None,
    measure_cost: bool = True,
    progress: bool = False,
    tune: int = 0,
    cluster: Any = None,
    n_workers: int | None = None,
    tags: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> Retraining:
    """Refit the champion's pipeline on the feature store's data up to ``until`` and
    package it as ``@challenger``.

    Args:
        model_name: The registered model (default: the ``model_name`` setting).
        labels: The rows whose outcome is known (a frame, or a Parquet/CSV file): the
            feature views' join keys, a time column and the champion's target, as for
            its first training.
        until: Rows before this date are used (the last ``backtest_days`` of them held
            out for the backtest); ``"today"`` (default): before today (UTC), as a
            scheduled retrain asks.
        since: Rows from this date on only (say, the first day after a regime change).
        since_days: Rows of the last this many days before ``until`` only (instead of
            ``since``: a rolling window for a schedule).
        backtest_days: Days before ``until`` held out to score challenger and champion.
        time_column: The labels' time column (default: their only datetime column).
        metric: The metric the two are compared on (default: ``rmse`` for regression,
            ``accuracy`` for classification, as ``promote`` compares).
        champion: The alias of the version to refit.
        description: The new version's description (default: the champion's purpose,
            retrained).
        measure_cost: Time single-row and batch predictions for the card.
        progress: Show progress bars.
        tune: Trials of a short re-tune (0: refit the champion's configuration). The
            study searches the families, metric and folds of the champion's own study
            (from its card), else the champion's family, on the rows before the
            backtest days; its best pipeline is the challenger.
        cluster: Where the re-tune's trials run, as for ``tune``: ``None`` (default) the
            ``dask_scheduler`` setting, else a LocalCluster here; ``"local"``; a
            scheduler address or a ``distributed.Client``.
        n_workers: Worker processes of a local cluster (default: one per CPU).
        tags: Extra tags of the new version (who asked for it: an alert, a schedule).
        settings: Settings (default: resolved from the working directory).

    Returns:
        A :class:`Retraining`.

    Example:
        >>> done = retrain(labels="labels.parquet", until="2024-10-01", tune=20)  # doctest: +SKIP
        >>> done.summary()  # doctest: +SKIP

    Raises:
        ModelError: No such champion, or its inputs do not all come from the store.
        ConfigurationError: ``backtest_days`` below 1, ``tune`` below 0, or a re-tune of a
            champion whose family is none of the ready-made ones.
        DataError: The labels lack a column, or no row falls before the backtest days or
            in them.
    """
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.base import clone

    from workbench._metrics import evaluate
    from workbench._metrics import get as get_metric
    from workbench._settings import get_settings
    from workbench._tracking import mlflow_for
    from workbench._versions import VersionArtifacts
    from workbench.features import FeatureStore
    from workbench.packaging._promote import conform
    from workbench.packaging._register import package_model

    s = settings or get_settings()
    name = model_name or s.model_name
    mlflow_for(s)
    old = VersionArtifacts.of(name, alias=champion, settings=s)
    target = old.target
    if not target:
        raise ModelError(f"{name} v{old.version} was packaged without a target; nothing to fit.")
    if backtest_days < 1:
        raise ConfigurationError(f"backtest_days must be at least 1; got {backtest_days!r}.")
    if isinstance(tune, bool) or not isinstance(tune, int) or tune < 0:
        raise ConfigurationError(
            f"tune is the number of re-tuning trials (0: refit only); got {tune!r}."
        )
    rows = _read_labels(labels)
    store = FeatureStore(settings=s)
    refs = _references(old, store)
    if target not in rows.columns:
        raise DataError(
            f"The labels have no column {target!r} (the champion's target); columns: "
            f"{list(rows.columns)}."
        )
    time = time_column or _only_datetime(rows)
    if time not in rows.columns:
        raise DataError(f"The labels have no time column {time!r}; columns: {list(rows.columns)}.")
    stamps = pd.to_datetime(rows[time])
    end = pd.Timestamp.now(tz="UTC").normalize().tz_localize(None) if until == "today" else None
    end = end if end is not None else pd.Timestamp(until)
    if since_days is not None:
        if since is not None:
            raise ConfigurationError("Give since or since_days, not both.")
        if isinstance(since_days, bool) or not isinstance(since_days, int) or since_days < 1:
            raise ConfigurationError(f"since_days must be at least 1; got {since_days!r}.")
        since = str((end - pd.Timedelta(days=since_days)).isoformat())
    cut = end - pd.Timedelta(days=backtest_days)
    keep = (stamps < end) & rows[target].notna()
    if since is not None:
        keep &= stamps >= pd.Timestamp(since)
    chosen = rows.loc[keep.to_numpy()].reset_index(drop=True)
    _log.info("retraining %s from v%s on %d label rows", name, old.version, len(chosen))
    # the store gives every input as known at the row's time: the labels' own copies go
    entity = chosen.drop(columns=[c for c in old.features if c in chosen.columns])
    frame = store.get_historical_features(entity, refs, time_column=time, progress=progress)
    lineage = frame.attrs.get("lineage")
    categorical = [c for c in old.features if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    frame = frame.astype(dict.fromkeys(categorical, "str"))  # MLflow has no categorical type
    frame.attrs["lineage"] = lineage
    when = pd.to_datetime(frame[time])
    train = frame[when < cut].reset_index(drop=True)
    backtest = frame[when >= cut].reset_index(drop=True)
    if train.empty or backtest.empty:
        raise DataError(
            f"Retraining needs label rows before {cut.date()} to fit on and from then to "
            f"{end.date()} to backtest on; got {len(train)} and {len(backtest)} "
            f"(labels' {time!r} from {stamps.min()} to {stamps.max()}"
            + (f", since {since}" if since else "")
            + ")."
        )
    features = list(old.features)
    pipeline = mlflow.sklearn.load_model(f"models:/{name}/{old.version}")
    chosen_metric = get_metric(
        old.task, metric or ("rmse" if old.task == "regression" else "accuracy")
    )
    tuned = None
    if tune:
        space = study_space(old, s) or {"families": [family_of(pipeline, old.task)]}
        from workbench.tuning import tune as run_study

        tuned = run_study(
            train[[*features, target, time]],
            target,
            task=old.task,
            metric=space.get("metric") or chosen_metric.name,
            families=space["families"],
            features=features,
            cv=space.get("cv", 5),
            time_column=time,
            n_trials=tune,
            cluster=cluster,
            n_workers=n_workers,
            progress=progress,
            settings=s,
        )
        fitted = tuned.best_model
    else:
        fitted = clone(pipeline).fit(train[features], train[target])
    model = mlflow.pyfunc.load_model(f"models:/{name}/{old.version}")
    signature = model.metadata.signature
    inputs = conform(backtest[features], signature) if signature is not None else backtest[features]
    backtest = backtest.assign(
        prediction_challenger=fitted.predict(backtest[features]),
        prediction_champion=np.asarray(model.predict(inputs)),
    )
    table = {
        who: evaluate(old.task, backtest[target], backtest[f"prediction_{who}"])
        for who in ("challenger", "champion")
    }
    scores = pd.DataFrame(table).T
    ours, theirs = (table[who][chosen_metric.name] for who in ("challenger", "champion"))
    lower = chosen_metric.direction == "minimize"
    better = ours <= theirs if lower else ours >= theirs
    params: Mapping[str, Any] = {
        "retrained_from": f"v{old.version}",
        "retrained_until": str(end.date()),
        "retrained_since": str(pd.Timestamp(since).date()) if since else "",
        "backtest": f"{cut.date()} to {end.date()} ({len(backtest)} rows)",
        f"backtest_{chosen_metric.name}_champion": f"{theirs:.6g}",
    }
    if tuned is not None:
        params = {**params, "retuned": f"{tuned.n_complete} trials of study {tuned.study_name}"}
    packaged = package_model(
        fitted,
        train[[*features, target]],
        name,
        target=target,
        description=description or f"Retrained from v{old.version} on data up to {end.date()}.",
        contract=old.contract_path,
        holdout=backtest[[*features, target]],
        params=params,
        lineage=lineage,
        measure_cost=measure_cost,
        tags={
            **(tags or {}),
            "retrained_from": str(old.version),
            "retrained_until": str(end.date()),
        },
        tuning=tuned,
        progress=progress,
        settings=s,
    )
    return Retraining(
        packaged, old.version, train, backtest, scores, chosen_metric.name, bool(better), tuned
    )


def study_space(version: Any, settings: Settings) -> dict[str, Any] | None:
    """The families, metric and folds of the study a version was tuned by: its card's
    ``tuning`` names the study's MLflow parent run, whose parameters record them
    (``None`` for a version packaged without a study, or whose run is gone).

    Args:
        version: The version's ``VersionArtifacts``.
        settings: Settings (the tracking server the run is on).
    """
    import json

    from mlflow.exceptions import MlflowException

    from workbench._tracking import mlflow_for

    path = version.model_card_path
    if path is None:
        return None
    tuning = json.loads(Path(path).read_text(encoding="utf-8")).get("tuning") or {}
    parent = tuning.get("parent_run")
    if not parent:
        return None
    try:
        run = mlflow_for(settings).MlflowClient().get_run(parent)
    except MlflowException:
        _log.warning("the study run %s of %s is gone; re-tuning its family", parent, version)
        return None
    params = run.data.params
    families = [f for f in params.get("families", "").split(",") if f]
    if not families or families == ["custom objective"]:
        return None
    space: dict[str, Any] = {"families": families, "study": tuning.get("study")}
    if params.get("metric"):
        space["metric"] = params["metric"]
    recorded = params.get("cv", "")
    if recorded.isdigit():
        space["cv"] = int(recorded)
    elif recorded.strip("'\"") == "time":
        space["cv"] = "time"
    return space


def family_of(pipeline: Any, task: str) -> str:
    """The ready-made family (``hist_gradient_boosting``, ``ridge``...) whose estimator
    is the last step of ``pipeline``.

    Raises:
        ConfigurationError: None of the installed families builds that estimator.
    """
    from workbench.tuning import FAMILIES

    last = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    last = getattr(last, "estimator", last)  # labels encoded around a classifier
    for (kind, family), spec in FAMILIES.items():
        if kind != task or not spec.available or spec.twin is not None:
            continue
        try:
            built = spec.build({}, "cpu", 0)
        except Exception:  # a family that cannot be built has no match
            continue
        built = getattr(built, "estimator", built)
        if type(built) is type(last):
            return family
    raise ConfigurationError(
        f"The champion's estimator {type(last).__name__} is none of the ready-made "
        f"{task} families, and it was not tuned by a study the workbench recorded; "
        "re-tune it with workbench.tuning.tune and your own Family, or retrain without tune."
    )


def _only_datetime(frame: pd.DataFrame) -> str:
    import pandas as pd

    found = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if len(found) != 1:
        raise DataError(
            f"Say which column of the labels is their time (time_column=); datetime columns "
            f"found: {found}."
        )
    return str(found[0])
