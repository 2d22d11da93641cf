"""Model metrics: one definition per metric, used by tuning, packaging, monitoring and the card.

Each metric is a module-level function ``func(y_true, y_pred, *, labels=None) -> float``
(picklable for Dask workers) wrapped in a :class:`Metric` that says its direction and what
``y_pred`` is. The names say which definition: ``f1_macro`` is F1 averaged over classes,
``f1_binary`` the F1 of the positive class.

=================== ==================================================================
name                definition (scikit-learn's function, with the edges decided here)
=================== ==================================================================
``mae``             ``mean_absolute_error``
``rmse``            ``root_mean_squared_error``
``mape``            ``mean_absolute_percentage_error`` over the rows whose truth is not 0
                    (scikit-learn divides those by 2.2e-16); NaN when every truth is 0
``r2``              ``r2_score``; NaN for fewer than 2 rows
``accuracy``        ``accuracy_score``
``precision_binary`` ``precision_score(average="binary")``: the positive class is the
``recall_binary``   last of ``labels`` (a model's ``classes_``: ``predict_proba[:, 1]``),
``f1_binary``       else the greater of the two labels present (scikit-learn's order)
``precision_macro`` ``precision_score(average="macro")`` over ``labels`` when given, else
``recall_macro``    over the labels present in truth and prediction
``f1_macro``
``roc_auc``         ``roc_auc_score``: the positive class's score for two classes, macro
                    one-vs-rest over the class scores for more; NaN when a class of
                    ``labels`` is absent from the truth (no curve without both sides)
``log_loss``        ``log_loss`` with ``labels``
=================== ==================================================================

Shared edges: empty input gives NaN (scikit-learn raises); a regression input that is
not finite gives NaN (scikit-learn raises), so that a caller decides what NaN means;
precision, recall and F1 are 0 where their denominator is 0 (``zero_division=0``).

Names written before these (``f1``, ``precision``, ``recall``) are in :data:`LEGACY`:
tuning's ``f1`` was the macro F1; monitoring's was the positive class's for two classes
and the macro for more. :func:`get` resolves them with a ``FutureWarning``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from workbench._exceptions import ConfigurationError, DataError

__all__ = [
    "BINARY",
    "LEGACY",
    "METRICS",
    "MULTICLASS",
    "REGRESSION",
    "Metric",
    "class_order",
    "describe",
    "evaluate",
    "get",
    "resolve_legacy",
]


@dataclasses.dataclass(frozen=True)
class Metric:
    """A score of predictions: its name, direction and how it is computed.

    Attributes:
        name: Name in MLflow, in Optuna's user attributes, on the card and in monitoring.
        direction: ``minimize`` or ``maximize``.
        func: ``func(y_true, y_pred) -> float`` (``labels=`` too when ``labels``).
        proba: ``y_pred`` is the positive-class probability (binary) or the class
            probabilities (multiclass) instead of the predicted label.
        labels: ``func`` takes ``labels=`` (the model's classes, in its columns' order).
        description: What it measures, in words (shown on the model card).
    """

    name: str
    direction: str
    func: Callable[..., float]
    proba: bool = False
    labels: bool = False
    description: str = ""


_NAN = float("nan")


def _sk() -> Any:
    from workbench._imports import require

    return require("sklearn.metrics", feature="model metrics")


def _numbers(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Both as floats, or ``None`` when empty or not all finite (the metric is NaN)."""
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if len(y) != len(p):
        raise DataError(f"{len(y)} true values but {len(p)} predictions: they must pair up.")
    if not len(y) or not (np.isfinite(y).all() and np.isfinite(p).all()):
        return None
    return y, p


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error."""
    pair = _numbers(y_true, y_pred)
    return _NAN if pair is None else float(_sk().mean_absolute_error(*pair))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error."""
    pair = _numbers(y_true, y_pred)
    return _NAN if pair is None else float(_sk().root_mean_squared_error(*pair))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error (a fraction: 0.1 is 10 %) over the rows whose truth
    is not zero; NaN when there is none."""
    pair = _numbers(y_true, y_pred)
    if pair is None:
        return _NAN
    y, p = pair
    nonzero = y != 0
    if not nonzero.any():
        return _NAN
    return float(_sk().mean_absolute_percentage_error(y[nonzero], p[nonzero]))


def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination; NaN for fewer than two rows."""
    pair = _numbers(y_true, y_pred)
    if pair is None or len(pair[0]) < 2:
        return _NAN
    return float(_sk().r2_score(*pair))


def class_order(values: Any) -> list[Any]:
    """The distinct labels in the order a scikit-learn classifier's ``classes_`` holds them
    (``numpy.unique``: numbers by value, so 2 before 10; text alphabetically).

    Raises:
        DataError: The labels mix kinds that have no order (numbers and text).
    """
    array = np.asarray(values, dtype=object).ravel()
    distinct = list(dict.fromkeys(array.tolist()))
    try:
        return sorted(distinct)
    except TypeError as exc:
        raise DataError(
            f"The labels {distinct[:10]!r} mix kinds that have no order ({exc}); pass the "
            "model's classes_ (labels=) to say their order."
        ) from exc


def _labels(y_true: Any, y_pred: Any, labels: Sequence[Any] | None) -> list[Any]:
    if labels is not None:
        return list(np.asarray(labels, dtype=object).tolist())
    return class_order(np.concatenate([np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()]))


def _positive(name: str, y_true: Any, y_pred: Any, labels: Sequence[Any] | None) -> Any:
    classes = _labels(y_true, y_pred, labels)
    if len(classes) != 2:
        where = "labels" if labels is not None else "labels present in truth and prediction"
        raise DataError(
            f"{name} is the positive class's score and needs exactly two classes; the "
            f"{where} are {classes!r}. Use {name.replace('_binary', '_macro')} for more "
            "classes, or pass labels= (the model's classes_) when a sample holds only one."
        )
    return classes[-1]


def _empty(y_true: Any) -> bool:
    return len(np.asarray(y_true).ravel()) == 0


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of predictions equal to the truth."""
    if _empty(y_true):
        return _NAN
    return float(_sk().accuracy_score(np.asarray(y_true), np.asarray(y_pred)))


def _by_class(
    func: str, name: str, y_true: Any, y_pred: Any, labels: Sequence[Any] | None, average: str
) -> float:
    if _empty(y_true):
        return _NAN
    y, p = np.asarray(y_true), np.asarray(y_pred)
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if average == "binary":
        kwargs["pos_label"] = _positive(name, y, p, labels)
    elif labels is not None:
        kwargs["labels"] = list(labels)
    return float(getattr(_sk(), func)(y, p, **kwargs))


def precision_binary(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> float:
    """Precision of the positive class (the last of ``labels``)."""
    return _by_class("precision_score", "precision_binary", y_true, y_pred, labels, "binary")


def recall_binary(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> float:
    """Recall of the positive class (the last of ``labels``)."""
    return _by_class("recall_score", "recall_binary", y_true, y_pred, labels, "binary")


def f1_binary(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> float:
    """F1 of the positive class (the last of ``labels``)."""
    return _by_class("f1_score", "f1_binary", y_true, y_pred, labels, "binary")


def precision_macro(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> float:
    """Precision averaged over classes, each counting the same."""
    return _by_class("precision_score", "precision_macro", y_true, y_pred, labels, "macro")


def recall_macro(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> float:
    """Recall averaged over classes, each counting the same."""
    return _by_class("recall_score", "recall_macro", y_true, y_pred, labels, "macro")


def f1_macro(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> float:
    """F1 averaged over classes, each counting the same."""
    return _by_class("f1_score", "f1_macro", y_true, y_pred, labels, "macro")


def _probabilities(
    name: str, y_true: Any, scores: Any, labels: Sequence[Any] | None
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Truth, one score column per class sorted as scikit-learn wants them, and the
    sorted classes. ``scores`` is one column per class in ``labels`` order, or for two
    classes the positive (last) class's score alone."""
    y = np.asarray(y_true).ravel()
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    classes = (
        list(np.asarray(labels, dtype=object).tolist()) if labels is not None else class_order(y)
    )
    if matrix.shape[1] == 1:
        if len(classes) != 2:
            raise DataError(
                f"{name}: one score column means two classes (the score of the last); the "
                f"classes are {classes!r}. Pass one column per class for more."
            )
        matrix = np.column_stack([1 - matrix[:, 0], matrix[:, 0]])
    if matrix.shape[1] != len(classes):
        raise DataError(
            f"{name}: {matrix.shape[1]} score columns for the {len(classes)} classes "
            f"{classes!r}; pass labels= (the model's classes_, in its columns' order)."
        )
    if len(matrix) != len(y):
        raise DataError(f"{name}: {len(y)} true values but {len(matrix)} rows of scores.")
    order = sorted(range(len(classes)), key=lambda i: classes[i])
    return y, matrix[:, order], [classes[i] for i in order]


def roc_auc(y_true: Any, scores: Any, labels: Sequence[Any] | None = None) -> float:
    """Area under the ROC curve: binary from the positive class's score, macro
    one-vs-rest for more classes (equal to the binary one for two)."""
    y, matrix, classes = _probabilities("roc_auc", y_true, scores, labels)
    present = set(np.unique(y).tolist())
    unknown = present - set(classes)
    if unknown:
        raise DataError(
            f"roc_auc: the truth holds labels {sorted(map(repr, unknown))} that are not "
            f"among the classes {classes!r}."
        )
    if len(present) < len(classes):
        return _NAN
    if len(classes) == 2:
        return float(_sk().roc_auc_score(y == classes[1], matrix[:, 1]))
    return float(_sk().roc_auc_score(y, matrix, multi_class="ovr", average="macro", labels=classes))


def log_loss(y_true: Any, scores: Any, labels: Sequence[Any] | None = None) -> float:
    """Cross-entropy of the class probabilities."""
    y, matrix, classes = _probabilities("log_loss", y_true, scores, labels)
    if not len(y):
        return _NAN
    return float(_sk().log_loss(y, matrix, labels=classes))


class _ByName(dict[str, Metric]):
    """Metrics by name; an old name (:data:`LEGACY`) still finds the metric it meant in
    tuning (the macro one), with a ``FutureWarning``."""

    def __missing__(self, key: str) -> Metric:
        if key in LEGACY and LEGACY[key][1] in self:
            return self[resolve_legacy(key, binary=False)]
        raise KeyError(key)


#: Every metric by task, one definition each.
METRICS: dict[str, dict[str, Metric]] = {
    "regression": _ByName(
        (m.name, m)
        for m in (
            Metric("rmse", "minimize", rmse, description="root mean squared error"),
            Metric("mae", "minimize", mae, description="mean absolute error"),
            Metric(
                "mape",
                "minimize",
                mape,
                description="mean absolute percentage error (fraction), rows with truth 0 left out",
            ),
            Metric("r2", "maximize", r2, description="coefficient of determination"),
        )
    ),
    "classification": _ByName(
        (m.name, m)
        for m in (
            Metric("accuracy", "maximize", accuracy, description="share of correct predictions"),
            Metric(
                "precision_binary",
                "maximize",
                precision_binary,
                labels=True,
                description="precision of the positive class",
            ),
            Metric(
                "recall_binary",
                "maximize",
                recall_binary,
                labels=True,
                description="recall of the positive class",
            ),
            Metric(
                "f1_binary",
                "maximize",
                f1_binary,
                labels=True,
                description="F1 of the positive class",
            ),
            Metric(
                "precision_macro",
                "maximize",
                precision_macro,
                labels=True,
                description="precision averaged over classes",
            ),
            Metric(
                "recall_macro",
                "maximize",
                recall_macro,
                labels=True,
                description="recall averaged over classes",
            ),
            Metric(
                "f1_macro",
                "maximize",
                f1_macro,
                labels=True,
                description="F1 averaged over classes",
            ),
            Metric(
                "roc_auc",
                "maximize",
                roc_auc,
                proba=True,
                labels=True,
                description="ROC AUC (macro one-vs-rest for more than two classes)",
            ),
            Metric(
                "log_loss",
                "minimize",
                log_loss,
                proba=True,
                labels=True,
                description="cross-entropy of the class probabilities",
            ),
        )
    ),
}

#: What regression, two-class and multiclass models are measured on (packaging's holdout,
#: monitoring per window, CBPE's estimate of the classification ones).
REGRESSION = ("mae", "rmse", "mape", "r2")
BINARY = ("accuracy", "precision_binary", "recall_binary", "f1_binary", "roc_auc")
MULTICLASS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc")

#: Names used before each said which definition: (two classes, more classes).
LEGACY: dict[str, tuple[str, str]] = {
    "f1": ("f1_binary", "f1_macro"),
    "precision": ("precision_binary", "precision_macro"),
    "recall": ("recall_binary", "recall_macro"),
}


def resolve_legacy(name: str, *, binary: bool, where: str = "") -> str:
    """The current name of ``name`` (itself unless it is in :data:`LEGACY`), with a
    ``FutureWarning`` for an old one."""
    if name not in LEGACY:
        return name
    new = LEGACY[name][0 if binary else 1]
    warnings.warn(
        f"The metric name {name!r}{where} is ambiguous and read as {new!r}; say "
        f"{LEGACY[name][0]!r} (the positive class's) or {LEGACY[name][1]!r} (averaged over "
        "classes).",
        FutureWarning,
        stacklevel=3,
    )
    return new


def get(task: str, name: str | Metric, *, binary: bool = False) -> Metric:
    """The metric ``name`` of ``task`` (a :class:`Metric` is returned as it is).

    A legacy name (:data:`LEGACY`) resolves with a ``FutureWarning``: to the binary
    definition when ``binary``, else to the macro one (tuning's old ``f1``).

    Raises:
        ConfigurationError: Unknown task or metric.
    """
    if isinstance(name, Metric):
        return name
    if task not in METRICS:
        raise ConfigurationError(f"task must be 'regression' or 'classification'; got {task!r}.")
    known = METRICS[task]
    if task == "classification":
        name = resolve_legacy(name, binary=binary)
    if name not in known:
        raise ConfigurationError(
            f"No {task} metric {name!r}. Known: {sorted(known)}, or pass a Metric."
        )
    return known[name]


def evaluate(
    task: str,
    y_true: Any,
    y_pred: Any,
    *,
    scores: Any = None,
    labels: Sequence[Any] | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """The standard metrics of one sample of predictions.

    Args:
        task: ``regression`` or ``classification``.
        y_true: The truth.
        y_pred: The predictions (labels for a classifier).
        scores: A classifier's probabilities (see :func:`roc_auc`); without them the
            probability metrics are NaN.
        labels: The model's classes in the order of its score columns; their count says
            two-class or multiclass (default: the labels present, in
            :func:`class_order`).
        names: The metrics (default: :data:`REGRESSION`, :data:`BINARY` or
            :data:`MULTICLASS`).

    Returns:
        Name → value, in ``names`` order.

    Example:
        >>> evaluate("regression", [1.0, 2.0, 4.0], [1.0, 2.0, 3.0])["mae"]
        0.3333333333333333
    """
    if task == "regression":
        chosen = names or REGRESSION
        return {n: get(task, n).func(y_true, y_pred) for n in chosen}
    classes = labels if labels is not None else _labels(y_true, y_pred, None)
    chosen = names or (BINARY if len(classes) <= 2 else MULTICLASS)
    out: dict[str, float] = {}
    for name in chosen:
        metric = get(task, name, binary=len(classes) <= 2)
        if metric.proba:
            out[metric.name] = (
                _NAN if scores is None else metric.func(y_true, scores, labels=classes)
            )
        elif metric.labels:
            out[metric.name] = metric.func(y_true, y_pred, labels=classes)
        else:
            out[metric.name] = metric.func(y_true, y_pred)
    return out


def describe(name: str) -> str:
    """What a metric's name means, as a card or a run shows it (``holdout_f1_binary``,
    ``valid_mae``, ``cv_rmse``, ``rmse_std``); ``""`` for a name that is not one of ours.

    Example:
        >>> describe("holdout_f1_macro")
        'F1 averaged over classes'
    """
    base = name
    for prefix in ("holdout_", "valid_", "best_", "cv_"):
        base = base.removeprefix(prefix)
    spread = base.endswith("_std")
    base = base.removesuffix("_std").removesuffix("_cv")
    text = ""
    for known in METRICS.values():
        if base in known:
            text = known[base].description
    if base in LEGACY:  # on cards and runs made before, tuning's f1 was the macro one
        macro = METRICS["classification"][LEGACY[base][1]]
        text = f"{macro.description} (the old name of {macro.name})"
    return f"standard deviation over folds of the {text}" if text and spread else text
