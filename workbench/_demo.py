"""The end-to-end slice that ``workbench demo`` runs: raw data to a monitored model."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._demo_home import demo_settings, keep_record
from workbench._demo_loop import LoopResult, close_the_loop, record_actuals, serve_days
from workbench._exceptions import PromotionRefused, ServingError
from workbench._imports import require
from workbench._jupyter._apps import find_app
from workbench._jupyter._kernels import papermill_kernel_options
from workbench._settings import Settings, resolve_settings
from workbench._urls import redact_url
from workbench.data import Contract, load, validate
from workbench.datasets import (
    ELECTRICITY_CONTRACT,
    ELECTRICITY_TARGET,
    electricity_feature_view,
    electricity_training_set,
    make_electricity,
    write_electricity_csv,
)
from workbench.datasets import (
    ELECTRICITY_FEATURES as FEATURES,
)

if TYPE_CHECKING:
    import pandas as pd

    from workbench.monitoring import Alert, DriftSnapshot
    from workbench.packaging import PackagedModel
    from workbench.tuning import TuningResult

__all__ = ["DemoResult", "LoopResult", "find_app", "run_demo"]

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """Where the demo left everything.

    Attributes:
        settings: The settings it ran under.
        raw_csv: The generated raw export.
        quarantine_csv: Rows set aside, with reasons (``None`` if there were none).
        n_raw, n_valid, n_quarantined: Row counts of the load step.
        metrics: Validation metrics of the trained model.
        model: The registered version (alias ``champion``).
        n_requests: Scoring requests sent over HTTP.
        n_scored_rows: Rows in those requests.
        n_logged_rows: Rows found in the inference log afterwards.
        snapshot: The drift snapshot (inputs and predictions).
        snapshot_path: Where it was saved.
        performance: Realized metrics per week of the traffic's own dates (its event
            time), once the actuals were recorded.
        alerts: Weeks whose MAE crossed 1.5× the validation MAE.
        monitoring_run_id: The MLflow run holding the monitoring results.
        report_path: The executed monitoring notebook (``None`` when skipped).
        loop: What closing the loop did (``None`` when not asked to).
    """

    settings: Settings
    raw_csv: Path
    quarantine_csv: Path | None
    n_raw: int
    n_valid: int
    n_quarantined: int
    metrics: dict[str, float]
    model: PackagedModel
    n_requests: int
    n_scored_rows: int
    n_logged_rows: int
    snapshot: DriftSnapshot
    snapshot_path: Path
    performance: pd.DataFrame
    alerts: list[Alert]
    monitoring_run_id: str
    report_path: Path | None
    loop: LoopResult | None = None


def run_demo(
    project_dir: str | Path | None = None,
    *,
    n_factories: int = 20,
    start: str = "2023-07-01",
    change_date: str = "2024-07-01",
    end: str = "2025-06-30",
    validation_days: int = 60,
    lead_in_days: int = 28,
    seed: int = 0,
    report: bool = True,
    loop: bool = True,
    loop_days: int = 42,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the whole lifecycle once on generated data.

    Args:
        project_dir: Project folder (default: discovered from the working directory).
        n_factories: Factories to generate.
        start: First day of data.
        change_date: First day of the regime change and of production traffic.
        end: Last day of data.
        validation_days: Days before ``change_date`` held out for validation.
        lead_in_days: Days before ``change_date`` replayed as traffic too, so monitoring
            shows the change on its date.
        seed: Seed of the generator and the model.
        report: Execute ``apps/monitoring.ipynb`` with papermill at the end.
        loop: Then close the loop (steps 8 to 12, :func:`~workbench._demo_loop.close_the_loop`): the
            scheduled monitor alerts, ``retrain`` packages a challenger on post-change
            data, the last ``loop_days`` of traffic are served with the challenger
            shadowed, it is promoted if not worse, and the next monitor run resolves the
            alert. Steps 5 to 7 then serve and show the traffic up to those days.
        loop_days: Days at the end of the data that the loop serves (two thirds shadowed,
            the rest answered by the new champion).
        echo: Where progress lines go.

    Returns:
        A :class:`DemoResult`.
    """
    import pandas as pd

    from workbench._versions import VersionArtifacts
    from workbench.monitoring import (
        DriftTimeline,
        check_thresholds,
        compute_drift,
        log_to_mlflow,
        performance_over_time,
        reference_profile_of,
        thresholds_from_metrics,
    )
    from workbench.packaging import package_model, promote
    from workbench.serving import join_actuals, read_inference_log
    from workbench.tuning import fit_baseline, time_split

    project = resolve_settings(project_dir)
    # never over the project's own data or model: else a folder of its own, said here
    settings = demo_settings(project, echo)
    keep_record(settings)
    started = time.perf_counter()
    # progress bars where a person watches; none in a log file or a pipe
    bars = sys.stderr.isatty()

    steps = 12 if loop else 7

    def step(number: int, text: str) -> None:
        echo(f"[{number}/{steps} {time.perf_counter() - started:5.1f}s] {text}")

    def detail(label: str, text: str | Path) -> None:
        echo(f"        {label:<15}{_shown(text) if isinstance(text, Path) else text}")

    echo(
        f"The workbench's lifecycle on generated data: {n_factories} factories' daily "
        f"electricity use, {start} to {end}, a regime change on {change_date}; "
        f"project {settings.project_dir}"
    )

    # 1. raw data → valid rows + quarantine
    data = make_electricity(
        n_factories, start, end, change_date, country=settings.country, seed=seed
    )
    raw_csv = write_electricity_csv(data, settings.data_dir / "raw")
    contract_path = ELECTRICITY_CONTRACT.save(raw_csv.with_suffix(".contract.yaml"))
    contract = Contract.load(contract_path)  # the file beside the data is what counts
    loaded = validate(
        load(raw_csv, contract=contract),
        contract,
        source=str(raw_csv),
        quarantine_dir=settings.data_dir / "interim",
    )
    quarantine_csv = loaded.quarantine_path
    step(
        1,
        f"data: {loaded.n_input:,} raw rows checked against their contract: "
        f"{len(loaded.valid):,} valid, {len(loaded.quarantine):,} quarantined with their reasons",
    )
    for _, row in loaded.summary().iterrows():
        echo(f"        {row['rows']:6,d}  {row['column']}: {row['check']}")
    detail("raw export", raw_csv)
    detail("contract", contract_path)
    if quarantine_csv is not None:
        detail("quarantined", quarantine_csv)

    # 2. features as of each day, from the feature store (point-in-time training set)
    from workbench.features import FeatureStore

    valid_rows = settings.data_dir / "interim" / "electricity_valid.parquet"
    valid_rows.parent.mkdir(parents=True, exist_ok=True)
    loaded.valid.drop(columns="_row").astype({"region": "str"}).to_parquet(valid_rows, index=False)
    store = FeatureStore([electricity_feature_view(valid_rows)], settings=settings)
    run = store.materialize("factory_daily", progress=bars)
    store.materialize_online("factory_daily")
    features = electricity_training_set(store, loaded.valid)
    lineage = features.attrs["lineage"]["views"]["factory_daily"]
    processed = settings.data_dir / "processed" / "electricity_features.parquet"
    processed.parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(processed, index=False)
    keep_record(settings)  # the data files it wrote: its own to replace next time
    step(
        2,
        f"features: view factory_daily v{run['version']} stored for {len(run['months'])} "
        f"months (offline and online); a point-in-time training set of {len(features):,} rows",
    )
    detail("training set", processed)

    # 3. train on a time-based split, tracked in MLflow
    change = pd.Timestamp(change_date)
    valid_start = (change - pd.Timedelta(days=validation_days)).date()
    train, valid = time_split(features, "date", valid_start, change.date())
    fit = fit_baseline(
        train,
        valid,
        features=FEATURES,
        target=ELECTRICITY_TARGET,
        categorical=["region"],
        params={
            "train_end": str(valid_start),
            "valid_end": change_date,
            "source": str(raw_csv),
            "feature_view": f"factory_daily@{lineage['version']}",
            "feature_view_fingerprint": lineage["fingerprint"][:16],
        },
        seed=seed,
        settings=settings,
    )
    metrics = {k: round(v, 4) for k, v in fit.metrics.items()}
    study = _compare_families(train, settings=settings, seed=seed, progress=bars)
    step(
        3,
        f"model: trained on {len(train):,} rows before {valid_start}, validated on the "
        f"{len(valid):,} after it: {_metrics_line(fit.metrics)} (tracked in MLflow)",
    )
    detail(
        "study",
        f"{study.study_name}: {' vs '.join(_FAMILY_NAMES.values())}, "
        f"{study.n_complete} trials on a local Dask cluster; best "
        f"{_FAMILY_NAMES.get(study.best_family, study.best_family)} "
        f"(CV RMSE {study.best_value:,.0f})",
    )

    # 4. package: verified in a fresh process, model card, registered as @challenger, then
    # promoted to @champion on the validation rows (the first version has no champion to
    # beat). The reference for monitoring is all the model was developed on (train +
    # validation: one full year, so seasonal inputs such as temperature compare like
    # with like), with its dates: monitoring compares each week with the same days of it.
    developed_on = pd.concat([train, valid], ignore_index=True)[
        [*FEATURES, ELECTRICITY_TARGET, contract.event_time or "date"]
    ]
    model = package_model(
        fit.model,
        fit.train,
        settings.model_name,
        target=ELECTRICITY_TARGET,
        run_id=fit.run_id,
        reference=developed_on,
        contract=contract,
        holdout=fit.valid,
        tuning=study,
        lineage=features.attrs["lineage"],
        description="Daily electricity consumption per factory (demo).",
        progress=False,
        settings=settings,
    )
    cost = model.card.cost
    packaged = (
        f"package: {model.name} version {model.version} registered ({model.serialization.format}"
        f", loaded back in a fresh process with identical predictions, "
        f"{cost['single_row_ms']:.1f} ms per row)"
    )
    card_html = next(
        p
        for p in model.card.save(settings.home / "reports" / f"{model.name}-v{model.version}")
        if p.suffix == ".html"
    )
    try:
        promotion = promote(
            model.name, fit.valid, target=ELECTRICITY_TARGET, metric="mae", settings=settings
        )
        verdict = f"@champion: {promotion.reason}"
    except PromotionRefused as refused:  # an earlier run's champion stays; serve that one
        verdict = f"@champion stays with the earlier version: {refused}"
        champion = VersionArtifacts.of(model.name, alias="champion", settings=settings)
        model = dataclasses.replace(model, version=champion.version)
    model = dataclasses.replace(model, alias="champion", model_uri=f"models:/{model.name}@champion")
    step(4, packaged)
    detail("promotion", verdict)
    detail("model card", card_html)

    # 5. serve over HTTP; every request and prediction lands in the inference log. The
    # traffic replays the days from a few weeks before the change to the end, each
    # request with its rows' own date (the contract's event time, which the server logs
    # beside the inputs), so monitoring places the change on 1 July, not on today.
    # With the loop, the last loop_days are left for it to serve.
    loop_start = pd.Timestamp(end) - pd.Timedelta(days=loop_days - 1)
    traffic = features[features["date"] >= change - pd.Timedelta(days=lead_in_days)]
    if loop:
        traffic = traffic[traffic["date"] < loop_start]
    event_time = contract.event_time or "date"
    log_dir = Path(settings.inference_log_dir)
    answered, serving_at = serve_days(
        model.model_uri, traffic, settings=settings, event_time=event_time, bars=bars
    )
    n_requests = len(answered)
    logged = read_inference_log(log_dir)
    if logged.empty:
        raise ServingError(f"The inference log at {log_dir} is empty after the run.")
    this_run = logged[logged["model_version"] == str(model.version)]
    step(
        5,
        f"serving: {model.model_uri} answered {n_requests:,} requests over HTTP "
        f"({serving_at}, one a day of traffic), {len(traffic):,} rows; "
        f"{len(this_run):,} of them in the inference log",
    )
    detail("inference log", log_dir)

    # 6. monitoring: the inputs and the predictions against the reference profile stored
    # with the model; the true consumption (known here at once, in production days
    # later) recorded by request id; realized error per week of the traffic's own dates,
    # as the dashboard counts them, alerts over the version's default bound (1.5× its
    # validation MAE, from its card); all of it recorded in MLflow
    profile = reference_profile_of(model.name, alias="champion", settings=settings)
    window_start = str(this_run["timestamp"].min())
    snapshot = compute_drift(
        profile,
        this_run,
        [*FEATURES, "prediction"],
        metadata={
            "model_name": model.name,
            "model_version": model.version,
            "model_uri": model.model_uri,
            "window": window_start,
            "window_start": window_start,
            "window_end": str(this_run["timestamp"].max()),
        },
        progress=False,
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    snapshot_path = snapshot.save(settings.monitoring_dir / f"drift-{stamp}.json")
    record_actuals(log_dir, answered)
    scored = join_actuals(this_run, log_dir)
    performance = performance_over_time(
        scored, task="regression", period="1W", time_column=event_time
    )
    default = thresholds_from_metrics(model.card.metrics, "regression")["mae"]
    bound = default.bound
    alerts = check_thresholds(performance, {"mae": default})
    performance_path = settings.monitoring_dir / f"performance-{stamp}.json"
    performance.to_json(performance_path, orient="records", date_format="iso")
    monitoring_run = log_to_mlflow(
        f"{model.name} v{model.version}: demo traffic",
        timeline=DriftTimeline((snapshot,)),
        performance=performance,
        alerts=alerts,
        experiment=f"monitoring/{model.name}",
        settings=settings,
    )
    weekly = performance["mae"].dropna()
    drifted = snapshot.drifted_columns
    step(
        6,
        f"monitoring: {len(drifted)} of {len(snapshot.columns)} columns drifted"
        + (f" ({', '.join(drifted)})" if drifted else "")
        + f"; MAE per week of traffic {weekly.min():,.0f} to {weekly.max():,.0f} "
        f"(median {weekly.median():,.0f}) against {fit.metrics['mae']:,.0f} in validation: "
        f"{len(alerts)} of {len(weekly)} weeks over the alert bound {bound:,.0f} "
        f"(1.5× validation)",
    )
    detail("drift", snapshot_path)
    detail("weekly metrics", performance_path)

    # 7. the monitoring dashboard, executed by papermill
    report_path = None
    if report:
        papermill = require("papermill", feature="executing notebooks")
        report_path = settings.home / "reports" / "monitoring.ipynb"
        report_path.parent.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(
            str(find_app("monitoring", settings.project_dir)),
            str(report_path),
            parameters={  # weeks and bounds as step 6: the app's own defaults
                "project_dir": str(settings.project_dir),
                "model_name": model.name,
            },
            cwd=str(settings.project_dir),
            progress_bar=bars,
            **papermill_kernel_options(),
        )
        step(7, "dashboard: the monitoring app run on this traffic")
        detail("report", report_path)
    else:
        step(7, "monitoring dashboard skipped (report=False)")

    closed = None
    if loop:
        closed = close_the_loop(
            model,
            settings=settings,
            labels=valid_rows,
            change_date=change_date,
            loop_start=loop_start,
            days=features[features["date"] >= loop_start],
            event_time=event_time,
            step=step,
            detail=detail,
            bars=bars,
        )
        champion_version = closed.promotion.version if closed.promotion else model.version
        model = dataclasses.replace(model, version=champion_version)

    elsewhere = (
        f" --project-dir {_shown(settings.project_dir)}"
        if settings.project_dir != project.project_dir
        else ""
    )
    width = max(33, len("workbench dashboard" + elsewhere) + 2)  # the commands' column
    echo(
        "\nWhere to look next:\n"
        f"  {'workbench dashboard' + elsewhere:<{width}}the monitoring app, live (Voilà on "
        f"{settings.host}); model_card, experiments, explore\n"
        f"  workbench serve {model.model_uri}{elsewhere}\n"
        f"  mlflow ui --backend-store-uri {redact_url(settings.tracking_uri)}\n"
        f"  {'workbench lab' + elsewhere:<{width}}the notebooks in JupyterLab\n"
        f"done in {time.perf_counter() - started:.0f} s"
    )
    return DemoResult(
        settings=settings,
        raw_csv=raw_csv,
        quarantine_csv=quarantine_csv,
        n_raw=loaded.n_input,
        n_valid=len(loaded.valid),
        n_quarantined=len(loaded.quarantine),
        metrics=metrics,
        model=model,
        n_requests=n_requests,
        n_scored_rows=len(traffic),
        n_logged_rows=len(this_run),
        snapshot=snapshot,
        snapshot_path=snapshot_path,
        performance=performance,
        alerts=alerts,
        monitoring_run_id=monitoring_run,
        report_path=report_path,
        loop=closed,
    )


_FAMILY_NAMES = {
    "lasso": "Lasso",
    "ridge": "Ridge",
    "hist_gradient_boosting": "gradient boosting",
}


def _compare_families(
    train: pd.DataFrame, *, settings: Settings, seed: int, progress: bool, per_family: int = 2
) -> TuningResult:
    """The seed's comparison as a short study: Lasso, Ridge and gradient boosting,
    ``per_family`` trials each (enqueued, so every family gets its share), cross-validated
    over time on the training rows, on a local Dask cluster of two workers; every trial
    an MLflow run, for the experiments app and the card's tuning section."""
    optuna = require("optuna", feature="tuning")
    from workbench.tuning import tune

    name = f"{settings.model_name}-families-{seed}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings.home.mkdir(parents=True, exist_ok=True)  # the default storage's folder
    study = optuna.create_study(
        study_name=name, storage=settings.optuna_storage, direction="minimize", load_if_exists=True
    )
    if not study.trials:  # a rerun of the demo resumes the study: nothing to add
        for _ in range(per_family):
            for family in _FAMILY_NAMES:
                study.enqueue_trial({"family": family})
    # the cluster's own chatter (workers starting and stopping) is not the demo's story;
    # importing distributed sets its loggers' levels from its config: import it first
    require("distributed", feature="tuning on a Dask cluster")
    chatter = logging.getLogger("distributed")
    level = chatter.level
    chatter.setLevel(logging.ERROR)
    try:
        trials = per_family * len(_FAMILY_NAMES)
        return _tune_families(tune, train, name, settings, seed, progress, trials)
    finally:
        chatter.setLevel(level)


def _tune_families(
    tune: Any,
    train: pd.DataFrame,
    name: str,
    settings: Settings,
    seed: int,
    progress: bool,
    n_trials: int,
) -> TuningResult:
    return tune(  # type: ignore[no-any-return]
        train[[*FEATURES, ELECTRICITY_TARGET, "date"]],
        ELECTRICITY_TARGET,
        families=list(_FAMILY_NAMES),
        categorical=["region"],
        cv=3,
        time_column="date",
        n_trials=n_trials,
        cluster="local",
        n_workers=2,
        study_name=name,
        pruner=None,
        refit=False,
        seed=seed,
        progress=progress,
        settings=settings,
    )


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    absolute = Path(path).resolve()
    here = Path.cwd().resolve()
    return str(absolute.relative_to(here)) if absolute.is_relative_to(here) else str(absolute)


def _metrics_line(metrics: Mapping[str, float]) -> str:
    """``MAE 130.2, RMSE 192.9, MAPE 5.0 %, R² 0.989``: the regression metrics a person reads."""
    shown = {
        "mae": ("MAE", "{:,.1f}"),
        "rmse": ("RMSE", "{:,.1f}"),
        "mape": ("MAPE", "{:.1%}"),
        "r2": ("R²", "{:.3f}"),
    }
    return ", ".join(
        f"{label} {form.format(metrics[key])}".replace("%", " %")
        for key, (label, form) in shown.items()
        if key in metrics
    )
