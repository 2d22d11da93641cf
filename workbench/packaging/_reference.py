"""The reference artifacts stored with a version, for the stages after packaging.

The reference data (personal columns left out), monitoring's reference profile of it
with the model's predictions (for prediction drift), a classifier's class probabilities
on labelled rows it was not fitted on (monitoring's estimate of performance before
labels arrive calibrates on them) and the data contract: written into the version's
folder of the run, under the names :mod:`workbench._versions` gives them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._versions import (
    CONTRACT,
    FILES,
    REFERENCE,
    REFERENCE_PROFILE,
    REFERENCE_SCORES,
    score_column,
)

if TYPE_CHECKING:
    import pandas as pd

    from workbench.data import Contract

__all__ = ["log_reference_artifacts", "reference_profile", "reference_scores"]


def log_reference_artifacts(
    client: Any,
    run_id: str,
    folder: str,
    model: Any,
    reference: pd.DataFrame,
    *,
    features: list[str],
    personal: Sequence[str],
    holdout: pd.DataFrame | None,
    target: str | None,
    task: str,
    contract: Contract | None,
) -> bool:
    """Log the reference artifacts into ``folder`` of run ``run_id``; whether reference
    scores were among them (a classifier with labelled rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # no personal column in the reference: monitoring never shows them
        kept = reference.drop(columns=[c for c in personal if c in reference.columns])
        kept.to_parquet(out / FILES[REFERENCE], index=False)
        event_time = contract.event_time if contract is not None else None
        reference_profile(model, kept, features, time_column=event_time).save(
            out / FILES[REFERENCE_PROFILE]
        )
        scored = reference_scores(model, holdout if holdout is not None else kept, features, target)
        logged_scores = False
        if scored is not None and task == "classification":
            scored.to_parquet(out / FILES[REFERENCE_SCORES], index=False)
            logged_scores = True
        if contract is not None:
            contract.save(out / FILES[CONTRACT])
        client.log_artifacts(run_id, str(out), artifact_path=folder)
    return logged_scores


def reference_profile(
    model: Any, reference: pd.DataFrame, features: list[str], *, time_column: str | None = None
) -> Any:
    """What monitoring compares production with: every usable column of the reference
    (personal ones already dropped) and the model's predictions on it (up to 50,000 rows),
    for prediction drift; with the data's event time (``time_column``, where the reference
    has it), their counts per calendar day too, so seasonal inputs compare like with like."""
    import numpy as np
    import pandas as pd

    from workbench._reference_profile import ReferenceProfile

    usable = [
        c
        for c in reference.columns
        if reference[c].notna().any() and not pd.api.types.is_datetime64_any_dtype(reference[c])
    ]
    dated = time_column if time_column in reference.columns else None
    profile = ReferenceProfile.from_frame(reference, usable, time_column=dated)
    inputs = [c for c in features if c in reference.columns]
    if len(inputs) == len(features) and len(reference):
        rows = reference.head(50_000)
        predictions = np.asarray(model.predict(rows[features]))
        if predictions.ndim == 1:
            frame = pd.DataFrame({"prediction": predictions})
            if dated is not None:
                frame[dated] = rows[dated].to_numpy()
            scored = ReferenceProfile.from_frame(frame, ["prediction"], time_column=dated)
            profile = profile.merged(scored)
    return profile


def reference_scores(
    model: Any, rows: pd.DataFrame | None, features: list[str], target: str | None
) -> pd.DataFrame | None:
    """A classifier's class probabilities on labelled rows it was not fitted on (the
    holdout, else the reference), beside the labels: monitoring calibrates its performance
    estimate (CBPE) on them. ``None`` for a regressor or without labelled rows."""
    import numpy as np
    import pandas as pd

    if rows is None or target is None or target not in rows.columns or rows.empty:
        return None
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        return None
    if any(c not in rows.columns for c in features):
        return None
    labelled = rows[rows[target].notna()].head(50_000)
    scores = np.asarray(model.predict_proba(labelled[features]), dtype=float)
    classes = np.asarray(model.classes_).tolist()
    frame = pd.DataFrame({score_column(c): scores[:, i] for i, c in enumerate(classes)})
    frame.insert(0, "label", labelled[target].to_numpy())
    # the class order travels with the scores (to_parquet keeps attrs): CBPE needs it
    frame.attrs["classes"] = classes
    return frame
