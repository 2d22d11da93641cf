"""Issue 28: the training set reaches each worker once a study, and the GPU path of a
trial (a cuDF frame, imputed and scaled in frame operations) is the CPU path's twin,
checked here on pandas with the same code."""

from __future__ import annotations

import dataclasses

import numpy as np
import optuna
import pandas as pd
import pytest
from distributed import Client
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from workbench.tuning import FAMILIES, tune
from workbench.tuning import _data as data_module
from workbench.tuning._data import device_frames, to_host, worker_data
from workbench.tuning._estimators import FrameImputer
from workbench.tuning._objective import TuningSpec, cross_validate, metric_for


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    out = pd.DataFrame(rng.normal(size=(90, 3)) * [1, 10, 0.1], columns=["a", "b", "c"])
    out["d"] = 4.0  # no spread: centred, not scaled
    out["y"] = out["a"] * 2 - out["b"] / 10 + rng.normal(scale=0.1, size=len(out))
    out.loc[::7, "a"] = np.nan
    out.loc[::5, "b"] = np.nan
    return out


def _spec(families: list[str], device: str = "cuda") -> TuningSpec:
    return TuningSpec(
        task="regression",
        target="y",
        features=("a", "b", "c", "d"),
        categorical=(),
        families={n: FAMILIES[("regression", n)] for n in families},
        metric=metric_for("regression", "rmse"),
        cv=3,
        seed=0,
        device=device,
    )


@pytest.mark.parametrize("scale", [False, True])
def test_the_frame_imputer_is_scikit_learn_s_median_imputer_and_scaler(
    frame: pd.DataFrame, scale: bool
) -> None:
    x = frame[["a", "b", "c", "d"]]
    ours = FrameImputer(scale=scale).fit(x.iloc[:60]).transform(x.iloc[60:])
    steps = [SimpleImputer(strategy="median"), *([StandardScaler()] if scale else [])]
    theirs = make_pipeline(*steps).fit(x.iloc[:60]).transform(x.iloc[60:])
    np.testing.assert_allclose(ours.to_numpy(), theirs, rtol=1e-12, atol=1e-12)


def test_a_trial_on_the_gpu_frame_scores_as_on_the_host(frame: pd.DataFrame) -> None:
    """The GPU path (the set's device copy, frame imputation, predictions brought back)
    run with a pandas frame standing in for the cuDF one: the scores of the CPU path."""
    spec = _spec(["cuml_ridge"])
    params = {"family": "cuml_ridge", "cuml_ridge.alpha": 0.5}
    host: list[float] = []
    gpu: list[float] = []
    extra: dict[str, object] = {}
    cross_validate(optuna.trial.FixedTrial(params), spec, frame, lambda *a: None, host, {})
    copy = frame.copy()
    cross_validate(optuna.trial.FixedTrial(params), spec, frame, lambda *a: None, gpu, extra, copy)
    np.testing.assert_allclose(gpu, host, rtol=1e-10)
    assert extra["device"] == "cpu"  # no cuML here: its scikit-learn twin trained
    assert to_host(np.arange(3)) is not None and isinstance(to_host(frame["y"]), pd.Series)


def test_a_gpu_copy_only_where_gpu_families_take_one(frame: pd.DataFrame) -> None:
    assert device_frames(_spec(["cuml_ridge", "ridge"]))
    assert device_frames(_spec(["xgboost"]))
    assert not device_frames(_spec(["ridge", "lasso"]))  # no GPU family
    assert not device_frames(dataclasses.replace(_spec(["xgboost"]), categorical=("a",)))
    assert not device_frames(dataclasses.replace(_spec(["xgboost"]), task="classification"))


def test_a_worker_takes_a_study_s_data_in_once(frame: pd.DataFrame) -> None:
    spec = _spec(["cuml_ridge"], device="cpu")
    first = worker_data("study-a", frame, spec, "scatter-1")
    assert worker_data("study-a", frame, spec, "scatter-1") is first  # the next trials: held
    assert first.device is None  # a CPU worker keeps no device copy
    # Dask dropped this worker's replica and fetched the same scatter back: a new object
    assert worker_data("study-a", frame.copy(), spec, "scatter-1") is first
    scattered_again = frame.copy()  # the driver re-scattered it (a worker died)
    assert worker_data("study-a", scattered_again, spec, "scatter-2").host is scattered_again
    assert data_module.RECEIVED["study-a"] == 2


def test_each_worker_receives_the_set_once_a_study(
    frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 trials on 2 workers: the driver scatters the set once, and each worker takes it
    in at its first trial only (on a GPU worker, that is the one copy to the GPU), even
    when Dask's active memory manager drops a worker's replica between trials and sends
    it again (forced here after every trial; left alone it happens when the driver lags).
    A cluster of its own: on the shared one, trials an earlier test left running may run
    other studies on the same workers, which then keep those studies' sets instead."""
    from workbench.tuning import local_cluster

    with local_cluster(2) as cluster, Client(cluster) as client:
        _receives_once(client, frame, monkeypatch)


def _receives_once(client: Client, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    scattered: list[object] = []
    scatter = client.scatter

    def counting(data: object, **kwargs: object) -> object:
        scattered.append(data)
        return scatter(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client, "scatter", counting)

    def drop_replicas(outcome: dict[str, object]) -> None:
        client.amm.run_once()

    result = tune(
        frame,
        "y",
        families=["ridge", "lasso"],
        n_trials=8,
        cv=2,
        pruner=None,
        cluster=client,
        study_name="data-once",
        refit=False,
        progress=False,
        on_trial=drop_replicas,
    )
    assert result.n_complete == 8
    assert sum(isinstance(d, pd.DataFrame) for d in scattered) == 1
    study = result.study()
    uid = study._storage.get_study_system_attrs(study._study_id)["workbench:uid"]

    def received() -> int:
        from workbench.tuning import _data

        return _data.RECEIVED[uid]

    per_worker = client.run(received)
    ran = result.trials["worker"].nunique()
    assert sorted(per_worker.values()) == sorted([1] * ran + [0] * (len(per_worker) - ran))
