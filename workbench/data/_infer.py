"""Propose a contract from good reference data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench._exceptions import DataError
from workbench.data._contract import ColumnContract, Contract

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["infer_contract"]


def infer_contract(
    reference: pd.DataFrame,
    *,
    key: Sequence[str] = (),
    target: str | None = None,
    min_class_share: float | None = None,
    pii: Sequence[str] = (),
    max_categories: int = 50,
    name: str = "",
) -> Contract:
    """Propose a contract that ``reference`` satisfies: edit it, save it, reuse it.

    Per column: the type (text columns with at most ``max_categories`` distinct values
    become categories), nullability (nullable only if the reference has missing values),
    the observed range of numbers, the categories, and uniqueness of integer and text
    identifiers that never repeat.

    Args:
        reference: Data known to be good, in its proper types.
        key: Columns that identify a row.
        target: Label column, for the class-balance check.
        min_class_share: Class-balance threshold for ``target``.
        pii: Columns to mark personal.
        max_categories: Most distinct values for a text column to become a category.
        name: The dataset's name.

    Raises:
        DataError: ``reference`` is empty or a named column is absent.

    Example:
        >>> import pandas as pd
        >>> c = infer_contract(pd.DataFrame({"x": [1.0, 2.5], "g": ["a", "b"]}))
        >>> [(col.name, col.dtype, col.min, col.max) for col in c.columns]
        [('x', 'float', 1.0, 2.5), ('g', 'category', None, None)]
    """
    import pandas as pd

    if reference.empty:
        raise DataError("infer_contract needs reference rows; the frame is empty.")
    absent = [c for c in [*key, *pii, *([target] if target else [])] if c not in reference]
    if absent:
        raise DataError(f"Columns {absent} are not in the reference frame.")
    columns = []
    for column in reference.columns:
        s = reference[column]
        name_ = str(column)
        nullable = bool(s.isna().any())
        common: dict[str, Any] = {"name": name_, "nullable": nullable, "pii": name_ in pii}
        present = s.dropna()
        if pd.api.types.is_bool_dtype(s.dtype):
            columns.append(ColumnContract(dtype="bool", **common))
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            columns.append(ColumnContract(dtype="datetime", **common))
        elif pd.api.types.is_integer_dtype(s.dtype):
            unique = bool(present.is_unique) and name_ in key and len(key) == 1
            columns.append(
                ColumnContract(
                    dtype="int",
                    min=float(present.min()) if len(present) else None,
                    max=float(present.max()) if len(present) else None,
                    unique=unique,
                    **common,
                )
            )
        elif pd.api.types.is_numeric_dtype(s.dtype):
            columns.append(
                ColumnContract(
                    dtype="float",
                    min=float(present.min()) if len(present) else None,
                    max=float(present.max()) if len(present) else None,
                    **common,
                )
            )
        else:
            values = present.astype(str)
            distinct = values.nunique()
            if 0 < distinct <= max_categories and name_ not in pii and name_ not in key:
                columns.append(
                    ColumnContract(
                        dtype="category", categories=tuple(sorted(values.unique())), **common
                    )
                )
            else:
                unique = bool(values.is_unique) and name_ in key and len(key) == 1
                columns.append(ColumnContract(dtype="str", unique=unique, **common))
    return Contract(
        columns=tuple(columns),
        key=tuple(key),
        target=target,
        min_class_share=min_class_share,
        name=name,
    )
