"""Tuning on Dask: the sampler against plain Optuna, parallel efficiency at 2 workers, and
our overhead per trial.

Contenders, on the same data in this one process run:

* plain ``study.optimize`` in this process (in-memory storage, no tracking): the floor;
* plain ``study.optimize`` on Optuna's RDB storage (SQLite) with heartbeats: what Optuna
  itself costs per trial for what we also need (the anchor for our overhead);
* plain ``study.optimize`` on the same RDB storage with optuna-integration's
  ``MLflowCallback`` logging each trial as an MLflow run (SQLite store): what a team
  stitches together without us, doing what we do per trial (the anchor for the wall time);
* ``workbench.tuning.tune`` on a LocalCluster of 1 worker process, then of 2, with
  everything it does per trial: Optuna RDB storage on SQLite with heartbeats, a nested
  MLflow run with parameters and per-fold metrics, Dask scheduling.

Three checks:

* the sampler (``--sampler``): 30 trials of ``tune`` (2 workers) against plain Optuna's
  TPE at the same seed, with the same families, ranges and folds, on scikit-learn's
  diabetes set (regression, RMSE), its breast-cancer set (log loss), and a set where one
  family is far better than the others (a linear signal in 40 columns, 120 rows): the best
  score after 30 trials, and the trials each family got;
* parallel efficiency = T(1 worker) / (2 × T(2 workers)) on a CPU-bound objective with
  fixed work (a 50-tree random forest, 3-fold CV, the same work in every trial);
* overhead per trial on a trivial objective (x²) = (T(ours, 1 worker) − T(plain)) /
  trials, beside plain Optuna's own RDB-with-heartbeat cost per trial, and beside
  Dask's own cost of a trial (a bare task on the same cluster, kept in flight as ``tune``
  keeps its trials): what is left, storage, sampling and the MLflow run, is set against
  plain Optuna's RDB cost in CPU time.

Cluster start-up is outside the clock; each contender runs ``--repeat`` times (best kept),
as this shared machine's speed varies by ±20 % from minute to minute. Targets (issue 6):
efficiency ≥ 90 %, overhead < 50 ms per trial; (issue 22) the sampler as good as plain
Optuna's, and our overhead close to plain Optuna's RDB cost.

    .venv/bin/python benchmarks/tuning.py [--trials 16] [--trivial-trials 60] [--sampler]
        [--only sampler|efficiency|overhead]

On a machine with NVIDIA GPUs (issue 28), ``--cuda`` runs only this: the same XGBoost
study, then the same CatBoost study, on the machine's CPU workers (``cluster="local"``,
one single-threaded worker per core) and on its GPU workers (``cluster="cuda"``): trials
per second, the best RMSE, the devices the library reported, and the ratio (goal: at
least 5x on the GPU, the same best score within noise). Without a GPU it says so and
exits (status 1).

    .venv/bin/python benchmarks/tuning.py --cuda [--cuda-trials 16] [--cuda-rows 100000]
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore", message=".*experimental feature")
warnings.filterwarnings("ignore", message="MLflowCallback has been deprecated")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def forest(trial, frame):  # type: ignore[no-untyped-def]
    """Fixed work: the parameter drawn does not change what is computed."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import cross_val_score

    trial.suggest_float("x", -1, 1)
    model = RandomForestRegressor(n_estimators=50, max_depth=10, random_state=0, n_jobs=1)
    x, y = frame.drop(columns="y"), frame["y"]
    return float(-cross_val_score(model, x, y, cv=3, scoring="neg_root_mean_squared_error").mean())


def trivial(trial, frame):  # type: ignore[no-untyped-def]
    return trial.suggest_float("x", -1, 1) ** 2


def plain(objective, frame: pd.DataFrame, trials: int) -> float:  # type: ignore[no-untyped-def]
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    started = time.perf_counter()
    study.optimize(lambda t: objective(t, frame), n_trials=trials)
    return time.perf_counter() - started


def ours(objective, frame: pd.DataFrame, trials: int, workers: int, name: str) -> float:  # type: ignore[no-untyped-def]
    from distributed import Client

    from workbench import resolve_settings
    from workbench.tuning import local_cluster, tune

    settings = resolve_settings(Path(tempfile.mkdtemp(prefix="bench-tuning-")))
    with (
        local_cluster(workers) as cluster,
        Client(cluster) as client,
    ):
        # warm the workers (the objective's imports, storage tables) outside the clock, as
        # the bare Dask contender is warmed
        tune(
            frame,
            "y",
            objective=objective,
            n_trials=workers,
            cluster=client,
            study_name=f"warm-{name}",
            settings=settings,
            progress=False,
            refit=False,
        )
        workers_cpu = sum(client.run(time.process_time).values())
        others = _other_children(client)  # the process that logs the trials' runs
        others_cpu = _cpu(others)
        cpu = time.process_time()
        started = time.perf_counter()
        result = tune(
            frame,
            "y",
            objective=objective,
            n_trials=trials,
            cluster=client,
            study_name=name,
            settings=settings,
            progress=False,
            refit=False,
        )
        seconds = time.perf_counter() - started
        CPU[name] = (
            time.process_time() - cpu,  # this process: the driver, the scheduler
            sum(client.run(time.process_time).values()) - workers_cpu,
            _cpu(others) - others_cpu,  # the child logging MLflow runs
        )
    assert result.n_complete == trials
    return seconds


#: CPU seconds of the last ``ours`` run by name: (driver process, workers, other children)
CPU: dict[str, tuple[float, float, float]] = {}


def _other_children(client):  # type: ignore[no-untyped-def]
    """This process's children that are not Dask workers: the child that logs MLflow runs
    (and multiprocessing's resource tracker, which costs nothing)."""
    import psutil

    workers = set(client.run(os.getpid).values())
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in workers]


def _cpu(processes) -> float:  # type: ignore[no-untyped-def]
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except Exception:  # ended meanwhile
            continue
        total += times.user + times.system
    return total


def raw_dask(frame: pd.DataFrame, trials: int, workers: int) -> float:
    """The same fixed work as bare Dask tasks: the ceiling this machine allows."""
    from distributed import Client

    from workbench.tuning import local_cluster

    def work(data: pd.DataFrame) -> float:
        return forest(_Fixed(), data)

    with (
        local_cluster(workers) as cluster,
        Client(cluster) as client,
    ):
        data = client.scatter(frame, broadcast=True)
        client.gather([client.submit(work, data, pure=False) for _ in range(workers)])
        started = time.perf_counter()
        client.gather([client.submit(work, data, pure=False) for _ in range(trials)])
        return time.perf_counter() - started


def raw_dask_round_trips(frame: pd.DataFrame, tasks: int) -> tuple[float, float, float]:
    """Dask's own cost of a trial: ``tasks`` trivial tasks on a LocalCluster of 1 worker,
    kept in flight as ``tune`` keeps its trials (two at a time: one running, one queued),
    each taking the scattered training set; wall seconds and CPU seconds of this process
    (client and scheduler) and of the worker."""
    from distributed import Client, wait

    from workbench.tuning import local_cluster

    def task(data: pd.DataFrame, number: int) -> dict[str, float]:
        return {"number": number, "value": 0.0}

    with (
        local_cluster(1) as cluster,
        Client(cluster) as client,
    ):
        data = client.scatter(frame, broadcast=True, hash=False)
        client.gather([client.submit(task, data, -1, pure=False)])
        workers_cpu = sum(client.run(time.process_time).values())
        cpu = time.process_time()
        started = time.perf_counter()
        in_flight: set = set()
        submitted = done = 0
        while done < tasks:
            while len(in_flight) < 2 and submitted < tasks:
                in_flight.add(client.submit(task, data, submitted, pure=False))
                submitted += 1
            finished, _ = wait(list(in_flight), return_when="FIRST_COMPLETED")
            for future in finished:
                future.result()
                in_flight.discard(future)
                done += 1
        seconds = time.perf_counter() - started
        return (
            seconds,
            time.process_time() - cpu,
            sum(client.run(time.process_time).values()) - workers_cpu,
        )


class _Fixed:
    """Stands in for a trial outside Optuna."""

    def suggest_float(self, name: str, low: float, high: float) -> float:
        return 0.0


def plain_rdb(objective, frame: pd.DataFrame, trials: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Plain Optuna on SQLite with heartbeats (WAL and NORMAL sync, as the workbench opens
    its files: the same commits cost the same)."""
    import sqlite3

    import optuna
    from sqlalchemy import event

    path = Path(tempfile.mkdtemp(prefix="bench-optuna-")) / "optuna.db"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
    url = f"sqlite:///{path}"
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=2, grace_period=8)
    event.listen(storage.engine, "connect", lambda c, _: c.execute("PRAGMA synchronous=NORMAL"))
    storage.engine.dispose()  # connections opened from now on get it
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.TPESampler(seed=0))
    cpu = time.process_time()
    started = time.perf_counter()
    study.optimize(lambda t: objective(t, frame), n_trials=trials)
    return time.perf_counter() - started, time.process_time() - cpu


def plain_rdb_mlflow(objective, frame: pd.DataFrame, trials: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """What a team stitches together without us: plain Optuna on SQLite with heartbeats,
    each trial logged as an MLflow run by optuna-integration's ``MLflowCallback`` into an
    MLflow SQLite store (both files WAL and NORMAL sync, as the workbench opens its own)."""
    import sqlite3

    import optuna
    from optuna_integration.mlflow import MLflowCallback
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    folder = Path(tempfile.mkdtemp(prefix="bench-optuna-mlflow-"))
    path = folder / "optuna.db"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}", heartbeat_interval=2, grace_period=8)
    event.listen(storage.engine, "connect", lambda c, _: c.execute("PRAGMA synchronous=NORMAL"))
    storage.engine.dispose()
    tracking = f"sqlite:///{folder / 'mlflow.db'}"
    with sqlite3.connect(folder / "mlflow.db") as con:
        con.execute("PRAGMA journal_mode=WAL")

    def normal(connection, _):  # type: ignore[no-untyped-def]  # MLflow's engine, when it opens it
        if isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(Engine, "connect", normal)
    callback = MLflowCallback(tracking_uri=tracking, metric_name="value")
    study = optuna.create_study(
        storage=storage, sampler=optuna.samplers.TPESampler(seed=0), study_name="plain-mlflow"
    )
    study.optimize(lambda t: objective(t, frame), n_trials=2, callbacks=[callback])  # warm
    cpu = time.process_time()
    started = time.perf_counter()
    study.optimize(lambda t: objective(t, frame), n_trials=trials, callbacks=[callback])
    return time.perf_counter() - started, time.process_time() - cpu


# ---------------------------------------------------------------- the sampler


def _sampler_sets() -> list[tuple[str, pd.DataFrame, str, str, list[str]]]:
    """(name, frame, target, task, families): the sets the sampler is compared on."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    from workbench.tuning import available_families

    diabetes = load_diabetes(as_frame=True).frame
    cancer = load_breast_cancer(as_frame=True).frame
    cancer.columns = [str(c).replace(" ", "_") for c in cancer.columns]
    rng = np.random.default_rng(3)
    wide = pd.DataFrame(rng.normal(size=(120, 40)), columns=[f"x{i}" for i in range(40)])
    wide["y"] = wide.to_numpy() @ rng.normal(size=40) + rng.normal(scale=0.5, size=120)
    boosters = [
        f for f in ("xgboost", "lightgbm", "catboost") if f in available_families("regression")
    ]
    regression = [
        "ridge",
        "lasso",
        "elastic_net",
        "random_forest",
        "extra_trees",
        "hist_gradient_boosting",
        *boosters,
    ]
    classification = [
        "logistic",
        "random_forest",
        "extra_trees",
        "hist_gradient_boosting",
        *boosters,
    ]
    return [
        ("diabetes", diabetes, "target", "regression", regression),
        ("breast-cancer", cancer, "target", "classification", classification),
        ("linear-40", wide, "y", "regression", regression),
    ]


def _plain_trial(trial, spec, frame):  # type: ignore[no-untyped-def]
    """The workbench's cross-validation of a family as a plain Optuna objective."""
    from workbench.tuning import cross_validate

    return cross_validate(trial, spec, frame, lambda *a: None, [], {})


def sampler_check(trials: int = 30, seed: int = 0) -> None:
    """Best score after ``trials`` and trials per family: plain Optuna's TPE in this
    process against ``tune`` on 2 workers, same families, ranges, folds and seed."""
    import optuna
    from distributed import Client

    from workbench import resolve_settings
    from workbench.tuning import TuningSpec, local_cluster, metric_for, resolve_families, tune

    settings = resolve_settings(Path(tempfile.mkdtemp(prefix="bench-sampler-")))
    print(f"Sampler ({trials} trials, seed {seed}, 3-fold CV, no pruning; ours on 2 workers):")
    with local_cluster(2) as cluster, Client(cluster) as client:
        for name, frame, target, task, families in _sampler_sets():
            metric = "rmse" if task == "regression" else "log_loss"
            spec = TuningSpec(
                task=task,
                target=target,
                features=tuple(c for c in frame.columns if c != target),
                categorical=(),
                families=resolve_families(task, families),
                metric=metric_for(task, metric),
                cv=3,
                seed=seed,
            )
            direction = spec.metric.direction
            plain_study = optuna.create_study(
                direction=direction, sampler=optuna.samplers.TPESampler(seed=seed)
            )
            started = time.perf_counter()
            objective = functools.partial(_plain_trial, spec=spec, frame=frame)
            plain_study.optimize(objective, n_trials=trials)
            plain_s = time.perf_counter() - started
            started = time.perf_counter()
            result = tune(
                frame,
                target,
                task=task,
                metric=metric,
                families=families,
                n_trials=trials,
                cv=3,
                pruner=None,
                seed=seed,
                cluster=client,
                refit=False,
                progress=False,
                settings=settings,
                study_name=f"sampler-{name}",
            )
            ours_s = time.perf_counter() - started
            plain_counts = pd.Series(
                [t.params["family"] for t in plain_study.trials]
            ).value_counts()
            ours_counts = result.trials["family"].value_counts()
            table = pd.DataFrame({"plain": plain_counts, "ours": ours_counts}).fillna(0).astype(int)
            table = table.sort_values("plain", ascending=False)
            print(
                f"  {name}: best {metric} plain {plain_study.best_value:.4f} "
                f"({plain_s:.0f} s), ours {result.best_value:.4f} ({ours_s:.0f} s)"
            )
            print(
                "    trials per family: "
                + ", ".join(f"{f} {r.plain}/{r.ours}" for f, r in table.iterrows())
                + "  (plain/ours)"
            )


# ---------------------------------------------------------------- CPU against GPU workers


def _rate(result) -> float:  # type: ignore[no-untyped-def]
    """COMPLETE trials per second, from the first trial's start to the last one's end
    (cluster start-up and MLflow set-up are outside)."""
    trials = [t for t in result.study().trials if t.datetime_complete is not None]
    span = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    return result.n_complete / span.total_seconds()


def cuda_check(trials: int, rows: int) -> None:
    """The same boosting study (XGBoost, then CatBoost) on this machine's CPU workers
    (a LocalCluster, one single-threaded worker per core) and on its GPU workers
    (``cluster="cuda"``): trials per second and the best RMSE, and their ratio."""
    from workbench.tuning import available_families, cuda_worker_count, tune

    gpus = cuda_worker_count()
    if gpus == 0:
        raise SystemExit(
            "--cuda compares CPU with GPU workers, and this machine shows no NVIDIA GPU "
            "(dask-cuda, or nvidia-smi -L and CUDA_VISIBLE_DEVICES, list none). Run it on a "
            "GPU machine: bash benchmarks/gpu_check.sh runs it there."
        )
    families = [f for f in ("xgboost", "catboost") if f in available_families("regression")]
    if not families:
        raise SystemExit("--cuda needs XGBoost or CatBoost: pip install 'mlops-workbench[boost]'.")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 20)), columns=[f"x{i}" for i in range(20)])
    frame["y"] = 3 * frame["x0"] + np.sin(frame["x1"] * 2) + frame["x2"] * frame["x3"]
    frame["y"] += rng.normal(scale=0.1, size=rows)
    cores = os.cpu_count() or 1
    print(
        f"CPU against GPU workers ({trials} trials of each family, {rows} rows x 20, 3-fold CV, "
        f"seed 0; {cores} CPU workers of one thread, {gpus} GPU worker(s)):"
    )
    for family in families:
        runs = {}
        for where, options in (
            ("cpu", {"cluster": "local", "n_workers": cores}),
            ("gpu", {"cluster": "cuda"}),
        ):
            runs[where] = tune(
                frame,
                "y",
                families=[family],
                n_trials=trials,
                cv=3,
                pruner=None,
                refit=False,
                progress=False,
                study_name=f"cuda-bench-{family}-{where}-{os.urandom(3).hex()}",
                **options,  # type: ignore[arg-type]
            )
        cpu, gpu = runs["cpu"], runs["gpu"]
        devices = sorted(gpu.trials["device"].dropna().unique())
        ratio = _rate(gpu) / _rate(cpu)
        print(
            f"  {family}: CPU {_rate(cpu):.3f} trials/s, best RMSE {cpu.best_value:.4f}; GPU "
            f"{_rate(gpu):.3f} trials/s, best RMSE {gpu.best_value:.4f} (devices {devices})"
        )
        print(f"    GPU / CPU trials per second: {ratio:.2f}x  (goal >= 5x, the same best score)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=16, help="CPU-bound trials")
    parser.add_argument("--trivial-trials", type=int, default=60, help="overhead trials")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each contender, best kept (default 2)"
    )
    parser.add_argument(
        "--sampler-trials", type=int, default=30, help="trials of the sampler check"
    )
    parser.add_argument(
        "--only", choices=("sampler", "efficiency", "overhead"), help="run one check only"
    )
    parser.add_argument(
        "--cuda",
        action="store_true",
        help="only CPU against GPU workers on boosting families (needs an NVIDIA GPU)",
    )
    parser.add_argument("--cuda-trials", type=int, default=16, help="trials of each study")
    parser.add_argument("--cuda-rows", type=int, default=100_000, help="rows of its data set")
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.cuda:
        cuda_check(args.cuda_trials, args.cuda_rows)
        return
    if args.only in (None, "sampler"):
        sampler_check(args.sampler_trials)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 10)), columns=[f"x{i}" for i in range(10)])
    frame["y"] = frame["x0"] * 2 + np.sin(frame["x1"] * 3) + rng.normal(scale=0.2, size=len(frame))

    n, r = args.trials, range(args.repeat)
    if args.only in (None, "efficiency"):
        efficiency(frame, n, r)
    if args.only in (None, "overhead"):
        overhead(frame, args.trivial_trials, r)


def efficiency(frame: pd.DataFrame, n: int, r: range) -> None:
    # interleaved, so a slow minute of this shared machine hits every contender alike
    runs: dict[str, list[float]] = {k: [] for k in ("plain", "one", "two", "raw1", "raw2")}
    for i in r:
        runs["plain"].append(plain(forest, frame, n))
        runs["one"].append(ours(forest, frame, n, 1, f"forest-1-{i}"))
        runs["two"].append(ours(forest, frame, n, 2, f"forest-2-{i}"))
        runs["raw1"].append(raw_dask(frame, n, 1))
        runs["raw2"].append(raw_dask(frame, n, 2))
    plain_s, one, two, raw1, raw2 = (min(runs[k]) for k in runs)
    efficiency = one / (2 * two)
    print(f"CPU-bound ({n} trials of a fixed-work 50-tree forest, 3-fold CV; best of {len(r)}):")
    print(f"  plain study.optimize in-process  {plain_s:7.2f} s  ({plain_s / n:.3f} s/trial)")
    print(f"  ours, 1 worker                   {one:7.2f} s")
    print(f"  ours, 2 workers                  {two:7.2f} s")
    print(f"  bare Dask tasks, 1 / 2 workers   {raw1:7.2f} s / {raw2:.2f} s")
    print(
        f"  parallel efficiency at 2 workers: {efficiency:.1%}  (target >= 90%; "
        f"bare Dask on this machine: {raw1 / (2 * raw2):.1%})"
    )


def overhead(frame: pd.DataFrame, m: int, r: range) -> None:
    """Interleaved, best of ``r``; CPU time beside wall time, as this shared machine's
    other work lengthens wall time but not the CPU a contender spends."""
    plains, rdbs, mlflows, ourss, dasks = [], [], [], [], []
    for i in r:
        plains.append(plain(trivial, frame, m))
        rdbs.append(plain_rdb(trivial, frame, m))
        mlflows.append(plain_rdb_mlflow(trivial, frame, m))
        ourss.append((ours(trivial, frame, m, 1, f"trivial-1-{i}"), CPU[f"trivial-1-{i}"]))
        dasks.append(raw_dask_round_trips(frame, m))
    plain_t = min(plains)
    rdb_t, rdb_cpu = min(rdbs)
    mlflow_t, mlflow_cpu = min(mlflows)
    ours_t, (driver_cpu, worker_cpu, logger_cpu) = min(ourss)
    dask_t, dask_client_cpu, dask_worker_cpu = min(dasks)
    ms = 1e3 / m
    print(f"Trivial objective ({m} trials; best of {len(r)}), per trial:")
    print(
        f"  plain in memory {plain_t * ms:.1f} ms; plain on SQLite with heartbeats "
        f"{rdb_t * ms:.1f} ms (CPU {rdb_cpu * ms:.1f} ms); ours (1 worker) {ours_t * ms:.1f} ms "
        f"(CPU: driver process {driver_cpu * ms:.1f} ms, worker {worker_cpu * ms:.1f} ms, "
        f"MLflow logging child {logger_cpu * ms:.1f} ms)"
    )
    print(
        f"  plain on SQLite with heartbeats + optuna-integration's MLflowCallback "
        f"{mlflow_t * ms:.1f} ms (CPU {mlflow_cpu * ms:.1f} ms)"
    )
    print(f"  ours / plain Optuna on SQLite with heartbeats: {ours_t / rdb_t:.2f}x per trial")
    print(
        f"  ours / plain Optuna on SQLite with heartbeats and a run per trial in MLflow: "
        f"{ours_t / mlflow_t:.2f}x per trial"
    )
    print(
        f"  overhead per trial (scheduling + storage + MLflow): {(ours_t - plain_t) * ms:.1f} ms "
        f"(target < 50 ms); plain Optuna's own RDB + heartbeat cost: "
        f"{(rdb_t - plain_t) * ms:.1f} ms"
    )
    ours_cpu = driver_cpu + worker_cpu + logger_cpu
    dask_cpu = dask_client_cpu + dask_worker_cpu
    print(
        f"  of which Dask's own: a bare task kept in flight the same way on the same cluster "
        f"{dask_t * ms:.1f} ms (CPU: client and scheduler {dask_client_cpu * ms:.1f} ms, "
        f"worker {dask_worker_cpu * ms:.1f} ms)"
    )
    print(
        f"  the rest, storage + sampling + a run per trial in MLflow, in CPU per trial: ours "
        f"{(ours_cpu - dask_cpu) * ms:.1f} ms (MLflow {logger_cpu * ms:.1f} ms of it) against "
        f"plain Optuna's RDB + heartbeat {(rdb_cpu - plain_t) * ms:.1f} ms without MLflow"
    )


if __name__ == "__main__":
    main()
