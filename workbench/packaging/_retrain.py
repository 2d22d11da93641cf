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
    """

    model: PackagedModel
    champion_version: int
    train: pd.DataFrame
    backtest: pd.DataFrame
    scores: pd.DataFrame
    metric: str
    better: bool

    def summary(self) -> str:
        """One line: what was fitted on what, and how it compares."""
        ours = self.scores[self.metric].to_dict()["challenger"]
        theirs = self.scores[self.metric].to_dict()["champion"]
        return (
            f"{self.model.name} v{self.model.version} (@challenger) refitted from "
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
    until: str,
    since: str | None = None,
    backtest_days: int = 14,
    time_column: str | None = None,
    metric: str | None = None,
    champion: str = "champion",
    description: str | None = None,
    measure_cost: bool = True,
    progress: bool = False,
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
            out for the backtest).
        since: Rows from this date on only (say, the first day after a regime change).
        backtest_days: Days before ``until`` held out to score challenger and champion.
        time_column: The labels' time column (default: their only datetime column).
        metric: The metric the two are compared on (default: ``rmse`` for regression,
            ``accuracy`` for classification, as ``promote`` compares).
        champion: The alias of the version to refit.
        description: The new version's description (default: the champion's purpose,
            retrained).
        measure_cost: Time single-row and batch predictions for the card.
        progress: Show progress bars.
        settings: Settings (default: resolved from the working directory).

    Returns:
        A :class:`Retraining`.

    Raises:
        ModelError: No such champion, or its inputs do not all come from the store.
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
    end = pd.Timestamp(until)
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
    fitted = clone(pipeline).fit(train[features], train[target])
    chosen_metric = get_metric(
        old.task, metric or ("rmse" if old.task == "regression" else "accuracy")
    )
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
        tags={"retrained_from": str(old.version), "retrained_until": str(end.date())},
        progress=progress,
        settings=s,
    )
    return Retraining(
        packaged, old.version, train, backtest, scores, chosen_metric.name, bool(better)
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
