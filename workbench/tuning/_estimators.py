"""The pieces of the tuning pipelines that are not one scikit-learn estimator.

A tuned pipeline is packaged and served where the workbench is not installed, so what
ends up inside it is built from scikit-learn, NumPy/pandas and the boosting libraries
only: :func:`text_categories` (categorical columns as text, missing values a category of
their own, one-hot encoded) and :func:`any_labels` (a classifier that needs labels
``0..k-1``, trained on any labels). Both serialize with skops (the operator and pandas
methods they call are named, not pickled code) and load with scikit-learn alone.

:func:`categories_as_text` and :class:`EncodedLabels` are what pipelines tuned before
held instead; they stay importable so those models still load where the workbench is
installed, and are no longer put into new pipelines.
"""

from __future__ import annotations

from operator import methodcaller
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone

__all__ = [
    "MISSING",
    "EncodedLabels",
    "FrameImputer",
    "any_labels",
    "categories_as_text",
    "text_categories",
]

#: The category a missing value of a categorical column becomes.
MISSING = "<missing>"
# pandas' nullable boolean and integer dtypes: a model's signature declares them doubles
_NULLABLE = ["boolean", *(f"{s}Int{b}" for s in ("", "U") for b in (8, 16, 32, 64))]


def text_categories() -> Any:
    """One-hot encoding of categorical columns, read as text, missing as :data:`MISSING`.

    ``OneHotEncoder`` refuses a column that mixes strings and numbers (a code column read
    as ``3``, ``"3"`` and ``"3A"``) and pandas' ``pd.NA``; as text they are one kind, and a
    missing value (``None``, ``NaN``, ``pd.NA``, ``NaT``) is a category of its own. The
    steps are the frame's own ``astype``/``fillna`` called through ``operator.methodcaller``,
    so the fitted pipeline names only pandas and scikit-learn. Unknown categories at
    prediction time encode as all zeros.

    Nullable boolean and integer columns (``boolean``, ``Int64``: what a data contract
    loads) are read as floats first, because that is how they reach a served model: its
    signature declares them doubles, so a missing value can arrive. Read as ``True`` at
    training and ``1.0`` when served, a category would be unknown to the served model.

    Returns:
        An unfitted scikit-learn ``Pipeline`` that takes a pandas frame.
    """
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    def step(name: str, *args: Any) -> Any:
        return FunctionTransformer(methodcaller(name, *args), feature_names_out="one-to-one")

    as_served = ColumnTransformer(  # the columns are chosen by dtype at fit, then kept
        [("nullable", step("astype", "float64"), make_column_selector(dtype_include=_NULLABLE))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return make_pipeline(
        as_served,
        step("astype", "object"),  # a pandas categorical column takes any value then
        step("fillna", MISSING),  # every kind of missing value: None, NaN, pd.NA, NaT
        step("astype", "str"),
        OneHotEncoder(handle_unknown="ignore"),
    )


def any_labels(classifier: Any, name: str = "model") -> Any:
    """``classifier`` (which needs labels ``0..k-1``, as XGBoost does), trained on any labels.

    A soft-voting ``VotingClassifier`` of that one classifier: scikit-learn encodes the
    labels at ``fit``, its ``classes_`` are the original labels in the order of
    ``predict_proba``'s columns, which are the classifier's own probabilities, and
    ``predict`` decodes their argmax.

    Args:
        classifier: An unfitted classifier with ``predict_proba``.
        name: Its name inside the vote (shown by ``get_params``).
    """
    from sklearn.ensemble import VotingClassifier

    return VotingClassifier([(name, classifier)], voting="soft")


def categories_as_text(frame: Any) -> Any:
    """Categorical columns as text, missing values as ``<missing>`` (kept for old models).

    Pipelines tuned before :func:`text_categories` hold this function; it stays here so
    they load where the workbench is installed.
    """
    import pandas as pd

    frame = pd.DataFrame(frame)
    return frame.astype(object).where(frame.notna(), MISSING).astype(str)


class EncodedLabels(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier trained on encoded labels (kept for old models; see :func:`any_labels`).

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


class FrameImputer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Median imputation, then (``scale``) standardization, of numeric columns, in frame
    operations only, so the same code runs on a pandas frame and on a cuDF frame without
    leaving the GPU: what ``SimpleImputer(strategy="median")`` and ``StandardScaler`` do
    (a column without spread is centred, not scaled). Used on GPU workers, for trials;
    the refitted pipeline uses scikit-learn's own.
    """

    def __init__(self, scale: bool = False) -> None:
        self.scale = scale

    def fit(self, x: Any, y: Any = None) -> FrameImputer:
        self.medians_ = x.median()
        if self.scale:
            filled = x.fillna(self.medians_)
            self.means_ = filled.mean()
            spread = filled.std(ddof=0)
            self.scales_ = spread.where(spread > 0, 1.0)
        return self

    def transform(self, x: Any) -> Any:
        filled = x.fillna(self.medians_)
        return (filled - self.means_) / self.scales_ if self.scale else filled
