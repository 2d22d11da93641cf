"""Model families and their search spaces.

A :class:`Family` knows how to suggest its hyperparameters on an Optuna trial and how to
build its estimator from them. Ready-made families cover the common scikit-learn
regressors and classifiers; XGBoost, LightGBM and CatBoost families exist when those
packages are installed, and use the GPU of their worker when the study runs on a CUDA
cluster. cuML's twins of scikit-learn's random forest, ridge, lasso and logistic
regression (``cuml_random_forest``, ...) search the same space as their twin (one
definition, :data:`SPACES`) and train on the worker's GPU where cuML is installed; on a
worker without cuML or a GPU, their trials train the scikit-learn twin on the CPU and
record ``device=cpu``. Your own families plug in the same way.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workbench._exceptions import ConfigurationError

__all__ = [
    "FAMILIES",
    "SPACES",
    "Family",
    "available_families",
    "cpu_only_note",
    "resolve_families",
]

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family: a search space and an estimator factory.

    Attributes:
        name: Short name, used as the value of the ``family`` parameter of trials.
        task: ``regression`` or ``classification``.
        suggest: ``suggest(trial) -> params``: draws the family's hyperparameters.
        build: ``build(params, device, seed) -> estimator``; ``device`` is ``cpu`` or
            ``cuda`` (the worker's GPU, on a CUDA cluster).
        scale: Standardize numeric inputs first (linear and distance-based models).
        requires: The package that must be importable for the family to exist.
        gpu: Whether ``build`` uses the GPU when ``device == "cuda"``.
        space: The search space ``suggest`` draws, ``{name: (kind, low, high, log)}``
            (ready-made families; ``None`` for your own).
        twin: The scikit-learn family a GPU family mirrors: the same space, and what its
            trials train where the GPU library is missing.
        dense: The estimator takes no sparse matrix (one-hot columns stay dense).
        cudf: On a GPU, the estimator takes a cuDF frame (the fold stays on the GPU).
    """

    name: str
    task: str
    suggest: Callable[[Any], Params]
    build: Callable[[Params, str, int], Any]
    scale: bool = False
    requires: str | None = None
    gpu: bool = False
    space: Mapping[str, tuple[str, Any, Any, bool]] | None = None
    twin: str | None = None
    dense: bool = False
    cudf: bool = False

    @property
    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


def _prefixed(trial: Any, family: str, specs: Mapping[str, tuple[str, Any, Any, bool]]) -> Params:
    """Draw ``{name: (kind, low, high, log)}`` as ``<family>.<name>`` trial parameters."""
    params: Params = {}
    for name, (kind, low, high, log) in specs.items():
        key = f"{family}.{name}"
        if kind == "int":
            params[name] = trial.suggest_int(key, low, high, log=log)
        else:
            params[name] = trial.suggest_float(key, low, high, log=log)
    return params


def _space(family: str, **specs: tuple[str, Any, Any, bool]) -> Callable[[Any], Params]:
    def suggest(trial: Any) -> Params:
        return _prefixed(trial, family, specs)

    suggest.__qualname__ = f"suggest_{family}"
    return suggest


def _sk(module: str, name: str, **fixed: Any) -> Callable[[Params, str, int], Any]:
    def build(params: Params, device: str, seed: int) -> Any:
        cls = getattr(importlib.import_module(module), name)
        kwargs = {**fixed, **params}
        if "random_state" in cls().get_params():
            kwargs["random_state"] = seed
        return cls(**kwargs)

    build.__qualname__ = f"build_{name}"
    return build


def _xgboost(task: str) -> Callable[[Params, str, int], Any]:
    def build(params: Params, device: str, seed: int) -> Any:
        import xgboost

        options = {"tree_method": "hist", "device": device, "random_state": seed, "n_jobs": 1}
        if task == "regression":
            return xgboost.XGBRegressor(**params, **options)
        from workbench.tuning._estimators import any_labels

        # XGBoost takes labels 0..k-1 only; scikit-learn users have "yes"/"no"
        return any_labels(xgboost.XGBClassifier(**params, **options), "xgboost")

    return build


def _lightgbm(task: str) -> Callable[[Params, str, int], Any]:
    def build(params: Params, device: str, seed: int) -> Any:
        import lightgbm

        cls = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
        return cls(**params, random_state=seed, n_jobs=1, verbose=-1)

    return build


def _catboost(task: str) -> Callable[[Params, str, int], Any]:
    def build(params: Params, device: str, seed: int) -> Any:
        import catboost

        cls = catboost.CatBoostRegressor if task == "regression" else catboost.CatBoostClassifier
        gpu = {"task_type": "GPU", "devices": "0"} if device == "cuda" else {"thread_count": 1}
        return cls(**params, **gpu, random_seed=seed, verbose=False, allow_writing_files=False)

    return build


_TREES = {
    "n_estimators": ("int", 50, 300, False),
    "max_depth": ("int", 2, 16, False),
    "min_samples_leaf": ("int", 1, 20, False),
    "max_features": ("float", 0.3, 1.0, False),
}
_HGB = {
    "learning_rate": ("float", 0.01, 0.3, True),
    "max_iter": ("int", 50, 400, False),
    "max_leaf_nodes": ("int", 8, 64, False),
    "l2_regularization": ("float", 1e-6, 1.0, True),
}
_XGB = {
    "n_estimators": ("int", 50, 400, False),
    "learning_rate": ("float", 0.01, 0.3, True),
    "max_depth": ("int", 2, 10, False),
    "subsample": ("float", 0.5, 1.0, False),
    "colsample_bytree": ("float", 0.5, 1.0, False),
    "reg_lambda": ("float", 1e-3, 10.0, True),
}
_LGBM = {
    "n_estimators": ("int", 50, 400, False),
    "learning_rate": ("float", 0.01, 0.3, True),
    "num_leaves": ("int", 8, 128, True),
    "min_child_samples": ("int", 5, 100, True),
    "subsample": ("float", 0.5, 1.0, False),
    "colsample_bytree": ("float", 0.5, 1.0, False),
}
_CATBOOST = {
    "iterations": ("int", 50, 400, False),
    "learning_rate": ("float", 0.01, 0.3, True),
    "depth": ("int", 3, 8, False),
    "l2_leaf_reg": ("float", 1e-2, 10.0, True),
}


#: The search space of each ready-made family by name, ``{param: (kind, low, high, log)}``;
#: a cuML family searches its scikit-learn twin's.
SPACES: dict[str, dict[str, tuple[str, Any, Any, bool]]] = {
    "ridge": {"alpha": ("float", 1e-3, 1e3, True)},
    "lasso": {"alpha": ("float", 1e-4, 10.0, True)},
    "elastic_net": {
        "alpha": ("float", 1e-4, 10.0, True),
        "l1_ratio": ("float", 0.05, 0.95, False),
    },
    "logistic": {"C": ("float", 1e-3, 1e3, True)},
    "random_forest": _TREES,
    "extra_trees": _TREES,
    "hist_gradient_boosting": _HGB,
    "xgboost": _XGB,
    "lightgbm": _LGBM,
    "catboost": _CATBOOST,
}


def _cuml(
    module: str, name: str, twin: Callable[[Params, str, int], Any], task: str, **fixed: Any
) -> Callable[[Params, str, int], Any]:
    """cuML's ``name`` on a GPU; elsewhere (no cuML on this worker, or a CPU device) the
    scikit-learn ``twin``, which the trial then records as trained on the CPU."""

    def build(params: Params, device: str, seed: int) -> Any:
        if device != "cuda" or importlib.util.find_spec("cuml") is None:
            return twin(params, device, seed)
        cls = getattr(importlib.import_module(f"cuml.{module}"), name)
        kwargs = {**fixed, **params}
        if "random_state" in cls().get_params():
            kwargs["random_state"] = seed
        estimator = cls(**kwargs)
        if task == "classification":  # any labels, as the twin takes them
            from workbench.tuning._estimators import any_labels

            return any_labels(estimator, name)
        return estimator

    build.__qualname__ = f"build_cuml_{name}"
    return build


def _families() -> dict[tuple[str, str], Family]:
    reg, clf = "regression", "classification"
    sk_ensemble, sk_linear = "sklearn.ensemble", "sklearn.linear_model"
    items = [
        Family(
            "ridge",
            reg,
            _space("ridge", **SPACES["ridge"]),
            _sk(sk_linear, "Ridge"),
            scale=True,
        ),
        Family(
            "lasso",
            reg,
            _space("lasso", **SPACES["lasso"]),
            _sk(sk_linear, "Lasso", max_iter=5000),
            scale=True,
        ),
        Family(
            "elastic_net",
            reg,
            _space("elastic_net", **SPACES["elastic_net"]),
            _sk(sk_linear, "ElasticNet", max_iter=5000),
            scale=True,
        ),
        Family(
            "logistic",
            clf,
            _space("logistic", **SPACES["logistic"]),
            _sk(sk_linear, "LogisticRegression", max_iter=2000),
            scale=True,
        ),
    ]
    # the same trees and boosters for both tasks: scikit-learn's Regressor or Classifier
    for task, kind in ((reg, "Regressor"), (clf, "Classifier")):
        items += [
            Family(
                "random_forest",
                task,
                _space("random_forest", **SPACES["random_forest"]),
                _sk(sk_ensemble, f"RandomForest{kind}", n_jobs=1),
            ),
            Family(
                "extra_trees",
                task,
                _space("extra_trees", **SPACES["extra_trees"]),
                _sk(sk_ensemble, f"ExtraTrees{kind}", n_jobs=1),
            ),
            Family(
                "hist_gradient_boosting",
                task,
                _space("hist_gradient_boosting", **SPACES["hist_gradient_boosting"]),
                _sk(sk_ensemble, f"HistGradientBoosting{kind}"),
            ),
            Family(
                "xgboost",
                task,
                _space("xgboost", **SPACES["xgboost"]),
                _xgboost(task),
                requires="xgboost",
                gpu=True,
                cudf=True,
            ),
            Family(
                "lightgbm",
                task,
                _space("lightgbm", **SPACES["lightgbm"]),
                _lightgbm(task),
                requires="lightgbm",
            ),
            Family(
                "catboost",
                task,
                _space("catboost", **SPACES["catboost"]),
                _catboost(task),
                requires="catboost",
                gpu=True,
            ),
        ]
    items = [dataclasses.replace(f, space=SPACES[f.name]) for f in items]
    # cuML's twins, after every other family (a study's family choices keep their order)
    twins = [
        ("random_forest", reg, "ensemble", "RandomForestRegressor", {"n_streams": 1}),
        ("ridge", reg, "linear_model", "Ridge", {}),
        ("lasso", reg, "linear_model", "Lasso", {"max_iter": 5000}),
        ("random_forest", clf, "ensemble", "RandomForestClassifier", {"n_streams": 1}),
        ("logistic", clf, "linear_model", "LogisticRegression", {"max_iter": 2000}),
    ]
    by_key = {(f.task, f.name): f for f in items}
    for twin, task, module, name, fixed in twins:
        sk = by_key[(task, twin)]
        items.append(
            dataclasses.replace(
                sk,
                name=f"cuml_{twin}",
                suggest=_space(f"cuml_{twin}", **SPACES[twin]),
                build=_cuml(module, name, sk.build, task, **fixed),
                requires="cuml",
                gpu=True,
                dense=True,
                cudf=True,
                twin=twin,
            )
        )
    return {(f.task, f.name): f for f in items}


#: Ready-made families, by (task, name).
FAMILIES: dict[tuple[str, str], Family] = _families()


def available_families(task: str) -> list[str]:
    """Names of the ready-made families of ``task`` whose packages are installed."""
    return [f.name for (t, _), f in FAMILIES.items() if t == task and f.available]


def resolve_families(task: str, families: Iterable[str | Family] | None) -> dict[str, Family]:
    """Families by name: ready-made ones by name, yours as :class:`Family` objects.

    Raises:
        ConfigurationError: A name is unknown, or its package is not installed.
    """
    if families is None:
        families = [n for n in available_families(task) if FAMILIES[(task, n)].requires is None]
    out: dict[str, Family] = {}
    for item in families:
        if isinstance(item, Family):
            out[item.name] = item
            continue
        family = FAMILIES.get((task, item))
        if family is None:
            known = [n for (t, n) in FAMILIES if t == task]
            raise ConfigurationError(
                f"No {task} family {item!r}. Known: {known}, or pass a Family."
            )
        if not family.available and family.twin is not None:
            warnings.warn(
                f"cuML is not installed in this process: trials of {item!r} train on the GPU "
                f"of workers that have cuML (pip install cuml-cu12), elsewhere scikit-learn's "
                f"{family.twin!r} on the CPU (recorded as device=cpu).",
                UserWarning,
                stacklevel=3,
            )
        elif not family.available:
            raise ConfigurationError(
                f"The {item!r} family needs the {family.requires!r} package: "
                f"pip install {family.requires}."
            )
        out[item] = family
    if not out:
        raise ConfigurationError("Give at least one model family to tune.")
    return out


def cpu_only_note(families: Mapping[str, Family], device: str) -> str | None:
    """What to tell a study that asks for GPUs (``device="cuda"``) with families that have
    no GPU build: they train on the workers' CPUs (``None`` when there is none)."""
    if device != "cuda":
        return None
    cpu = [name for name, family in families.items() if not family.gpu]
    if not cpu:
        return None
    gpu = sorted({f.name for f in FAMILIES.values() if f.gpu})
    return (
        f"cluster='cuda': {', '.join(cpu)} ha{'s' if len(cpu) == 1 else 've'} no GPU build and "
        f"train{'s' if len(cpu) == 1 else ''} on the CPU of the GPU workers. Families that "
        f"train on the GPU: {', '.join(gpu)} (cuML's need pip install cuml-cu12)."
    )
