"""The tuning pipelines' own pieces, against the references they replace or wrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, LabelEncoder, OneHotEncoder

from workbench.tuning._estimators import (
    MISSING,
    EncodedLabels,
    any_labels,
    categories_as_text,
    text_categories,
)

# A categorical column as it arrives from exports, contracts and pandas itself.
COLUMNS = {
    "mixed": pd.Series(["A1", 7, "7", None, np.nan, 3.0, True, "A1"], dtype=object),
    "text": pd.Series(["a", None, "b", "a", None, "c", "b", "a"]),
    "string": pd.Series(["a", None, "b", "a", None, "c", "b", "a"], dtype="string"),
    "category": pd.Series(pd.Categorical(["a", None, "b", "a", None, "c", "b", "a"])),
    "bool": pd.Series([True, False, True, False, True, True, False, True]),
    "object_bool": pd.Series([True, None, False, True, None, False, True, True], dtype=object),
    "codes": pd.Series([1, 2, 3, 1, 2, 3, 1, 2]),
    "times": pd.Series(["a", pd.NaT, "b", "a", None, "c", np.nan, pd.NA], dtype=object),
    "all_missing": pd.Series([None] * 8, dtype=object),
}
# Nullable booleans and integers: a served model's signature declares them doubles.
NULLABLE = {
    "boolean": pd.Series([True, None, False, True, None, False, True, True], dtype="boolean"),
    "Int64": pd.Series([1, None, 3, 1, 2, None, 1, 5], dtype="Int64"),
}


def _reference() -> object:
    """The pipelines' text step before: the workbench's own function."""
    text = FunctionTransformer(categories_as_text, feature_names_out="one-to-one")
    return make_pipeline(text, OneHotEncoder(handle_unknown="ignore"))


@pytest.mark.parametrize("column", sorted(COLUMNS))
def test_text_categories_encode_as_the_workbench_function_did(column: str) -> None:
    frame = pd.DataFrame({"c": COLUMNS[column], "other": list("xyzxyzxy")})
    ours, reference = text_categories().fit(frame), _reference().fit(frame)
    assert [list(c) for c in ours[-1].categories_] == [list(c) for c in reference[-1].categories_]
    assert (ours.transform(frame) != reference.transform(frame)).nnz == 0
    assert list(ours.get_feature_names_out()) == list(reference.get_feature_names_out())
    unseen = pd.DataFrame({"c": pd.Series(["never seen"], dtype=object), "other": ["x"]})
    assert ours.transform(unseen).sum() == 1  # an unknown category encodes as zeros


@pytest.mark.parametrize("dtype", sorted(NULLABLE))
def test_nullable_columns_encode_the_same_at_training_and_when_served(dtype: str) -> None:
    """A nullable boolean or integer column reaches a served model as doubles; it must
    land in the categories it was trained with (the old function read ``True`` at
    training and ``1.0`` when served: an unknown category)."""
    frame = pd.DataFrame({"c": NULLABLE[dtype]})
    served = frame.astype("float64")
    ours = text_categories().fit(frame)
    assert (ours.transform(served) != ours.transform(frame)).nnz == 0
    assert ours.transform(served).sum(axis=1).min() == 1  # every row in a known category
    assert MISSING in ours[-1].categories_[0]
    reference = _reference().fit(frame)
    assert reference.transform(served).sum(axis=1).min() == 0  # the fault it had


def test_text_categories_serialize_with_scikit_learn_types_only() -> None:
    frame = pd.DataFrame({"c": COLUMNS["mixed"], "n": NULLABLE["boolean"]})
    fitted = text_categories().fit(frame)
    data = sio.dumps(fitted)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(t.startswith(("sklearn.", "numpy.", "operator.")) for t in untrusted), untrusted
    loaded = sio.loads(data, trusted=untrusted)
    assert (loaded.transform(frame) != fitted.transform(frame)).nnz == 0


@pytest.mark.parametrize("classes", [2, 3])
def test_any_labels_is_the_classifier_on_encoded_labels(classes: int) -> None:
    """Against the reference: XGBoost fitted on ``LabelEncoder`` codes by hand."""
    xgboost = pytest.importorskip("xgboost")
    rng = np.random.default_rng(classes)
    x = rng.normal(size=(300, 4))
    names = np.array(["churned", "stayed", "upgraded"][:classes])
    y = names[(np.abs(x[:, 0]) * classes).astype(int) % classes]

    def booster() -> object:
        return xgboost.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1)

    ours = any_labels(booster(), "xgboost").fit(x, y)
    encoder = LabelEncoder().fit(y)
    reference = booster().fit(x, encoder.transform(y))
    assert list(ours.classes_) == list(encoder.classes_)
    np.testing.assert_array_equal(ours.predict_proba(x), reference.predict_proba(x))
    proba = reference.predict_proba(x)
    np.testing.assert_array_equal(ours.predict(x), encoder.inverse_transform(proba.argmax(1)))
    # and as the pipelines held it before
    before = EncodedLabels(booster()).fit(x, y)
    assert (ours.predict(x) == before.predict(x)).all()
