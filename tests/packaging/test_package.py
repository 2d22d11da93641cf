"""Packaging against a real MLflow SQLite store (and a real ``mlflow server``).

Every ``package_model`` call here logs the model, loads it back in a fresh Python
process through ``mlflow.pyfunc.load_model``, measures it, and registers it: nothing is
mocked.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from workbench import DataError, ModelError, PromotionRefused
from workbench._settings import Settings, resolve_settings
from workbench.data import ColumnContract, Contract
from workbench.packaging import (
    PackageButton,
    card_of,
    choose_serialization,
    conform,
    infer_signature,
    package_model,
    promote,
)

from ..conftest import running_mlflow_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _warm_spare_checker() -> Iterator[None]:
    """Keep a spare fresh-process checker warm between calls, as a notebook session does
    (a plain script starts one per call); only the waiting time changes."""
    from workbench.packaging import _verifier

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_verifier, "_interactive", lambda: True)
        yield


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One project (one MLflow SQLite store) for the module: each test uses its own names."""
    project = tmp_path_factory.mktemp("packaging-project")
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    return resolve_settings(project)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Numeric, categorical, nullable integer and nullable boolean inputs; a real signal."""
    rng = np.random.default_rng(0)
    n = 1500
    out = pd.DataFrame(
        {
            "temperature": rng.normal(15, 8, n),
            "shifts": pd.array(rng.integers(1, 4, n), dtype="Int64"),
            "holiday": pd.array(rng.random(n) < 0.1, dtype="boolean"),
            "region": rng.choice(["north", "centre", "south"], n),
            "machines": rng.integers(5, 50, n),
        }
    )
    out.loc[out.index % 9 == 0, "shifts"] = pd.NA
    out.loc[out.index % 13 == 0, "holiday"] = pd.NA
    out["kwh"] = (
        100
        + 3 * out["machines"]
        - 2 * out["temperature"]
        + 40 * out["shifts"].fillna(2).astype(float)
        - 80 * out["holiday"].fillna(False).astype(float)
        + out["region"].map({"north": 20.0, "centre": 0.0, "south": -15.0})
        + rng.normal(0, 5, n)
    )
    out["label"] = np.where(out["kwh"] > out["kwh"].median(), "high", "low")
    return out


INPUTS = ["temperature", "shifts", "holiday", "region", "machines"]


def _hgb(frame: pd.DataFrame) -> Pipeline:
    encode = ColumnTransformer(
        [("region", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["region"])],
        remainder="passthrough",
    ).set_output(transform="pandas")
    model = Pipeline([("encode", encode), ("model", HistGradientBoostingRegressor(max_iter=60))])
    return model.fit(frame[INPUTS], frame["kwh"])


def _linear(frame: pd.DataFrame, estimator: object, target: str) -> Pipeline:
    numeric = ["temperature", "shifts", "holiday", "machines"]
    encode = ColumnTransformer(
        [
            ("region", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            (
                "numbers",
                Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]),
                numeric,
            ),
        ]
    )
    x = frame[INPUTS].astype({"shifts": "float64", "holiday": "float64"})
    return Pipeline([("encode", encode), ("model", estimator)]).fit(x, frame[target])


def _client(settings: Settings) -> mlflow.MlflowClient:
    from workbench._tracking import mlflow_for

    return mlflow_for(settings).MlflowClient()


def _versions(settings: Settings, name: str) -> list[str]:
    return [str(v.version) for v in _client(settings).search_model_versions(f"name = '{name}'")]


# ---------------------------------------------------------------- pieces


def test_signature_keeps_nullable_columns_usable(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame[INPUTS], np.zeros(len(frame)), nullable={"machines"})
    specs = {s.name: s for s in signature.inputs.inputs}
    # nullable integer and boolean columns: optional doubles, so a JSON null survives
    assert specs["shifts"].type.name == "double" and not specs["shifts"].required
    assert specs["holiday"].type.name == "double" and not specs["holiday"].required
    # nullable in the contract: optional, and a double so a missing value can arrive
    assert specs["machines"].type.name == "double" and not specs["machines"].required
    assert specs["temperature"].type.name == "double" and specs["temperature"].required
    assert specs["region"].type.name == "string"
    conformed = conform(frame[INPUTS].head(20), signature)
    assert conformed["shifts"].dtype == "float64" and conformed["shifts"].isna().any()


def test_serialization_is_chosen_on_purpose(frame: pd.DataFrame) -> None:
    hgb = choose_serialization(_hgb(frame))
    assert hgb.format == "skops"
    assert any(t.endswith("TreePredictor") for t in hgb.trusted_types)
    forest = RandomForestClassifier(n_estimators=5).fit(
        frame[["temperature", "machines"]], frame["label"]
    )
    rf = choose_serialization(forest)
    assert rf.format == "skops" and "sklearn.tree._tree.Tree" in rf.trusted_types
    # a lambda is code skops will not trust: cloudpickle, and the reason names it
    odd = Pipeline([("double", FunctionTransformer(lambda x: x * 2)), ("model", Ridge())])
    odd.fit(frame[["temperature"]], frame["kwh"])
    chosen = choose_serialization(odd)
    assert chosen.format == "cloudpickle" and "<lambda>" in chosen.reason


# ---------------------------------------------------------------- package_model


def test_gradient_boosting_with_categories_and_nullable_columns(
    frame: pd.DataFrame, settings: Settings
) -> None:
    model = _hgb(frame)
    contract = Contract(
        columns=[
            ColumnContract("temperature", "float"),
            ColumnContract("shifts", "int"),
            ColumnContract("holiday", "bool"),
            ColumnContract("region", "category", categories=("north", "centre", "south")),
            ColumnContract("machines", "int", nullable=False),
            ColumnContract("kwh", "float"),
        ],
        name="factory-days",
    )
    steps: list[tuple[int, int, str]] = []
    packaged = package_model(
        model,
        frame[[*INPUTS, "kwh"]],
        "hgb-energy",
        target="kwh",
        description="Daily energy per factory",
        contract=contract,
        holdout=frame.tail(300),
        metrics={"rmse_cv": [5.1, 5.4, 4.9]},
        progress=lambda done, total, text: steps.append((done, total, text)),
        settings=settings,
    )
    assert [s[0] for s in steps] == [1, 2, 3, 4, 5, 6] and steps[-1][1] == 6
    assert packaged.version == 1 and packaged.alias == "challenger"
    assert packaged.serialization.format == "skops"
    client = _client(settings)
    version = client.get_model_version_by_alias("hgb-energy", "challenger")
    assert int(version.version) == 1
    assert version.description == "Daily energy per factory"
    assert version.tags["task"] == "regression" and version.tags["target"] == "kwh"
    assert "TreePredictor" in version.tags["serialization_reason"]
    # requirements pinned from this environment, skops included
    local = Path(mlflow.artifacts.download_artifacts(packaged.version_uri))
    pins = (local / "requirements.txt").read_text().split()
    assert any(p.startswith("scikit-learn==") for p in pins)
    assert any(p.startswith("skops==") for p in pins)
    # the input example includes rows with missing values; it predicts here as there
    loaded = mlflow.pyfunc.load_model(packaged.model_uri)
    example = mlflow.models.Model.load(str(local)).load_input_example(str(local))
    assert example["shifts"].isna().any() and example["holiday"].isna().any()
    rows = frame[INPUTS].head(50)
    np.testing.assert_array_equal(
        loaded.predict(conform(rows, loaded.metadata.signature)), model.predict(rows)
    )
    # the card: data profile, metrics with spread, cost, contract
    card = packaged.card
    assert card.data["rows"] == len(frame)
    shifts = next(p for p in card.data["profile"] if p["column"] == "shifts")
    assert 0.1 < shifts["missing"] < 0.12 and shifts["min"] == 1
    assert card.metrics["rmse_cv"]["folds"] == [5.1, 5.4, 4.9]
    assert card.metrics["rmse_cv"]["std"] == pytest.approx(np.std([5.1, 5.4, 4.9]))
    assert card.metrics["holdout_rmse"]["value"] < 15
    assert card.cost["single_row_ms"] > 0 and card.cost["predictions_per_second"] > 100
    assert card.cost["fit_seconds"] > 0 and "refitting" in card.cost["fit_source"]
    assert card.contract == "factory-days"
    markdown = card.to_markdown()
    for text in ("## Measured cost", "Single-row prediction", "holdout_rmse", "shifts"):
        assert text in markdown
    assert "<table>" in card.to_html() and "<script" not in card.to_html()
    # stored with the run, and readable back through the registry
    assert card_of("hgb-energy", 1, settings=settings).metrics == card.metrics
    reference = pd.read_parquet(mlflow.artifacts.download_artifacts(packaged.reference_uri))
    assert len(reference) == len(frame)
    stored = Contract.load(mlflow.artifacts.download_artifacts(version.tags["contract"]))
    assert stored == contract


def test_random_forest_classifier_with_string_labels(
    frame: pd.DataFrame, settings: Settings
) -> None:
    forest = RandomForestClassifier(n_estimators=30, random_state=0)
    x = frame[["temperature", "machines"]]
    forest.fit(x, frame["label"])
    data = frame[["temperature", "machines", "label"]]
    packaged = package_model(
        forest,
        data,
        "rf-labels",
        target="label",
        holdout=data.tail(200),
        progress=False,
        settings=settings,
    )
    assert packaged.serialization.format == "skops"
    assert packaged.card.task == "classification"
    assert 0.5 < packaged.card.metrics["holdout_accuracy"]["value"] <= 1.0
    loaded = mlflow.pyfunc.load_model(packaged.version_uri)
    assert list(loaded.predict(x.head(5))) == list(forest.predict(x.head(5)))


@pytest.mark.parametrize(
    ("estimator", "target"),
    [(Ridge(alpha=1.0), "kwh"), (LogisticRegression(max_iter=500), "label")],
    ids=["ridge", "logistic"],
)
def test_linear_models_in_a_column_transformer(
    frame: pd.DataFrame, settings: Settings, estimator: object, target: str
) -> None:
    model = _linear(frame, estimator, target)
    data = frame[[*INPUTS, target]].astype({"shifts": "float64", "holiday": "float64"})
    name = f"linear-{type(estimator).__name__.lower()}"
    packaged = package_model(
        model, data, name, target=target, fit_seconds=0.25, progress=False, settings=settings
    )
    assert packaged.serialization.format == "skops"
    assert packaged.card.cost["fit_seconds"] == 0.25 and packaged.card.cost["fit_source"] == "given"
    assert packaged.card.params["model.max_iter" if target == "label" else "model.alpha"]
    loaded = mlflow.pyfunc.load_model(packaged.model_uri)
    rows = data[INPUTS].head(30)
    assert list(loaded.predict(rows)) == list(model.predict(rows))


def test_xgboost_is_cloudpickled_with_the_reason_and_pinned(
    frame: pd.DataFrame, settings: Settings
) -> None:
    xgboost = pytest.importorskip("xgboost")
    model = xgboost.XGBRegressor(n_estimators=20, max_depth=3).fit(
        frame[["temperature", "machines"]], frame["kwh"]
    )
    packaged = package_model(
        model,
        frame[["temperature", "machines", "kwh"]],
        "xgb-energy",
        target="kwh",
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    assert packaged.serialization.format == "cloudpickle"
    assert "xgboost" in packaged.serialization.reason
    assert any(r.startswith("xgboost") for r in packaged.card.requirements)
    assert packaged.card.cost.get("single_row_ms") is None  # measure_cost=False


def _local_module(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(source)
    sys.path.insert(0, str(folder))
    return path


def test_a_model_that_fails_in_a_fresh_process_is_not_registered(
    frame: pd.DataFrame, settings: Settings, tmp_path: Path
) -> None:
    # A transformer importable here only because this process has its folder on sys.path:
    # a server would fail to load the model, so packaging must fail.
    module = _local_module(
        tmp_path,
        "wb_local_doubler",
        "from sklearn.base import BaseEstimator, TransformerMixin\n"
        "class Doubler(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, X, y=None):\n        return self\n"
        "    def transform(self, X):\n        return X * 2\n",
    )
    try:
        from wb_local_doubler import Doubler  # type: ignore[import-not-found]

        model = Pipeline([("double", Doubler()), ("model", Ridge())])
        data = frame[["temperature", "machines", "kwh"]]
        model.fit(data[["temperature", "machines"]], data["kwh"])
        with pytest.raises(ModelError) as failure:
            package_model(
                model, data, "needs-a-module", target="kwh", progress=False, settings=settings
            )
        message = str(failure.value)
        assert "No module named 'wb_local_doubler'" in message
        assert "Nothing was registered" in message and "code_paths" in message
        assert _versions(settings, "needs-a-module") == []
        with pytest.raises(Exception, match="needs-a-module"):
            _client(settings).get_registered_model("needs-a-module")
        # the fix the message names works: ship the module with the model
        packaged = package_model(
            model,
            data,
            "needs-a-module",
            target="kwh",
            code_paths=[str(module)],
            progress=False,
            settings=settings,
        )
        assert packaged.version == 1 and packaged.serialization.format == "cloudpickle"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("wb_local_doubler", None)


def test_predictions_that_differ_in_a_fresh_process_fail_the_package(
    frame: pd.DataFrame, settings: Settings, tmp_path: Path
) -> None:
    module = _local_module(
        tmp_path,
        "wb_noisy",
        "import numpy as np\n"
        "from sklearn.base import BaseEstimator, RegressorMixin\n"
        "class Noisy(RegressorMixin, BaseEstimator):\n"
        "    def fit(self, X, y=None):\n        return self\n"
        "    def predict(self, X):\n"
        "        return np.random.default_rng().normal(size=len(X))\n",
    )
    try:
        from wb_noisy import Noisy  # type: ignore[import-not-found]

        data = frame[["temperature", "kwh"]]
        model = Noisy().fit(data[["temperature"]])
        with pytest.raises(ModelError, match="predictions differ"):
            package_model(
                model,
                data,
                "noisy",
                target="kwh",
                code_paths=[str(module)],
                progress=False,
                settings=settings,
            )
        assert _versions(settings, "noisy") == []
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("wb_noisy", None)


def test_bad_input_is_named(frame: pd.DataFrame, settings: Settings) -> None:
    model = _hgb(frame)
    with pytest.raises(DataError, match="empty"):
        package_model(model, frame.head(0), "bad", progress=False, settings=settings)
    with pytest.raises(DataError, match="'nope' is not a column"):
        package_model(model, frame, "bad", target="nope", progress=False, settings=settings)
    with pytest.raises(DataError, match=r"\['machines'\] that the packaged data lacks"):
        package_model(
            model, frame.drop(columns="machines"), "bad", progress=False, settings=settings
        )
    assert _versions(settings, "bad") == []


# ---------------------------------------------------------------- promotion


def test_promotion_compares_on_a_holdout_and_refuses_a_worse_model(
    frame: pd.DataFrame, settings: Settings
) -> None:
    train, holdout = frame.iloc[:1200], frame.iloc[1200:]
    name = "promoted-energy"
    good = _hgb(train)
    package_model(
        good, train[[*INPUTS, "kwh"]], name, target="kwh", progress=False, settings=settings
    )
    first = promote(name, holdout, target="kwh", settings=settings)
    assert first.version == 1 and first.previous is None and first.champion_score is None
    assert "no version held @champion" in first.reason

    worse = Pipeline([("model", DummyRegressor())]).fit(train[INPUTS], train["kwh"])
    package_model(
        worse, train[[*INPUTS, "kwh"]], name, target="kwh", progress=False, settings=settings
    )
    client = _client(settings)
    with pytest.raises(PromotionRefused, match=r"challenger v2 rmse=.* vs champion v1 rmse="):
        promote(name, holdout, target="kwh", settings=settings)
    assert int(client.get_model_version_by_alias(name, "champion").version) == 1
    assert "promotion_refused" in client.get_model_version(name, "2").tags

    forced = promote(name, holdout, target="kwh", force=True, settings=settings)
    assert forced.forced and forced.version == 2 and forced.previous == 1
    assert forced.challenger_score > forced.champion_score  # type: ignore[operator]
    assert int(client.get_model_version_by_alias(name, "champion").version) == 2
    assert int(client.get_model_version_by_alias(name, "previous_champion").version) == 1
    assert client.get_model_version(name, "2").tags["forced"] == "true"

    package_model(
        good, train[[*INPUTS, "kwh"]], name, target="kwh", progress=False, settings=settings
    )
    back = promote(name, holdout, target="kwh", metric="mae", settings=settings)
    assert back.version == 3 and back.metric == "mae" and not back.forced
    assert back.challenger_score < back.champion_score  # type: ignore[operator]
    again = promote(name, holdout, target="kwh", settings=settings)
    assert again.version == 3 and "already holds @champion" in again.reason
    with pytest.raises(ModelError, match="no version with alias @staging"):
        promote(name, holdout, target="kwh", challenger="staging", settings=settings)
    with pytest.raises(DataError, match="no target column 'missing'"):
        package_model(good, train[[*INPUTS, "kwh"]], name, progress=False, settings=settings)
        promote(name, holdout, target="missing", settings=settings)


# ---------------------------------------------------------------- widget and CLI


def test_package_button_click_path(frame: pd.DataFrame, settings: Settings) -> None:
    model = _hgb(frame)
    button = PackageButton(
        model, frame[[*INPUTS, "kwh"]], target="kwh", settings=settings, measure_cost=False
    )
    assert button.name.value == settings.model_name and button.alias.value == "challenger"
    button.name.value = "  "
    button.click()
    assert button.wait(1) and "name and an alias" in (button.error or "")
    assert button.progress.bar_style == "danger"

    button.name.value = "clicked-model"
    button.alias.value = "staging"
    button.description.value = "Packaged from the widget"
    button.click()
    assert button.wait(180)
    assert button.error is None and button.result is not None
    assert button.result.version == 1 and button.result.alias == "staging"
    assert button.progress.value == button.progress.max == 6
    assert button.progress.bar_style == "success" and not button.button.disabled
    assert "#/models/clicked-model/versions/1" in button.output.value
    assert "open in MLflow" in button.output.value
    version = _client(settings).get_model_version_by_alias("clicked-model", "staging")
    assert version.description == "Packaged from the widget"

    broken = PackageButton(
        Pipeline([("model", Ridge())]), frame[[*INPUTS, "kwh"]], target="kwh", settings=settings
    )  # never fitted: predicting fails, and the widget says so
    broken.name.value = "never-fitted"
    broken.click()
    assert broken.wait(60)
    assert broken.result is None and "cannot predict" in (broken.error or "")
    assert "cannot predict" in broken.output.value and not broken.button.disabled
    assert _versions(settings, "never-fitted") == []


def test_package_and_promote_from_the_shell(frame: pd.DataFrame, tmp_path: Path) -> None:
    import joblib

    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    train, holdout = frame.iloc[:1200], frame.iloc[1200:]
    model_path = tmp_path / "model.joblib"
    joblib.dump(_hgb(train), model_path)
    train[[*INPUTS, "kwh"]].to_parquet(tmp_path / "train.parquet")
    holdout[[*INPUTS, "kwh"]].to_csv(tmp_path / "holdout.csv", index=False)
    command = [sys.executable, "-m", "workbench", "package", str(model_path)]
    common = ["--data", str(tmp_path / "train.parquet"), "--target", "kwh"]
    common += ["--holdout", str(tmp_path / "holdout.csv"), "--project-dir", str(project)]
    out = subprocess.run(
        [*command, *common, "--name", "shell-model", "--promote", "--no-cost"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "shell-model version 1 registered as @challenger" in out.stdout
    assert "promoted version 1 to @champion" in out.stdout
    joblib.dump(Pipeline([("m", DummyRegressor())]).fit(train[INPUTS], train["kwh"]), model_path)
    out = subprocess.run(
        [*command, *common, "--name", "shell-model", "--no-cost"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    refused = subprocess.run(
        [
            *(sys.executable, "-m", "workbench", "promote", "shell-model"),
            *("--holdout", str(tmp_path / "holdout.csv"), "--target", "kwh"),
            *("--project-dir", str(project)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2
    assert "Not promoting 'shell-model'" in refused.stderr and "--force" in refused.stderr
    proj = str(project)
    missing = subprocess.run(
        [*command, "--data", str(tmp_path / "nope.parquet"), "--name", "x", "--project-dir", proj],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 2 and "nope.parquet does not exist" in missing.stderr
    early = subprocess.run(
        [*command, "--data", str(tmp_path / "train.parquet"), "--name", "y", "--promote"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert early.returncode == 2 and "--promote needs --holdout" in early.stderr
    assert "registered" not in early.stdout


def test_against_a_real_mlflow_server(frame: pd.DataFrame, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    with running_mlflow_server(tmp_path) as url:
        settings = dataclasses.replace(resolve_settings(project), tracking_uri=url)
        train, holdout = frame.iloc[:1200], frame.iloc[1200:]
        packaged = package_model(
            _hgb(train),
            train[[*INPUTS, "kwh"]],
            "served-energy",
            target="kwh",
            progress=False,
            settings=settings,
        )
        assert packaged.ui_url.startswith(url + "/#/models/served-energy/versions/1")
        promotion = promote("served-energy", holdout, target="kwh", settings=settings)
        assert promotion.version == 1
        client = mlflow.MlflowClient(url)
        assert int(client.get_model_version_by_alias("served-energy", "champion").version) == 1
        card = card_of("served-energy", settings=settings)
        assert card.cost["single_row_ms"] > 0
        loaded = mlflow.pyfunc.load_model("models:/served-energy@champion")
        rows = holdout[INPUTS].head(5)
        assert len(loaded.predict(conform(rows, loaded.metadata.signature))) == 5


def test_the_card_never_shows_personal_values() -> None:
    from workbench.packaging._card import profile_columns

    people = pd.DataFrame({"customer": ["Mario Rossi", "Anna Bianchi"] * 5, "kwh": range(10)})
    profile = profile_columns(people, personal=["customer"])
    customer = profile[0]
    assert customer == {
        "column": "customer",
        "dtype": str(people["customer"].dtype),
        "missing": 0.0,
        "distinct": 2,
        "personal": True,
    }
    assert "Mario" not in repr(profile)


def test_personal_inputs_never_reach_the_example_the_reference_or_the_card(
    settings: Settings,
) -> None:
    rng = np.random.default_rng(3)
    n = 300
    people = pd.DataFrame(
        {
            "customer": rng.choice(["Mario Rossi", "Anna Bianchi", "Luca Verdi"], n),
            "age": rng.integers(20, 80, n),
            "kwh": rng.normal(100, 10, n),
        }
    )
    people["bill"] = people["kwh"] * 0.3 + people["age"] * 0.1
    contract = Contract(
        columns=[
            ColumnContract("customer", "str", pii=True),
            ColumnContract("age", "int", pii=True),
            ColumnContract("kwh", "float"),
            ColumnContract("bill", "float"),
        ],
        name="bills",
    )
    encode = ColumnTransformer(
        [("who", OneHotEncoder(handle_unknown="ignore"), ["customer"])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("model", Ridge())]).fit(
        people[["customer", "age", "kwh"]], people["bill"]
    )
    packaged = package_model(
        model, people, "bills", target="bill", contract=contract, progress=False, settings=settings
    )
    local = Path(mlflow.artifacts.download_artifacts(packaged.version_uri))
    example = mlflow.models.Model.load(str(local)).load_input_example(str(local))
    assert example["customer"].isna().all()
    assert (example["age"] == int(people["age"].median())).all()
    stored = (local / "input_example.json").read_text() + (
        local / "serving_input_example.json"
    ).read_text()
    assert not any(name in stored for name in ("Mario", "Anna", "Luca"))
    reference = pd.read_parquet(mlflow.artifacts.download_artifacts(packaged.reference_uri))
    assert list(reference.columns) == ["kwh", "bill"]  # personal columns are not kept
    card = Path(mlflow.artifacts.download_artifacts(packaged.card_uri)).read_text()
    assert "personal: values not shown" in card
    assert not any(name in card for name in ("Mario", "Anna", "Luca"))


def test_review_edge_cases(frame: pd.DataFrame, settings: Settings, tmp_path: Path) -> None:
    from workbench import ConfigurationError

    model = _hgb(frame)
    data = frame[[*INPUTS, "kwh"]]
    # @champion moves only through promote()
    with pytest.raises(ConfigurationError, match="only by promote"):
        package_model(model, data, "edge", alias="champion", progress=False, settings=settings)
    # a broken progress callback is logged, not fatal; numpy scalars are metrics too
    holdout = data.tail(100).copy()
    holdout.loc[holdout.index[:10], "kwh"] = np.nan  # unlabelled rows are skipped

    def broken(done: int, total: int, text: str) -> None:
        raise ValueError("callback bug")

    packaged = package_model(
        model,
        data,
        "edge",
        target="kwh",
        holdout=holdout,
        metrics={"r2_cv": np.float32(0.9)},
        measure_cost=False,
        progress=broken,
        settings=settings,
    )
    assert packaged.version == 1 and packaged.card.metrics["r2_cv"]["value"] == pytest.approx(0.9)
    assert np.isfinite(packaged.card.metrics["holdout_rmse"]["value"])

    # an interrupt while the card is written removes the version it had registered
    def interrupt(done: int, total: int, text: str) -> None:
        if text == "cost measured":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        package_model(
            model, data, "edge", measure_cost=False, progress=interrupt, settings=settings
        )
    assert _versions(settings, "edge") == ["1"]
    # a regressor that predicts NaN is refused before anything is logged
    nan_model = _linear(frame, Ridge(), "kwh")
    nan_model.named_steps["model"].coef_[0] = np.nan
    numeric = frame[[*INPUTS, "kwh"]].astype({"shifts": "float64", "holiday": "float64"})
    with pytest.raises(ModelError, match="predicts NaN or infinity"):
        package_model(nan_model, numeric, "edge-nan", progress=False, settings=settings)
    # inputs a signature cannot describe are named
    mixed = data.assign(region=data["region"].astype(object))
    mixed.loc[mixed.index[0], "region"] = 3
    with pytest.raises(DataError, match="'region' mixes value types"):
        package_model(model, mixed, "edge-mixed", progress=False, settings=settings)
    # a model that prints JSON to stdout cannot fool the fresh-process check
    module = _local_module(
        tmp_path,
        "wb_chatty",
        "import json\n"
        "def chatty(X):\n"
        "    print(json.dumps({'ok': False, 'reason': 'not from the checker'}))\n"
        "    return X\n",
    )
    try:
        from wb_chatty import chatty  # type: ignore[import-not-found]

        talker = Pipeline([("say", FunctionTransformer(chatty)), ("model", Ridge())])
        talker.fit(frame[["temperature"]], frame["kwh"])
        loud = package_model(
            talker,
            frame[["temperature", "kwh"]],
            "edge-chatty",
            target="kwh",
            code_paths=[str(module)],
            measure_cost=False,
            progress=False,
            settings=settings,
        )
        assert loud.version == 1
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("wb_chatty", None)


def test_the_card_names_no_path_of_the_machine_that_made_it(
    frame: pd.DataFrame, settings: Settings
) -> None:
    """A real study and package: the card (as stored in MLflow: Markdown, HTML, JSON; and
    as the card app draws it) says how to find the study (its name, its SQLite file
    relative to the project) without the project's, the home's, the working folder's or
    the temporary folder's absolute path, and links MLflow only where a UI is configured."""
    import tempfile

    from workbench._versions import CARD_FILES
    from workbench.packaging._figures import card_header_html, card_sections_html, card_tail_html
    from workbench.tuning import tune

    data = frame[[*INPUTS, "kwh"]].head(300).astype({"shifts": "float64", "holiday": "float64"})
    study = tune(
        data,
        "kwh",
        families=["ridge"],
        n_trials=2,
        cv=2,
        n_workers=1,
        pruner=None,
        study_name="portable-study",
        progress=False,
        settings=settings,
    )
    assert study.storage.startswith("sqlite:///") and str(settings.project_dir) in study.storage
    packaged = package_model(
        study.best_model,
        data,
        "portable",
        target="kwh",
        tuning=study,
        progress=False,
        settings=settings,
    )
    folder = Path(mlflow.artifacts.download_artifacts(packaged.card_uri.rsplit("/", 1)[0]))
    stored = {file: (folder / file).read_text(encoding="utf-8") for file in CARD_FILES}
    card = card_of("portable", packaged.version, settings=settings)
    stored["the app's page"] = "".join(
        [
            card_header_html(card, ["challenger"], None),
            card_sections_html(card, None, None),
            card_tail_html(card),
        ]
    )
    machine = {
        "the project folder": str(settings.project_dir),
        "the home folder": str(Path.home()),
        "the working folder": str(Path.cwd()),
        "the temporary folder": tempfile.gettempdir(),
        "the repository": str(REPO),
    }
    leaks = [
        f"{where} names {what} ({path})"
        for where, text in stored.items()
        for what, path in machine.items()
        if path in text
    ]
    assert leaks == []
    # a reader still finds the study: its name and where it is kept, in the project
    assert card.tuning is not None
    assert card.tuning["study"] == "portable-study"
    assert card.tuning["storage"] == "SQLite file .workbench/optuna.db in the project folder"
    assert "link" not in card.tuning and card.ui_url is None  # no UI address configured
    for text in stored.values():
        assert "portable-study" in text and ".workbench/optuna.db" in text
    assert "127.0.0.1" not in stored["model_card.md"]
