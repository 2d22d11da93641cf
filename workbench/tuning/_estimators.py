"""Small scikit-learn pieces the tuning pipelines need (importable, so models pickle)."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, clone

__all__ = ["EncodedLabels", "categories_as_text"]

MISSING = "<missing>"


def categories_as_text(frame: Any) -> Any:
    """Categorical columns as text, missing values as ``<missing>``.

    ``OneHotEncoder`` refuses a column that mixes strings and numbers (a code column read
    as ``3``, ``"3"`` and ``"3A"``); as text they are one kind, and a missing value is a
    category of its own.
    """
    import pandas as pd

    frame = pd.DataFrame(frame)
    return frame.astype(object).where(frame.notna(), MISSING).astype(str)


class EncodedLabels(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier that needs labels ``0..k-1`` (XGBoost), trained on any labels.

    Labels are encoded at ``fit`` and decoded at ``predict``; ``classes_`` are the
    original labels, in the order of ``predict_proba``'s columns.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, x: Any, y: Any, **fit_params: Any) -> EncodedLabels:
        from sklearn.preprocessing import LabelEncoder

        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(x, self.encoder_.transform(y), **fit_params)
        return self

    def predict(self, x: Any) -> Any:
        import numpy as np

        return self.encoder_.inverse_transform(np.asarray(self.estimator_.predict(x)).astype(int))

    def predict_proba(self, x: Any) -> Any:
        return self.estimator_.predict_proba(x)
