"""Prediction on one thread, concurrent requests merged into one model call.

A scikit-learn pipeline costs about the same for 1 row as for 32 (the time goes to
validation and pandas indexing, not arithmetic), so requests that arrive while the model
is busy are predicted together: the event loop keeps parsing and answering while the
prediction thread works, and each request gets its own slice of the predictions back. A
merged call that fails is retried request by request, so one bad request fails alone.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from workbench._exceptions import ServingError
from workbench.serving._payload import Columns, InputSpec

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Batcher", "Loaded", "Predicted"]


#: Classifiers whose ``predict`` is ``classes_[argmax(predict_proba)]``: one call gives both.
_ARGMAX_CLASSIFIERS = (
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
    "ExtraTreesClassifier",
    "HistGradientBoostingClassifier",
    "RandomForestClassifier",
)


class Predicted(NamedTuple):
    """One model call's answer: the predictions and, for a classifier, the probability
    of each class (one column per class, in ``Loaded.classes`` order)."""

    predictions: Any
    scores: np.ndarray | None = None


@dataclass(frozen=True)
class Loaded:
    """One loaded model version and how to call it."""

    model: Any  # mlflow.pyfunc.PyFuncModel
    schema: Any
    spec: InputSpec
    version: str
    personal: tuple[str, ...] = ()
    #: The flavor's own predict (scikit-learn's ``predict`` or ``predict_proba``), called
    #: directly when the parser has already cast every column to the signature's type.
    direct: Callable[[Any], Any] | None = field(default=None, compare=False)
    #: A scikit-learn classifier's ``predict_proba``: its scores are logged beside the
    #: predictions, so that monitoring can estimate performance before labels arrive.
    scorer: Callable[[Any], Any] | None = field(default=None, compare=False)
    classes: tuple[Any, ...] = ()
    #: ``predict`` is the argmax of ``predict_proba``: one call gives both.
    from_scores: bool = False
    #: ``classes_`` as scikit-learn holds it (its dtype is ``predict``'s).
    labels: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def of(cls, model: Any, version: str, personal: list[str], *, scores: bool = True) -> Loaded:
        schema = model.metadata.get_input_schema()
        spec = InputSpec.from_schema(schema)
        conf = model.metadata.flavors.get("python_function", {})
        direct = scorer = None
        classes: tuple[Any, ...] = ()
        from_scores = False
        labels = None
        if spec.supported and conf.get("loader_module") == "mlflow.sklearn":
            raw = model.get_raw_model()
            predict_fn = conf.get("predict_fn", "predict")
            direct = getattr(raw, predict_fn, None)
            if scores and predict_fn == "predict" and _is_classifier(raw):
                scorer = raw.predict_proba
                labels = np.asarray(raw.classes_)
                classes = tuple(labels.tolist())
                final = raw.steps[-1][1] if hasattr(raw, "steps") else raw
                from_scores = type(final).__name__ in _ARGMAX_CLASSIFIERS
        return cls(
            model,
            schema,
            spec,
            version,
            tuple(personal),
            direct,
            scorer,
            classes,
            from_scores,
            labels,
        )

    def predict(self, data: Any) -> Any:
        if self.direct is not None and isinstance(data, Columns):
            return self.direct(self.spec.frame(data))
        if isinstance(data, Columns):
            data = self.spec.frame(data)
        return self.model.predict(data)

    def predict_scored(self, data: Any) -> Predicted:
        """The predictions, with the class probabilities where the model gives them."""
        if self.scorer is None or not isinstance(data, Columns):
            return Predicted(self.predict(data))
        frame = self.spec.frame(data)
        scores = np.asarray(self.scorer(frame), dtype=float)
        if self.from_scores:
            assert self.labels is not None
            return Predicted(self.labels[np.argmax(scores, axis=1)], scores)
        assert self.direct is not None
        return Predicted(self.direct(frame), scores)


def _is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(
        is_classifier(model) and hasattr(model, "predict_proba") and hasattr(model, "classes_")
    )


@dataclass
class _Item:
    loaded: Loaded
    data: Any  # Columns, or what MLflow's parser returned
    future: Future[Predicted]


def _rows(data: Any) -> int:
    return data.rows if isinstance(data, Columns) else len(data)


def _merge(items: list[_Item]) -> Columns:
    names = list(items[0].data.arrays)
    return Columns(
        {n: np.concatenate([it.data.arrays[n] for it in items]) for n in names},
        sum(it.data.rows for it in items),
    )


def _slices(predictions: Any, sizes: list[int]) -> list[Any]:
    total = sum(sizes)
    if hasattr(predictions, "iloc"):
        if len(predictions) != total:
            raise ValueError(f"{len(predictions)} predictions for {total} rows")
        bounds = np.cumsum([0, *sizes])
        return [predictions.iloc[a:b].reset_index(drop=True) for a, b in itertools.pairwise(bounds)]
    values = np.asarray(predictions)
    if values.ndim == 0 or len(values) != total:
        raise ValueError(f"{values.shape} predictions for {total} rows")
    return np.split(values, np.cumsum(sizes)[:-1])


def _groups(items: list[_Item]) -> list[list[_Item]]:
    """The requests of one model call each: parsed columns for the same version go
    together wherever they stand in the queue (a canary's requests among the champion's
    cost one call more, not one per change of version); MLflow's parses go alone."""
    groups: dict[int, list[_Item]] = {}
    alone: list[list[_Item]] = []
    for item in items:
        if isinstance(item.data, Columns):
            groups.setdefault(id(item.loaded), []).append(item)
        else:
            alone.append([item])
    return [*groups.values(), *alone]


class Batcher:
    """The prediction thread.

    Args:
        max_rows: Most rows merged into one model call.
        linger: Seconds to wait after a request comes for more to merge with it (0: none,
            the champion's: a request never waits for others). A shadow lingers: its
            predictions are not awaited, and one model call for many requests costs
            little more than one for a single request, so it seldom holds the
            interpreter while the champion's requests are answered.
    """

    def __init__(self, *, max_rows: int = 4096, linger: float = 0.0) -> None:
        self.max_rows = max_rows
        self.linger = linger
        self.calls = 0
        self.merged = 0
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="predict", daemon=True)
        self._thread.start()

    def submit(self, loaded: Loaded, data: Any) -> Future[Predicted]:
        """Queue one request's input; the future resolves to its :class:`Predicted`."""
        if self._closed:
            raise ServingError("The prediction thread has stopped; the server is shutting down.")
        future: Future[Predicted] = Future()
        self._queue.put(_Item(loaded, data, future))
        return future

    def close(self) -> None:
        """Predict what is queued, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items, rows, stop = [first], _rows(first.data), False
            until = time.monotonic() + self.linger
            while rows < self.max_rows:
                try:
                    left = until - time.monotonic()
                    nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
                rows += _rows(nxt.data)
            for group in _groups(items):
                self._predict(group)
            if stop:
                return

    def _predict(self, group: list[_Item]) -> None:
        self.calls += 1
        if len(group) > 1:
            try:
                merged = _merge(group)
                answer = group[0].loaded.predict_scored(merged)
                sizes = [it.data.rows for it in group]
                parts = _slices(answer.predictions, sizes)
                scores = (
                    _slices(answer.scores, sizes)
                    if answer.scores is not None
                    else [None] * len(group)
                )
            except Exception:
                pass
            else:
                self.merged += len(group)
                for item, part, score in zip(group, parts, scores, strict=True):
                    item.future.set_result(Predicted(part, score))
                return
        for item in group:
            try:
                item.future.set_result(item.loaded.predict_scored(item.data))
            except BaseException as exc:
                item.future.set_exception(exc)
