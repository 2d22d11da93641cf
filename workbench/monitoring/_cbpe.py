"""Performance estimated before labels arrive: confidence-based estimation (CBPE).

As NannyML's CBPE: the classifier's scores are calibrated on reference data with labels
(isotonic regression, where NannyML's test says it helps), and the calibrated probability
of each current row gives the expected confusion matrix and the expected ROC curve, hence
expected accuracy, precision, recall, F1 and ROC AUC with no label at all.
:func:`estimate_from_log` does it per period over the inference log's logged scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._metrics import BINARY, MULTICLASS
from workbench.monitoring._periods import periods, renamed_window

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CBPE", "estimate_from_log", "needs_calibration", "reference_classes"]


def needs_calibration(
    target: Any, scores: Any, *, bins: int = 10, splits: int = 10, seed: int = 42
) -> bool:
    """Whether isotonic calibration makes these scores better calibrated (NannyML's
    ``needs_calibration``, reproduced).

    Isotonic regression is fitted on 90 % of the rows and applied to the other 10 %, ten
    times (stratified shuffle splits, seed 42); the expected calibration error (rows
    sorted by score, ten equal-count bins) of the held-out scores before and after is
    compared on all ten held-out parts together. No calibration when it does not lower
    the error, when the labels hold one class, when the scores already separate them
    (ROC AUC > 0.999), or when there are too few rows to hold out both classes.

    Args:
        target: 0/1 (or boolean) truth of one class.
        scores: That class's scores.
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.asarray(target).astype(int)
    p = np.asarray(scores, dtype=float)
    if len(np.unique(y)) < 2 or roc_auc_score(y, p) > 0.999:
        return False
    split = StratifiedShuffleSplit(n_splits=splits, test_size=0.1, random_state=seed)
    truth, before, after = [], [], []
    try:
        for train, test in split.split(p, y):
            calibrator = IsotonicRegression(out_of_bounds="clip").fit(p[train], y[train])
            truth.append(y[test])
            before.append(p[test])
            after.append(calibrator.predict(p[test]))
    except ValueError:  # too few rows of a class to hold out
        return False
    held = np.concatenate(truth)
    edges = _bin_edges(len(held), bins)
    if edges is None:
        return False
    return _ece(held, np.concatenate(before), edges) > _ece(held, np.concatenate(after), edges)


def _bin_edges(n: int, bins: int) -> list[tuple[int, int]] | None:
    """Equal-count bins over ``n`` sorted rows (fewer when there are few rows)."""
    if n <= 2 * bins:
        bins = n // 2
        if bins < 2:
            return None
    width = n // bins
    cuts = np.asarray(range(0, n + 1, width))
    cuts[-1] = n
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))


def _ece(truth: np.ndarray, scores: np.ndarray, edges: list[tuple[int, int]]) -> float:
    """Expected calibration error over equal-count bins of the rows sorted by score."""
    order = scores.argsort()
    scores, truth = scores[order], truth[order]
    return float(
        np.sum(
            [
                (right - left)
                / len(scores)
                * abs(np.mean(scores[left:right]) - np.mean(truth[left:right]))
                for left, right in edges
            ]
        )
    )


def _expected_roc_auc(probability: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC expected from calibrated probabilities: rows in descending order of the
    model's own scores, each adding its probability of being positive to the expected
    true positives and the rest to the expected false positives (NannyML's
    ``estimate_roc_auc``, its rounding to 5 decimals of the counts included)."""
    from sklearn.metrics import auc

    order = np.argsort(scores)[::-1]
    ranked = probability[order]
    expected = np.cumsum(ranked)
    tps = np.asarray(np.round(np.r_[0, expected], 5))
    fps = np.asarray(np.round(np.r_[0, 1 + np.arange(len(ranked)) - expected], 5))
    if len(ranked) == 0 or tps[-1] <= 0 or fps[-1] <= 0:
        return math.nan  # every row surely one class: no curve
    return float(auc(fps / fps[-1], tps / tps[-1]))


def _expected_counts(predicted: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Expected accuracy, precision, recall and F1 of one class from its calibrated
    probability (NannyML's sums, in the same order)."""
    tp = float(np.sum(np.where(predicted, probability, 0)))
    fp = float(np.sum(np.where(predicted, 1 - probability, 0)))
    fn = float(np.sum(np.where(~predicted, probability, 0)))
    tn = float(np.sum(np.where(~predicted, 1 - probability, 0)))
    return {
        "accuracy": (tp + tn) / len(probability),
        "precision": tp / (tp + fp) if tp + fp != 0 else 0.0,
        "recall": tp / (tp + fn) if tp + fn != 0 else 0.0,
        "f1": tp / (tp + 0.5 * (fp + fn)) if tp + 0.5 * (fp + fn) != 0 else 0.0,
    }


class CBPE:
    """Confidence-based performance estimation for a classifier, before labels arrive.

    Fit on reference rows with labels (``fit``), then ``estimate`` current rows from their
    scores alone: expected accuracy, precision, recall, F1 and ROC AUC (the ``_binary``
    ones for two classes, the ``_macro`` ones for more, as :mod:`workbench._metrics`
    names them), as NannyML's CBPE computes them.

    Args:
        threshold: Score at or above which a binary prediction is positive.
        calibration: ``"auto"`` (isotonic where :func:`needs_calibration` says it helps,
            as NannyML decides), ``"isotonic"`` (always) or ``"none"``.

    Attributes:
        classes_: The model's classes, in the order of its score columns.
        calibrated_: Per score column (the positive class's alone for two classes),
            whether isotonic calibration is applied.

    Example:
        >>> cbpe = CBPE().fit(model.predict_proba(x_ref)[:, 1], y_ref, classes=model.classes_)
        >>> cbpe.estimate(model.predict_proba(x_now)[:, 1])["f1_binary"]  # doctest: +SKIP
    """

    def __init__(self, threshold: float = 0.5, *, calibration: str = "auto") -> None:
        self.threshold = threshold
        self.calibration = calibration

    @property
    def classes(self) -> tuple[Any, ...]:
        """The fitted classes (``classes_``), or ``()`` before ``fit``."""
        return getattr(self, "classes_", ())

    def fit(self, scores: Any, labels: Any, classes: Sequence[Any] | None = None) -> CBPE:
        """Calibrate the scores against the reference labels, per class.

        Args:
            scores: For two classes the positive class's probability (``predict_proba[:,
                1]``) or both columns; for more, one column per class.
            labels: The reference rows' true labels.
            classes: The model's ``classes_``: the order of its score columns, the last
                being the positive class of two. Required: labels alone do not say it
                (text order puts 10 before 2).

        Raises:
            MonitoringError: ``classes`` missing or not fitting the scores or labels, or
                ``calibration`` unknown.
        """
        from sklearn.isotonic import IsotonicRegression

        if self.calibration not in ("auto", "isotonic", "none"):
            raise MonitoringError(
                f"CBPE's calibration must be 'auto', 'isotonic' or 'none'; got "
                f"{self.calibration!r}."
            )
        if classes is None:
            raise MonitoringError(
                "CBPE.fit needs classes=: the model's classes_, in the order of its "
                "predict_proba columns (the last is the positive class of two). Labels alone "
                "do not say it: sorted as text, 10 comes before 2. For example "
                "CBPE().fit(model.predict_proba(x)[:, 1], y, classes=model.classes_)."
            )
        known = tuple(np.asarray(classes).tolist())
        if len(set(known)) != len(known) or len(known) < 2:
            raise MonitoringError(
                f"classes must be at least two distinct labels; got {list(known)!r}."
            )
        matrix = self._columns(scores, known)
        truth = np.asarray(labels, dtype=object).ravel()
        if len(truth) != len(matrix):
            raise MonitoringError(
                f"{len(truth)} reference labels for {len(matrix)} rows of scores."
            )
        if not len(truth):
            raise MonitoringError("CBPE.fit needs reference rows; got none.")
        unknown = sorted({repr(v) for v in truth.tolist() if v not in known})
        if unknown:
            raise MonitoringError(
                f"The reference labels hold {unknown[:10]} that are not among the model's "
                f"classes {list(known)!r}."
            )
        targets = [truth == known[1]] if matrix.shape[1] == 1 else [truth == c for c in known]
        calibrators: list[Any] = []
        for i, target in enumerate(targets):
            target = target.astype(int)
            use = self.calibration == "isotonic" or (
                self.calibration == "auto" and needs_calibration(target, matrix[:, i])
            )
            calibrators.append(
                IsotonicRegression(out_of_bounds="clip").fit(matrix[:, i], target) if use else None
            )
        self.classes_ = known
        self.calibrators_ = tuple(calibrators)
        self.calibrated_ = tuple(c is not None for c in calibrators)
        return self

    def _columns(self, scores: Any, classes: Sequence[Any]) -> np.ndarray:
        """The score matrix: one column (the positive class's) for two classes, else one
        per class."""
        matrix = _as_matrix(scores)
        if len(classes) == 2 and matrix.shape[1] == 2:
            return matrix[:, 1:]
        if matrix.shape[1] == 1 and len(classes) != 2:
            raise MonitoringError(
                f"One score column means a binary classifier; the classes are {list(classes)}."
            )
        if matrix.shape[1] > 1 and matrix.shape[1] != len(classes):
            raise MonitoringError(
                f"{matrix.shape[1]} score columns for {len(classes)} classes {list(classes)}."
            )
        return matrix

    def calibrated(self, scores: Any) -> np.ndarray:
        """The calibrated probability of each score column (rows summing to 1 for more
        than two classes)."""
        if not hasattr(self, "calibrators_"):
            raise MonitoringError("CBPE.estimate before fit: calibrate on reference rows first.")
        matrix = self._columns(scores, self.classes_)
        out = np.column_stack(
            [
                matrix[:, i] if c is None else c.predict(matrix[:, i])
                for i, c in enumerate(self.calibrators_)
            ]
        )
        if out.shape[1] > 1:
            total = out.sum(axis=1)[:, None]
            uniform = np.full_like(out, 1 / out.shape[1])
            out = np.divide(out, total, out=uniform, where=total != 0)
        return out

    def estimate(self, scores: Any) -> dict[str, float]:
        """Expected ``accuracy``, ``precision_*``, ``recall_*``, ``f1_*`` and ``roc_auc``
        of these rows (``_binary`` for two classes, ``_macro`` for more); NaN for none."""
        p = self.calibrated(scores)
        matrix = self._columns(scores, self.classes_)
        binary = matrix.shape[1] == 1
        names = BINARY if binary else MULTICLASS
        if not len(p):
            return dict.fromkeys(names, math.nan)
        if binary:
            counts = _expected_counts(matrix[:, 0] >= self.threshold, p[:, 0])
            return {
                "accuracy": counts["accuracy"],
                "precision_binary": counts["precision"],
                "recall_binary": counts["recall"],
                "f1_binary": counts["f1"],
                "roc_auc": _expected_roc_auc(p[:, 0], matrix[:, 0]),
            }
        chosen = np.argmax(matrix, axis=1)
        per_class = [_expected_counts(chosen == k, p[:, k]) for k in range(p.shape[1])]
        return {
            "accuracy": float(np.mean(p[np.arange(len(p)), chosen])),
            "precision_macro": float(np.mean([c["precision"] for c in per_class])),
            "recall_macro": float(np.mean([c["recall"] for c in per_class])),
            "f1_macro": float(np.mean([c["f1"] for c in per_class])),
            "roc_auc": float(
                np.mean([_expected_roc_auc(p[:, k], matrix[:, k]) for k in range(p.shape[1])])
            ),
        }

    def estimate_over_time(
        self,
        frame: pd.DataFrame,
        score_columns: str | Sequence[str],
        *,
        period: str | int = "1D",
        time_column: str = "timestamp",
        window: str | int | None = None,
    ) -> pd.DataFrame:
        """:meth:`estimate` per period of ``frame`` (for example the inference log); the
        period's start in ``window`` (``window=``: deprecated, the old name of ``period``)."""
        import pandas as pd

        period = renamed_window(period, window, default="1D", caller="CBPE.estimate_over_time")
        columns = [score_columns] if isinstance(score_columns, str) else list(score_columns)
        rows = []
        for start, part in periods(frame, period, time_column=time_column):
            rows.append({"window": start, "rows": len(part), **self.estimate(part[columns])})
        return pd.DataFrame(rows)


def reference_classes(reference_scores: pd.DataFrame) -> tuple[list[Any], list[str]]:
    """The model's classes and their score columns in ``reference_scores.parquet``
    (written by ``package_model``: a ``label`` column, one ``proba_<class>`` column per
    class, and the model's ``classes_`` in the frame's ``attrs``).

    A file written before the classes were stored gives them by its columns' order
    (``classes_`` order too), each read back as the label of the same text.

    Raises:
        MonitoringError: No ``label`` column, fewer than two score columns, or stored
            classes that do not name the score columns.
    """
    from workbench._versions import score_column

    columns = [c for c in reference_scores.columns if str(c).startswith("proba_")]
    if "label" not in reference_scores.columns or len(columns) < 2:
        raise MonitoringError(
            "Reference scores need a 'label' column and one 'proba_<class>' column per "
            f"class; got {list(reference_scores.columns)}."
        )
    stored = reference_scores.attrs.get("classes")
    if stored is not None:
        classes = list(stored)
        expected = [score_column(c) for c in classes]
        if sorted(expected) != sorted(columns):
            raise MonitoringError(
                f"The reference scores' classes {classes!r} name the columns {expected}, "
                f"but the file has {columns}."
            )
        return classes, expected
    by_name = {str(v): v for v in reference_scores["label"].dropna().unique().tolist()}
    return [
        by_name.get(c.removeprefix("proba_"), c.removeprefix("proba_")) for c in columns
    ], columns


def _as_matrix(scores: Any) -> np.ndarray:
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise MonitoringError("Scores must be a finite 1-D array or a 2-D array (one per class).")
    return matrix


def estimate_from_log(
    folder: str | Path,
    reference_scores: pd.DataFrame,
    *,
    model_version: str | None = None,
    period: str | int = "1D",
    window: str | int | None = None,
    time_column: str = "timestamp",
) -> pd.DataFrame | None:
    """Performance estimated per period before labels arrive (confidence-based, CBPE).

    Calibrates :class:`CBPE` on the classifier's scores and labels of the reference
    (``reference_scores.parquet``, stored by ``package_model``: a ``label`` column and one
    ``proba_<class>`` column per class), then reads only the logged scores of
    ``model_version`` (the server logs them for scikit-learn classifiers). Periods
    follow ``time_column`` (an event-time column, its missing values read as the
    arrival time). ``window=`` is deprecated: the old name of ``period``.

    Returns:
        One row per period (its start in ``window``) with ``accuracy``,
        ``precision_*``, ``recall_*``, ``f1_*`` and ``roc_auc`` (``_binary`` for two
        classes, ``_macro`` for more), or ``None`` when the log holds no scores of this
        version.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    from workbench.serving import LogFolder

    period = renamed_window(period, window, default="1D", caller="estimate_from_log")
    classes, columns = reference_classes(reference_scores)
    used = columns[1:] if len(columns) == 2 else columns  # binary: the positive class
    cbpe = CBPE().fit(reference_scores[used], reference_scores["label"], classes=classes)
    place = LogFolder(folder)
    files = place.glob("segment-*.parquet")
    if not files:
        return None
    filesystem = None if place.local else place.fs
    first = ds.dataset(files[0], format="parquet", filesystem=filesystem).schema
    schema = pa.schema(
        [
            first.field("timestamp"),
            *([pa.field(time_column, pa.string())] if time_column != "timestamp" else []),
            pa.field("model_version", pa.string()),
            *(pa.field(c, pa.float64()) for c in used),
        ]
    )
    data = ds.dataset(files, format="parquet", filesystem=filesystem, schema=schema)
    condition = ds.field(used[0]).is_valid()
    if model_version is not None:
        condition = condition & (ds.field("model_version") == model_version)
    frame = data.to_table(filter=condition).to_pandas()
    if frame.empty:
        return None
    return cbpe.estimate_over_time(frame, used, period=period, time_column=time_column)
