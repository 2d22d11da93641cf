"""A study's default name and recorded search space (the resume check)."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from workbench import ConfigurationError
from workbench.tuning import FAMILIES
from workbench.tuning import _optuna as optuna_internals
from workbench.tuning._objective import TuningSpec, metric_for
from workbench.tuning._search_space import (
    SPACE_ATTR,
    check_search_space,
    default_study_name,
    search_space,
)


def _spec(*names: str) -> TuningSpec:
    return TuningSpec(
        task="regression",
        target="y",
        features=("x",),
        categorical=(),
        families={n: FAMILIES[("regression", n)] for n in names},
        metric=metric_for("regression", "rmse"),
        cv=2,
        seed=0,
    )


def test_default_names_differ_within_one_second() -> None:
    names = {default_study_name() for _ in range(50)}
    assert len(names) == 50 and all(n.startswith("study-") for n in names)


def test_a_new_study_records_its_space_and_a_resume_must_match() -> None:
    study = optuna.create_study()
    storage = study._storage
    spec = _spec("ridge", "lasso")
    assert check_search_space(study, storage, spec) is spec
    stored = storage.get_study_system_attrs(optuna_internals.study_id(study))[SPACE_ATTR]
    assert stored == search_space(spec)
    assert stored["families"]["ridge"] == {"ridge.alpha": ["float", 0.001, 1000.0, None, True]}
    again = check_search_space(study, storage, _spec("lasso", "ridge"))
    assert list(again.families) == ["ridge", "lasso"]  # the study's order of the choices
    with pytest.raises(ConfigurationError, match=r"The study's space: ridge\(alpha float"):
        check_search_space(study, storage, _spec("ridge"))


def test_a_study_from_before_recorded_spaces_is_checked_by_its_trials() -> None:
    study = optuna.create_study()
    study.add_trial(
        optuna.trial.create_trial(
            params={"family": "lasso", "lasso.alpha": 0.1},
            distributions={
                "family": CategoricalDistribution(["lasso", "ridge"]),
                "lasso.alpha": FloatDistribution(1e-4, 10.0, log=True),
            },
            value=1.0,
        )
    )
    with pytest.raises(ConfigurationError, match=r"study's space: lasso; ridge\. This call's"):
        check_search_space(study, study._storage, _spec("ridge", "xgboost"))
    resumed = check_search_space(study, study._storage, _spec("ridge", "lasso"))
    assert list(resumed.families) == ["lasso", "ridge"]
    assert SPACE_ATTR in study._storage.get_study_system_attrs(optuna_internals.study_id(study))
