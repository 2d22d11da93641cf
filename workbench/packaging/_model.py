"""The fitted pipeline being packaged, described: its task, its steps, the estimator at
its end and that estimator's parameters as plain values (for the run and the card)."""

from __future__ import annotations

from typing import Any

__all__ = ["final_estimator", "plain_value", "step_names", "task_of"]


def task_of(model: Any) -> str:
    from sklearn.base import is_classifier

    return "classification" if is_classifier(model) else "regression"


def step_names(model: Any) -> list[str]:
    if hasattr(model, "steps"):
        return [type(step).__name__ for _, step in model.steps]
    return [type(model).__name__]


def final_estimator(model: Any) -> Any:
    """The estimator at the end of the pipeline (inside a one-estimator vote: the tuning
    pipelines' way to give XGBoost any labels)."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    inner = getattr(final, "estimators", None)
    if type(final).__name__ == "VotingClassifier" and isinstance(inner, list) and len(inner) == 1:
        fitted = getattr(final, "estimators_", None)
        return fitted[0] if fitted else inner[0][1]
    return final


def plain_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)[:200]
