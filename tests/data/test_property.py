"""Valid + quarantined = input, for any dirty frame."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.data import ColumnContract, Contract, Rule, validate

CONTRACT = Contract(
    (
        ColumnContract("id", "int", nullable=False),
        ColumnContract("x", "float", min=0, max=100),
        ColumnContract("flag", "bool"),
        ColumnContract("kind", "category", categories=("a", "b"), aliases={"A1": "a"}),
        ColumnContract("day", "datetime"),
    ),
    rules=(Rule.implies("a_is_flagged", "kind == 'a'", "flag == True"),),
    key=("id",),
)

cell = st.one_of(
    st.just(""),
    st.just("nan"),
    st.just("inf"),
    st.just(" "),
    st.just("1,5"),
    st.just("-3"),
    st.just("150"),
    st.just("yes"),
    st.just("no"),
    st.just("a"),
    st.just("A1"),
    st.just("b"),
    st.just("2024-02-30"),
    st.just("2024-01-05"),
    st.just("1.000,25"),
    st.integers(-5, 200).map(str),
    st.text(max_size=6),
)
row = st.fixed_dictionaries({name: cell for name in CONTRACT.names})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=0, max_size=40))
def test_valid_plus_quarantined_is_the_input(rows: list[dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=CONTRACT.names)
    result = validate(frame, CONTRACT)
    assert len(result.valid) + len(result.quarantine) == len(frame)
    seen = sorted([*result.valid["_row"], *result.quarantine["_row"]])
    assert seen == list(range(len(frame)))  # each input row in exactly one place
    assert set(result.failures["row"]) == set(result.quarantine["_row"])
    assert result.quarantine["_reasons"].map(bool).all()
    # quarantined rows are the input rows as they were
    if len(result.quarantine):
        original = frame.iloc[result.quarantine["_row"]].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            result.quarantine[CONTRACT.names], original, check_dtype=False
        )
    # and the valid rows satisfy the contract
    valid = result.valid
    assert valid["id"].notna().all() and valid["id"].is_unique
    assert ((valid["x"].dropna() >= 0) & (valid["x"].dropna() <= 100)).all()
    assert not ((valid["kind"] == "a") & (valid["flag"] == False)).fillna(False).any()  # noqa: E712
