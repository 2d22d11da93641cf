"""Names as people say them: metrics (``valid_mae`` → ``MAE (validation)``), model
families (``hist_gradient_boosting`` → ``gradient boosting``) and hyperparameters
(``learning_rate`` → ``learning rate``), for every axis, legend, picker and table."""

from __future__ import annotations

__all__ = ["family_label", "metric_label", "param_label"]

_METRICS = {
    "mae": "MAE",
    "rmse": "RMSE",
    "mse": "MSE",
    "mape": "MAPE",
    "r2": "R²",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "f1": "F1",
    "f1_macro": "F1 (macro)",
    "f1_binary": "F1",
    "accuracy": "accuracy",
    "duration_s": "duration (s)",
    "fit_seconds": "fit time (s)",
    "n_complete": "complete trials",
    "n_pruned": "pruned trials",
    "n_failed": "failed trials",
}
_WHERE = {
    "valid_": "validation",
    "holdout_": "holdout",
    "cv_": "cross-validation",
    "best_": "best",
}
_FAMILIES = {
    "hist_gradient_boosting": "gradient boosting",
    "ridge": "Ridge",
    "lasso": "Lasso",
    "elastic_net": "Elastic net",
    "logistic": "logistic regression",
    "random_forest": "random forest",
    "extra_trees": "extra trees",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
    "catboost": "CatBoost",
}
_PARAMS = {"l2_regularization": "L2 regularization", "l1_ratio": "L1 ratio", "C": "C"}


def metric_label(name: str) -> str:
    """A metric's name as a chart or table shows it.

    Example:
        >>> metric_label("valid_mae"), metric_label("cv_rmse"), metric_label("rmse_std")
        ('MAE (validation)', 'RMSE (cross-validation)', 'RMSE, spread over folds')
        >>> metric_label("best_rmse"), metric_label("r2_cv"), metric_label("my_score")
        ('best RMSE', 'R² (cross-validation)', 'my score')
    """
    text = name.removeprefix("metrics.")
    spread = text.endswith("_std") and text != "_std"
    text = text.removesuffix("_std") if spread else text
    where = next((w for p, w in _WHERE.items() if text.startswith(p)), None)
    if where is None and text.endswith("_cv"):  # per-fold scores given when packaging
        text, where = text.removesuffix("_cv"), "cross-validation"
    base = next((text.removeprefix(p) for p in _WHERE if text.startswith(p)), text)
    label = _METRICS.get(base, base.replace("_", " "))
    if where == "best":
        label = f"best {label}"
    elif where:
        label = f"{label} ({where})"
    return f"{label}, spread over folds" if spread else label


def family_label(name: str) -> str:
    """A model family as people say it: ``hist_gradient_boosting`` → ``gradient boosting``.

    Example:
        >>> family_label("hist_gradient_boosting"), family_label("ridge")
        ('gradient boosting', 'Ridge')
    """
    return _FAMILIES.get(name, name.replace("_", " "))


def param_label(name: str) -> str:
    """A hyperparameter as people say it, with its family when it has one:
    ``hist_gradient_boosting.learning_rate`` → ``learning rate (gradient boosting)``.

    Example:
        >>> param_label("params.ridge.alpha"), param_label("max_iter")
        ('alpha (Ridge)', 'max iter')
    """
    text = name.removeprefix("params.")
    family, _, param = text.rpartition(".")
    label = _PARAMS.get(param, param.replace("_", " "))
    return f"{label} ({family_label(family)})" if family else label
