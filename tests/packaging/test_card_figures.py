"""The model card drawn for people: small multiples per metric, the aliases as they are,
a link to MLflow only where one is configured, formatted tables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workbench import resolve_settings
from workbench._tracking import configured_ui_url
from workbench.data import ColumnContract, Contract, Rule, contract_table
from workbench.packaging import ModelCard
from workbench.packaging._card import metric_entry
from workbench.packaging._figures import (
    card_header_html,
    card_sections_html,
    metric_parts,
    metrics_figure,
    version_label,
)


def _card(**changes: object) -> ModelCard:
    card = ModelCard(
        name="energy", version=3, alias="challenger", purpose="Daily kWh.",
        task="regression", estimator="Ridge", steps=["ColumnTransformer", "Ridge"],
        created="2026-12-06T18:09:22+00:00", run_id="r" * 32, model_uri="models:/energy/3",
        ui_url="http://127.0.0.1:5000/#/models/energy/versions/3", target="kwh",
        data={"rows": 1192, "span": None, "profile": [
            {"column": "kwh", "dtype": "float64", "missing": 0.0, "distinct": 9,
             "mean": 4618.658057, "std": 1.5, "min": 1.0, "max": 9000.0},
            {"column": "region", "dtype": "str", "missing": 0.5, "distinct": 2,
             "min": None, "top": [["Nord", 0.5]]}]},
        features=[{"name": "region", "type": "string", "optional": True}],
        feature_views={}, params={"model.alpha": 1.0, "model.positive": None},
        metrics={
            "valid_mae": metric_entry(130.2, "run"),
            "holdout_mae": metric_entry(130.2, "holdout"),
            "valid_mape": metric_entry(0.0498, "run"),
            "valid_r2": metric_entry(0.988, "run"),
            "rmse": metric_entry([280.0, 300.0, 299.0], "cv of best trial 5"),
        },
        tuning=None, cost={"single_row_ms": 16.8, "predictions_per_second": 20637.0},
        serialization={"format": "skops", "reason": "safe"}, requirements=["mlflow==3.1"],
    )  # fmt: skip
    return dataclasses.replace(card, **changes)  # type: ignore[arg-type]


def test_metrics_of_different_scales_get_a_panel_each() -> None:
    figure = metrics_figure(_card())
    titles = [a.text for a in figure.layout.annotations]
    assert titles == ["MAE", "MAPE", "R²", "RMSE"]  # not MAE, MAPE and R² on one axis
    axes = {trace.yaxis for trace in figure.data}
    assert len(axes) == 4  # each its own scale
    bars = [t for t in figure.data if t.type == "bar"]
    # the validation rows scored again as the holdout: one bar that says so
    assert [b.x[0] for b in bars if b.yaxis == "y"] == ["validation<br>= holdout"]
    cv = next(b for b in bars if b.yaxis == "y4")
    assert cv.error_y.array[0] == pytest.approx(np.std([280.0, 300.0, 299.0]))  # the spread
    folds = next(t for t in figure.data if t.type == "scatter")
    assert list(folds.y) == [280.0, 300.0, 299.0]
    assert figure.layout.yaxis2.tickformat == ".0%"  # MAPE, a share
    assert figure.layout.width is None  # sized by its column


def test_metric_names_and_their_sources() -> None:
    assert metric_parts("valid_mae") == ("mae", "validation")
    assert metric_parts("holdout_f1") == ("f1", "holdout")
    assert metric_parts("rmse", "cv of best trial 5")[1].startswith("study's best")
    assert metric_parts("rmse", "cv folds") == ("rmse", "cross-validation")
    assert metric_parts("rmse_cv", "cv folds") == ("rmse", "cross-validation")


def test_the_head_shows_the_aliases_now_and_no_link_without_a_ui() -> None:
    card = _card()  # registered as @challenger, promoted since
    head = card_header_html(card, ("champion",), None)
    assert "@champion" in head and "@challenger" not in head
    assert "Open in MLflow" not in head
    assert "Open in MLflow" in card_header_html(card, (), "http://mlflow.example.org/#/x")
    assert "no alias" in card_header_html(card, (), None)
    assert version_label(3, ("champion", "prod")) == "v3 · @champion, @prod"
    assert ">130<" in head and "16.8 ms" in head and "4.98%" in head


def test_the_body_formats_every_value_and_tables_the_contract() -> None:
    contract = Contract(
        (ColumnContract("kwh", "float", nullable=False, min=0),
         ColumnContract("region", "category", categories=("Nord", "Sud"), pii=True)),
        rules=(Rule("positive", "kwh >= 0"),), key=("region",), name="energy",
    )  # fmt: skip
    body = card_sections_html(_card(), contract, None)
    assert "4,619" in body and "4618.658057" not in body  # formatted, not raw floats
    assert ">None<" not in body and ">nan<" not in body
    assert "≥ 0" in body and "Nord, Sud" in body and "personal (masked)" in body
    assert "Rule positive: kwh &gt;= 0" in body
    no_contract = card_sections_html(_card(), None, None)
    assert "No data contract was stored with this version" in no_contract
    assert contract_table(contract).count("<tr>") == 3


def test_a_ui_address_only_where_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    embedded = resolve_settings(tmp_path, environ={})
    assert configured_ui_url(embedded) is None  # nothing serves a UI for a SQLite file
    server = resolve_settings(tmp_path, environ={"MLFLOW_TRACKING_URI": "http://m:5000"})
    assert configured_ui_url(server, "#/models") == "http://m:5000/#/models"
    told = resolve_settings(tmp_path, environ={"WORKBENCH_MLFLOW_UI_URL": "https://ui.example/"})
    assert configured_ui_url(told) == "https://ui.example"


def test_the_study_storage_names_no_machine_path_and_no_credential() -> None:
    from pathlib import Path

    from workbench.packaging._card_contents import study_storage

    project = Path("/home/ana/energy")
    cases = {
        "sqlite:////home/ana/energy/.workbench/optuna.db": (
            "SQLite file .workbench/optuna.db in the project folder"
        ),
        "sqlite:////srv/studies/optuna.db": "SQLite file optuna.db",
        "sqlite:///C:/Users/ana/optuna.db": "SQLite file optuna.db",
        "sqlite:///optuna.db": "SQLite file optuna.db",
        "sqlite:///:memory:": "SQLite in memory (not kept)",
        "postgresql+psycopg2://ana:s3cret@db.lan:5432/optuna": (
            "PostgreSQL database optuna on db.lan:5432"
        ),
        "mysql://ana@db.lan/studies": "MySQL database studies on db.lan",
        "not a url": "an Optuna storage given by URL",
    }
    for url, shown in cases.items():
        assert study_storage(url, project) == shown, url
