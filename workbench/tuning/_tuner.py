"""Tuning as a scikit-learn estimator: ``Tuner(...).fit(X, y)``, then ``predict``.

:class:`Tuner` is a scikit-learn estimator by scikit-learn's rules: its constructor
takes the keyword arguments of :func:`~workbench.tuning.tune` and stores each as given,
so ``get_params``, ``set_params`` and ``sklearn.base.clone`` work as for any estimator;
what ``fit`` learns ends in ``_``; predicting before ``fit`` raises ``NotFittedError``.
This module imports scikit-learn, so ``workbench.tuning`` loads it on first use.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_html_repr
from sklearn.utils.validation import check_is_fitted

from workbench._urls import redact_url
from workbench.tuning._study import tune

if TYPE_CHECKING:
    import pandas as pd

    from workbench._metrics import Metric
    from workbench._settings import Settings
    from workbench.tuning._spaces import Family

__all__ = ["Tuner"]

_TASK_TYPES = {"regression": "regressor", "classification": "classifier"}


class Tuner(BaseEstimator):  # type: ignore[misc]
    """Estimator-style tuning: ``Tuner(...).fit(X, y)`` then ``predict``.

    Takes the keyword arguments of :func:`~workbench.tuning.tune` (all but ``frame``
    and ``target``), with the same defaults and meanings. ``fit(X, y)`` tunes on ``X``
    with ``y`` as the target (named after ``y.name``, else ``target``).

    ``sklearn.base.clone`` copies every parameter as scikit-learn does, except
    ``cluster``: a ``distributed.Client`` is a connection to a running cluster, as an
    address is, so the clone shares it (a live connection cannot be deep-copied).

    Attributes (after ``fit``):
        result_: The :class:`TuningResult`.
        best_estimator_: The refitted best pipeline (``None`` with ``refit=False`` or a
            custom ``objective``: then ``predict`` raises ``NotFittedError``).
        best_params_: The best trial's parameters.

    Example:
        >>> tuner = Tuner(families=["ridge"], n_trials=5).fit(x, y)  # doctest: +SKIP
        >>> tuner.predict(x.head())  # doctest: +SKIP
        >>> sklearn.base.clone(tuner).set_params(n_trials=10)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        task: str = "regression",
        metric: str | Metric | None = None,
        families: Iterable[str | Family] | None = None,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        cv: Any = 5,
        time_column: str | None = None,
        n_trials: int = 20,
        timeout: float | None = None,
        cluster: Any = None,
        n_workers: int | None = None,
        study_name: str | None = None,
        storage: str | None = None,
        pruner: Any = "median",
        objective: Callable[..., float] | None = None,
        refit: bool = True,
        experiment: str | None = None,
        seed: int = 0,
        max_failures: int | None = None,
        max_pruned: int | None = None,
        strict: bool = False,
        progress: bool = True,
        settings: Settings | None = None,
        on_trial: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.task = task
        self.metric = metric
        self.families = families
        self.features = features
        self.categorical = categorical
        self.cv = cv
        self.time_column = time_column
        self.n_trials = n_trials
        self.timeout = timeout
        self.cluster = cluster
        self.n_workers = n_workers
        self.study_name = study_name
        self.storage = storage
        self.pruner = pruner
        self.objective = objective
        self.refit = refit
        self.experiment = experiment
        self.seed = seed
        self.max_failures = max_failures
        self.max_pruned = max_pruned
        self.strict = strict
        self.progress = progress
        self.settings = settings
        self.on_trial = on_trial

    def fit(self, x: pd.DataFrame, y: Any) -> Tuner:
        """Tune on ``x`` (features) and ``y`` (target); see :func:`tune` for what raises."""
        import pandas as pd

        target = getattr(y, "name", None) or "target"
        frame = pd.DataFrame(x).copy()
        frame.columns = [str(c) for c in frame.columns]  # a numpy X has integer labels
        frame[target] = list(y) if not isinstance(y, pd.Series) else y.to_numpy()
        self.result_ = tune(frame, target, **self.get_params(deep=False))
        self.best_estimator_ = self.result_.best_model
        self.best_params_ = self.result_.best_params
        return self

    def predict(self, x: pd.DataFrame) -> Any:
        """The best pipeline's predictions."""
        return self._best().predict(x)

    def predict_proba(self, x: pd.DataFrame) -> Any:
        """The best pipeline's class probabilities (classification)."""
        return self._best().predict_proba(x)

    def score(self, x: pd.DataFrame, y: Any) -> float:
        """The best pipeline's own score: R² for a regressor, accuracy for a classifier."""
        return float(self._best().score(x, y))

    def _best(self) -> Any:
        check_is_fitted(self)
        if self.best_estimator_ is None:
            raise NotFittedError(
                f"This Tuner was fitted with refit={self.refit!r} and "
                f"objective={self.objective!r}, so no best pipeline was refitted: "
                f"best_estimator_ is None. Fit it with refit=True (and the families' "
                f"cross-validation, no custom objective) to predict with it."
            )
        return self.best_estimator_

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = _TASK_TYPES.get(self.task)
        if tags.estimator_type == "regressor":
            tags.regressor_tags = RegressorTags()
        elif tags.estimator_type == "classifier":
            tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags

    def __sklearn_clone__(self) -> Tuner:
        params = self.get_params(deep=False)
        cluster = params.pop("cluster")  # a Client: shared, as an address would be
        return type(self)(cluster=cluster, **{k: clone(v, safe=False) for k, v in params.items()})

    # A notebook shows the parameters: never the password of a storage URL.

    def _shown(self) -> Tuner:
        shown = copy.copy(self)
        for name in ("storage", "cluster"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(shown, name, redact_url(value))
        return shown

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        return str(BaseEstimator.__repr__(self._shown(), N_CHAR_MAX))

    def _repr_html_inner(self) -> str:
        return str(estimator_html_repr(self._shown()))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return dict(BaseEstimator._repr_mimebundle_(self._shown(), **kwargs))
