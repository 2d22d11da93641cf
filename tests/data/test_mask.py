from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data import mask_frame, mask_value


def test_masks_are_stable_distinct_and_hide_the_value() -> None:
    a, b = mask_value("Mario Rossi"), mask_value("Anna Bianchi")
    assert a == mask_value("Mario Rossi") and a != b
    assert "Mario" not in a and a.startswith("•••")
    assert mask_value("x", salt="s1") != mask_value("x", salt="s2")


def test_missing_values_stay_missing() -> None:
    assert mask_value(None) is None and np.isnan(mask_value(float("nan")))
    assert mask_value(pd.NA) is pd.NA


def test_mask_frame_masks_only_the_named_columns() -> None:
    frame = pd.DataFrame({"name": ["Anna", None], "age": [3, 4]})
    out = mask_frame(frame, ["name", "not-there"])
    assert out["age"].tolist() == [3, 4] and out["name"].iloc[0].startswith("•••")
    assert pd.isna(out["name"].iloc[1]) and frame["name"].iloc[0] == "Anna"
