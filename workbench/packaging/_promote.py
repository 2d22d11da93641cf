"""Promotion: ``champion`` moves to the ``challenger`` only if it is not worse on a holdout.

Both versions are loaded from the registry as a scoring server would load them and
scored on the same rows; the outcome is recorded on the version (tags) and returned as a
:class:`Promotion`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError, ModelError, PromotionRefused
from workbench._metrics import get as get_metric
from workbench._settings import Settings, get_settings
from workbench._tracking import mlflow_for
from workbench._versions import VersionArtifacts

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Promotion", "conform", "promote"]

_log = logging.getLogger(__name__)


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
        promoted_by: Who promoted it (``None`` when nobody was named).
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
    promoted_by: str | None = None


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
    promoted_by: str | None = None,
    settings: Settings | None = None,
) -> Promotion:
    """Move ``champion`` to the ``challenger``'s version if it is not worse on ``holdout``.

    Both versions are loaded from the registry and scored on the same holdout rows with
    ``metric`` (default: ``rmse`` for regression, ``accuracy`` for classification; the
    task is the version's ``task`` tag). A tie promotes. The old champion keeps the alias
    ``previous_champion`` (for a quick rollback); the ``challenger`` alias stays where it
    is (until the next package moves it); the new champion is tagged with the scores,
    and with ``promoted_by`` when a person is named (the dashboard's Promote button names
    the signed-in user); the log line says who too.

    Raises:
        PromotionRefused: The challenger scored worse and ``force`` is false (the message
            gives both scores); nothing is changed.
        ModelError: An alias is missing.
        DataError: The holdout lacks the target or a column the models need.
    """
    s = settings or get_settings()
    client = mlflow_for(s).MlflowClient()
    try:
        new = VersionArtifacts.of(name, alias=challenger, settings=s)
    except ModelError as exc:
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
    task = new.task
    chosen = get_metric(task, metric or ("rmse" if task == "regression" else "accuracy"))
    if chosen.proba:
        raise ConfigurationError(
            f"Promotion compares predicted values; {chosen.name!r} needs probabilities. "
            f"Choose one of: regression rmse/mae/mape/r2, classification accuracy, "
            f"f1_macro, f1_binary, precision_*/recall_* (_binary or _macro)."
        )
    try:
        old: VersionArtifacts | None = VersionArtifacts.of(name, alias=champion, settings=s)
    except ModelError:
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
            **({"promoted_by": promoted_by} if promoted_by else {}),
        }.items():
            client.set_model_version_tag(name, new_v, key, value)
    _log.info(
        "promoted %s v%s to @%s%s: %s",
        name,
        new_v,
        champion,
        f" by {promoted_by}" if promoted_by else "",
        reason,
    )
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
        promoted_by=promoted_by if moved else None,
    )
