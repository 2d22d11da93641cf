"""What is packaged, checked before anything is logged, and the rows that go with it.

The arguments (a plain model name, training rows with the target, @champion left to
promotion); the model's input columns and values an MLflow signature can describe; its
first predictions (finite ones); no part of the workbench inside it. The input example
(the first rows and rows with missing values, personal values masked) and the batch of
rows the fresh process times. These checks raise before a run is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError, ModelError
from workbench._paths import check_name

if TYPE_CHECKING:
    import pandas as pd

    from workbench.data import Contract
    from workbench.packaging._signature import Serialization

__all__ = [
    "batch_json",
    "check_arguments",
    "check_columns",
    "check_finite",
    "first_predictions",
    "input_columns",
    "input_example",
    "load_contract",
    "masked",
    "missing_module_hint",
    "nullable_columns",
    "refuse_workbench_parts",
]

EXAMPLE_ROWS = 5
BATCH_ROWS = 1000
#: Aliases only :func:`~workbench.packaging.promote` moves.
PROMOTION_ALIASES = ("champion", "previous_champion")


def check_arguments(
    name: str, data: pd.DataFrame, *, target: str | None, holdout: Any, alias: str
) -> None:
    """Refuse what ``package_model`` cannot package, before anything is logged."""
    # the name becomes an artifact folder (packages/<name>/) before MLflow's registry
    # sees it: a name MLflow would refuse is refused before anything is logged
    check_name(name, "The registered model name", also=":")
    if data.empty:
        raise DataError(f"The data to package model {name!r} with is empty; pass training rows.")
    if target is not None and target not in data.columns:
        raise DataError(
            f"The target {target!r} is not a column of the data. Columns: {list(data.columns)}."
        )
    if holdout is not None and target is None:
        raise DataError("A holdout needs target= to be scored.")
    if alias in PROMOTION_ALIASES:
        raise ConfigurationError(
            f"@{alias} is moved only by promote(), which compares the versions on a holdout. "
            f"Package as @challenger (the default), then promote()."
        )


def input_columns(model: Any, data: pd.DataFrame, target: str | None) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        columns = [str(c) for c in names]
        absent = [c for c in columns if c not in data.columns]
        if absent:
            raise DataError(
                f"The model was trained on columns {absent} that the packaged data lacks. "
                f"Data columns: {list(data.columns)}."
            )
        return columns
    return [c for c in data.columns if c != target]


def input_example(x: pd.DataFrame) -> pd.DataFrame:
    """The first rows, plus rows with missing values (so the check covers them)."""
    head = list(x.index[:EXAMPLE_ROWS])
    missing = x.isna()
    extra = []
    for column in x.columns:
        rows = missing.index[missing[column]]
        if len(rows) and rows[0] not in head and rows[0] not in extra:
            extra.append(rows[0])
        if len(extra) >= EXAMPLE_ROWS:
            break
    return x.loc[head + extra]


def check_columns(x: pd.DataFrame) -> None:
    """Refuse inputs an MLflow signature cannot describe, naming the column."""
    import pandas as pd

    for column in x.columns:
        series = x[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            raise DataError(
                f"Input column {column!r} is timezone-aware ({series.dtype}); MLflow signatures "
                f"take naive datetimes. Convert it, for example with "
                f".dt.tz_convert('UTC').dt.tz_localize(None), before training."
            )
        if series.dtype == "object":
            kinds = sorted({type(v).__name__ for v in series.dropna().head(10_000)})
            numeric = {"int", "float", "bool"}
            if len(kinds) > 1 and not set(kinds) <= numeric:
                raise DataError(
                    f"Input column {column!r} mixes value types {kinds}; a signature needs one "
                    f"type per column. Cast it (for example .astype(str)) before training."
                )


def check_finite(name: str, *outputs: Any) -> None:
    """A regressor that predicts NaN or infinity cannot be packaged."""
    import numpy as np

    for output in outputs:
        values = np.asarray(output)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ModelError(
                f"Model {name!r} predicts NaN or infinity for {bad} of {values.size} training "
                f"rows; it cannot be packaged."
            )


def masked(rows: pd.DataFrame, personal: Sequence[str], x: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with personal inputs replaced by values that identify no one.

    Numbers take the column's median (a statistic of many rows); other columns a missing
    value (a name, an address or a health flag is personal however common it is). The
    type stays, so a model that takes missing values still predicts the example.
    """
    import pandas as pd

    present = [c for c in personal if c in rows.columns]
    if not present:
        return rows
    out = rows.copy()
    for column in present:
        series = x[column]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        ):
            value: Any = series.median()
        else:
            value = None
        filled = pd.Series([value] * len(out), index=out.index, dtype=object)
        try:
            out[column] = filled.astype(series.dtype)
        except (TypeError, ValueError):
            out[column] = filled
    return out


def batch_json(x: pd.DataFrame, seed: int = 0) -> str:
    """1,000 rows as a client would send them (``dataframe_split`` JSON)."""
    rows = x.sample(n=BATCH_ROWS, replace=len(x) < BATCH_ROWS, random_state=seed)
    split = rows.to_json(orient="split", index=False, date_format="iso")
    return '{"dataframe_split": ' + split + "}"


def load_contract(contract: Contract | str | Path | None) -> Contract | None:
    if contract is None:
        return None
    from workbench.data import Contract

    return contract if isinstance(contract, Contract) else Contract.load(contract)


def missing_module_hint(reason: str) -> str:
    if "No module named 'workbench" in reason:
        return (
            " The model imports the workbench when it loads or predicts; a packaged model "
            "must work where the workbench is not installed. Build it from scikit-learn "
            "parts or ship its own code with code_paths=[...]."
        )
    if "No module named" in reason:
        return " If the model needs a local module, pass code_paths=[...]."
    return ""


def refuse_workbench_parts(name: str, serialization: Serialization) -> None:
    """A model that refers to the workbench's own code cannot be served without it."""
    parts = [r for r in serialization.references if r.split(".", 1)[0] == "workbench"]
    if parts:
        raise ModelError(
            f"Model {name!r} holds parts of the workbench itself ({', '.join(parts[:5])}); "
            f"a packaged model must load where the workbench is not installed (a scoring "
            f"server, `mlflow models serve`), so it is not packaged. A pipeline tuned by an "
            f"older workbench holds its text step or label encoder: refit it with tune() or "
            f"refit_best(), which now build from scikit-learn parts only."
        )


def first_predictions(
    model: Any, x: pd.DataFrame, example: pd.DataFrame, *, name: str, personal: Sequence[str]
) -> tuple[Any, Any]:
    """The model's predictions on a sample of ``x`` (enough for the output schema) and on
    the input example (which checks missing values); both finite."""
    try:  # a sample is enough for the output schema; the example checks missing values
        predictions = model.predict(x.iloc[:BATCH_ROWS])
        expected = model.predict(example)
    except Exception as exc:
        hint = (
            f" (in the input example, personal columns {personal} hold a missing value "
            f"or the median instead of a real person's value; the model must take that)"
            if set(personal) & set(x.columns)
            else ""
        )
        raise ModelError(
            f"Model {name!r} cannot predict on the data it is packaged with{hint}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    check_finite(name, predictions, expected)
    return predictions, expected


def nullable_columns(contract: Contract | None, features: Sequence[str]) -> set[str]:
    """The inputs the contract lets be missing (optional in the signature)."""
    return {c.name for c in contract.columns if c.nullable} & set(features) if contract else set()
