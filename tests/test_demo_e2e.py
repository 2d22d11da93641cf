"""The whole slice, run once at a small size by the session's `demo_project` fixture."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.datasets import ELECTRICITY_FEATURES
from workbench.packaging import conform
from workbench.serving import read_inference_log

pytestmark = pytest.mark.slow


def test_load_step_keeps_every_row(demo_project) -> None:  # type: ignore[no-untyped-def]
    r = demo_project
    assert r.n_valid + r.n_quarantined == r.n_raw
    quarantine = pd.read_csv(r.quarantine_csv)
    assert len(quarantine) == r.n_quarantined and quarantine["_reasons"].notna().all()
    contract = r.raw_csv.with_suffix(".contract.yaml")
    assert contract.exists()  # the contract lives as YAML next to the data
    assert r.raw_csv.parent == r.settings.data_dir / "raw"


def test_registered_champion_loads_back_and_predicts(demo_project) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    from workbench._tracking import mlflow_for

    r = demo_project
    mlflow_for(r.settings)
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("test-electricity", "champion")
    assert int(version.version) == r.model.version
    model = mlflow.pyfunc.load_model("models:/test-electricity@champion")
    signature = model.metadata.get_input_schema()
    assert signature.input_names() == list(ELECTRICITY_FEATURES)
    example = pd.read_parquet(r.settings.data_dir / "processed" / "electricity_features.parquet")
    rows = conform(example[list(ELECTRICITY_FEATURES)].head(20), model.metadata.signature)
    predictions = model.predict(rows)
    assert len(predictions) == 20 and (predictions > 0).all()
    run = client.get_run(r.model.run_id)
    assert run.data.metrics["valid_r2"] > 0.8  # the model learned something real
    assert version.tags["serialization"] == "skops"
    assert version.tags["verified"].startswith("loaded in a fresh process")
    assert version.tags["feature_views"].startswith("factory_daily@")
    # the reference data, the contract and the card are stored with the run
    reference = pd.read_parquet(mlflow.artifacts.download_artifacts(version.tags["reference"]))
    assert len(reference) > 0 and set(ELECTRICITY_FEATURES) <= set(reference.columns)
    assert mlflow.artifacts.download_artifacts(version.tags["contract"]).endswith("contract.yaml")
    assert r.model.card.cost["single_row_ms"] > 0
    assert "holdout_mae" in r.model.card.metrics


def test_every_scored_row_is_in_the_inference_log(demo_project) -> None:  # type: ignore[no-untyped-def]
    r = demo_project
    assert r.n_logged_rows == r.n_scored_rows > 0
    log = read_inference_log(r.settings.inference_log_dir)
    ours = log[log["model_version"] == str(r.model.version)]
    assert ours["request_id"].nunique() == r.n_requests
    assert ours["prediction"].notna().all()


def test_drift_flags_the_regime_change_and_not_the_stable_features(demo_project) -> None:  # type: ignore[no-untyped-def]
    snap = demo_project.snapshot
    # the new production line moves its inputs, hence the predictions; nothing else moves
    assert set(snap.drifted_columns) == {
        "production_volume",
        "consumption_kwh_30d_mean",
        "prediction",
    }
    for stable in ("temperature_c", "day_of_week", "is_holiday", "region"):
        assert not snap.column(stable).drifted, stable
    assert demo_project.snapshot_path.parent == demo_project.settings.monitoring_dir
    assert snap.metadata["model_version"] == demo_project.model.version


def test_report_notebook_was_executed(demo_project) -> None:  # type: ignore[no-untyped-def]
    import nbformat

    nb = nbformat.read(demo_project.report_path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    widget_views = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widget_views, "the dashboard displayed its widget"


def test_demo_prints_what_it_did_and_where_to_look(demo_run) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(demo_run.lines)
    for expected in (
        "[1/7",
        "[7/7",
        "quarantined",
        "@champion",
        "mlflow ui",
        "workbench lab",
        "workbench dashboard",
    ):
        assert expected in text


def test_training_set_comes_from_the_feature_store(demo_project) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    from workbench._tracking import mlflow_for
    from workbench.features import FeatureStore

    r = demo_project
    store = FeatureStore([], settings=r.settings)
    record = store.lineage("factory_daily")
    assert record["materializations"] and record["online"]["rows"] == 4  # 4 factories
    training = pd.read_parquet(r.settings.data_dir / "processed" / "electricity_features.parquet")
    assert len(training) == r.n_valid  # every label row came back from the join
    mlflow_for(r.settings)
    params = mlflow.MlflowClient().get_run(r.model.run_id).data.params
    assert params["feature_view"] == f"factory_daily@{record['version']}"
    assert record["fingerprint"].startswith(params["feature_view_fingerprint"])


def test_actuals_give_weekly_performance_alerts_and_an_mlflow_run(demo_project) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    from workbench._tracking import mlflow_for

    r = demo_project
    table = r.performance
    assert table["labelled"].sum() == r.n_scored_rows  # every scored row got its actual
    assert (table["mae"] > 0).all() and table["rmse"].ge(table["mae"]).all()
    bound = 1.5 * r.metrics["mae"]
    assert [a.window for a in r.alerts] == table.loc[table["mae"] > bound, "window"].tolist()
    mlflow_for(r.settings)
    run = mlflow.MlflowClient().get_run(r.monitoring_run_id)
    assert "performance.mae" in run.data.metrics and "drift.production_volume" in run.data.metrics


@pytest.mark.timeout(2400)  # the whole lifecycle; minutes on a loaded machine
def test_the_demo_closes_the_loop_and_sends_nothing_by_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Steps 8-12 at a small size (half a year before the change, four months after), with
    no receiver configured: alerts are recorded, no message is sent."""
    import mlflow

    from workbench._demo import run_demo
    from workbench._tracking import mlflow_for

    project = tmp_path / "loop"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "loop"\n\n[tool.workbench]\nmodel_name = "loop-electricity"\n'
    )
    lines: list[str] = []
    r = run_demo(
        project,
        n_factories=3,
        start="2024-01-01",
        end="2024-10-31",
        report=False,
        seed=2,
        echo=lines.append,
    )
    loop = r.loop
    assert loop is not None
    # the first scheduled run alerts on the latest day after the change
    assert "mae" in {a.metric for a in loop.first.alerts} and loop.first.version == "1"
    assert max(str(a.window)[:10] for a in loop.first.alerts) < "2024-09-20"  # before the loop
    assert loop.first.deliveries == () and loop.last.deliveries == ()  # nothing sent
    # retrained on post-change data only; better in its backtest and on the shadowed rows
    assert loop.retraining.train["date"].min() >= pd.Timestamp("2024-07-01")
    assert loop.retraining.better
    mae = loop.comparison.set_index("role")["mae"]
    assert mae["challenger"] < mae["champion"]
    assert loop.comparison["rows"].tolist()[0] == loop.comparison["rows"].tolist()[1] > 0
    # promoted, and said by whom; the next run watches it, and no alert holds
    assert loop.promotion is not None and loop.refused == ""
    assert loop.promotion.version == loop.retraining.model.version == r.model.version
    mlflow_for(r.settings)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("loop-electricity", "champion")
    assert int(champion.version) == loop.promotion.version
    assert champion.tags["promoted_by"] == "workbench demo"
    assert loop.last.version == str(loop.promotion.version)
    assert "mae" not in {a.metric for a in loop.last.alerts}  # the error alert resolved
    assert loop.n_shadowed + loop.n_served == 42 and loop.n_served > 0
    steps = [line for line in lines if line.startswith("[")]
    assert [s.split("/")[0] for s in steps] == [f"[{n}" for n in range(1, 13)]
    assert "nothing left this machine" in steps[7]
    assert all(len(line) < 400 for line in steps)
