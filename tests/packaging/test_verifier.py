"""A packaged model loads where the workbench is not installed.

"Where the workbench is not installed" is a real environment here: a venv whose
site-packages holds one ``.pth`` line naming this environment's site-packages. A plain
path line adds that folder, but the ``.pth`` files inside it (the workbench's editable
one among them) are not processed, so ``import workbench`` fails there while MLflow,
scikit-learn and the boosting libraries import. It runs from a folder outside the
checkout, without ``PYTHONPATH``. Where the workbench is installed as a wheel in that
site-packages, the venv hides it with the verifier's own finder instead.

The models are the tuning pipelines as ``tune`` refits its best trial
(``refit_best``), packaged with ``package_model`` against a real MLflow store.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import site
import subprocess
import sys
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from workbench import ModelError
from workbench._settings import Settings, resolve_settings
from workbench.packaging import conform, package_model, pinned_requirements
from workbench.packaging._verifier import spare_verifier
from workbench.serving._process import free_port
from workbench.tuning._objective import METRICS, TuningSpec
from workbench.tuning._spaces import FAMILIES
from workbench.tuning._study import refit_best

SHARED = Path(next(p for p in site.getsitepackages() if (Path(p) / "mlflow").is_dir()))


@pytest.fixture(scope="module", autouse=True)
def _warm_spare_checker() -> Iterator[None]:
    """A spare fresh-process checker warm between packages, as in a notebook session."""
    from workbench.packaging import _verifier

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_verifier, "_interactive", lambda: True)
        yield


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with this environment's packages but without the workbench, and the
    ``mlflow``/``uvicorn`` commands a venv with MLflow has."""
    folder = tmp_path_factory.mktemp("bare") / "venv"
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "shared.pth").write_text(f"{SHARED}\n")
    if (SHARED / "workbench").is_dir():  # an installed wheel, not an editable checkout
        verifier = Path(__file__).resolve().parents[2] / "workbench/packaging/_verifier.py"
        (Path(purelib) / "sitecustomize.py").write_text(
            f"import runpy\nrunpy.run_path({str(verifier)!r})['HiddenPackages']"
            f"('workbench').install()\n"
        )
    for command, entry in (("mlflow", "mlflow.cli:cli"), ("uvicorn", "uvicorn.main:main")):
        module, func = entry.split(":")
        script = folder / "bin" / command
        script.write_text(
            f"#!{python}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n"
        )
        script.chmod(0o755)
    return python


def _bare_env(python: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run_bare(python: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-c", code], cwd=cwd, env=_bare_env(python), capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    project = tmp_path_factory.mktemp("standalone-project")
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    return resolve_settings(project)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A text column with missing values, a nullable boolean and a nullable integer (as a
    data contract loads them), a regression target and string labels."""
    rng = np.random.default_rng(3)
    n = 240
    out = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "region": pd.Series(rng.choice(["north", "south", "centre"], n), dtype="string"),
            "holiday": pd.array(rng.random(n) < 0.3, dtype="boolean"),
            "shifts": pd.array(rng.integers(1, 4, n), dtype="Int64"),
        }
    )
    out.loc[out.index % 11 == 0, "region"] = pd.NA
    out.loc[out.index % 13 == 0, "holiday"] = pd.NA
    out.loc[out.index % 9 == 0, "shifts"] = pd.NA
    out["y"] = (
        2 * out["x1"]
        - out["x2"]
        + out["region"].map({"north": 1.0, "south": -1.0, "centre": 0.0}).fillna(0.5).astype(float)
        + 2 * out["holiday"].fillna(False).astype(float)
        + out["shifts"].fillna(2).astype(float)
        + rng.normal(0, 0.2, n)
    )
    out["label"] = np.where(out["y"] > out["y"].median(), "busy", "quiet")
    return out


FEATURES = ("x1", "x2", "region", "holiday", "shifts")
CATEGORICAL = ("region", "holiday", "shifts")
# name: (task, family, its parameters)
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ridge-text": ("regression", "ridge", {"ridge.alpha": 1.0}),
    "hgb-labels": (
        "classification",
        "hist_gradient_boosting",
        {"hist_gradient_boosting.max_iter": 30},
    ),
    "xgboost-labels": ("classification", "xgboost", {"xgboost.n_estimators": 30}),
}
# Served through the same flavor as XGBoost; their pipelines are checked without packaging.
BOOSTERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "lightgbm-text": ("regression", "lightgbm", {"lightgbm.n_estimators": 20}),
    "catboost-labels": ("classification", "catboost", {"catboost.iterations": 20}),
}


def _tuned(frame: pd.DataFrame, task: str, family: str, params: dict[str, Any]) -> Any:
    """The pipeline ``tune`` refits for a best trial of ``family`` with ``params``."""
    target = "y" if task == "regression" else "label"
    metric = METRICS[task]["rmse" if task == "regression" else "accuracy"]
    spec = TuningSpec(
        task, target, FEATURES, CATEGORICAL, {family: FAMILIES[(task, family)]}, metric, 2, 0
    )
    return refit_best({"family": family, **params}, spec, frame)


@pytest.fixture(scope="module")
def packaged(frame: pd.DataFrame, settings: Settings) -> dict[str, tuple[Any, Path]]:
    """Each case tuned, packaged and registered: its pipeline and logged model folder."""
    out = {}
    for name, (task, family, params) in CASES.items():
        pytest.importorskip(FAMILIES[(task, family)].requires or "sklearn")
        model = _tuned(frame, task, family, params)
        target = "y" if task == "regression" else "label"
        version = package_model(
            model,
            frame[[*FEATURES, target]],
            name,
            target=target,
            measure_cost=False,
            progress=False,
            settings=settings,
        )
        local = mlflow.artifacts.download_artifacts(
            version.version_uri, tracking_uri=settings.tracking_uri
        )
        out[name] = (model, Path(local))
    return out


def test_tuned_models_load_and_predict_where_the_workbench_is_not_installed(
    packaged: dict[str, tuple[Any, Path]],
    frame: pd.DataFrame,
    bare_python: Path,
    tmp_path: Path,
) -> None:
    rows = frame[list(FEATURES)].iloc[::7]
    # as a client sends them: nullable booleans and integers as (optional) doubles
    signature = mlflow.models.Model.load(str(packaged["ridge-text"][1])).signature
    conform(rows, signature).to_parquet(tmp_path / "rows.parquet")
    folders = {name: str(folder) for name, (_, folder) in packaged.items()}
    code = (
        "import json, sys\n"
        "try:\n    import workbench\nexcept ModuleNotFoundError:\n    workbench = None\n"
        "import mlflow.pyfunc, pandas as pd\n"
        "rows = pd.read_parquet('rows.parquet')\n"
        f"out = {{'workbench': workbench is not None}}\n"
        f"for name, folder in {folders!r}.items():\n"
        "    out[name] = mlflow.pyfunc.load_model(folder).predict(rows).tolist()\n"
        "print(json.dumps(out))\n"
    )
    done = _run_bare(bare_python, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers.pop("workbench") is False  # really an environment without the workbench
    for name, (model, _) in packaged.items():
        expected = model.predict(rows)
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(answers[name], expected, rtol=1e-12, err_msg=name)
        else:
            assert answers[name] == expected.tolist(), name


@pytest.mark.parametrize("case", sorted(BOOSTERS))
def test_boosting_pipelines_refer_to_their_library_and_not_the_workbench(
    case: str, frame: pd.DataFrame
) -> None:
    from workbench.packaging import choose_serialization

    task, family, params = BOOSTERS[case]
    pytest.importorskip(family)
    serialization = choose_serialization(_tuned(frame, task, family, params))
    assert family in serialization.modules and "workbench" not in serialization.modules
    pins = pinned_requirements(modules=serialization.modules)
    assert any(p.startswith(f"{family}==") for p in pins), pins


def _referenced_modules(folder: Path) -> set[str]:
    """Top-level modules the saved model file refers to, read independently of the
    packaging code: a real unpickler's ``find_class`` calls, or skops' schema."""
    found: set[str] = set()
    if (folder / "model.pkl").exists():

        class Recording(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                found.add(module.split(".")[0])
                return super().find_class(module, name)

        Recording(io.BytesIO((folder / "model.pkl").read_bytes())).load()
        return found
    with zipfile.ZipFile(folder / "model.skops") as archive:
        text = archive.read("schema.json").decode()
    for piece in text.split('"__module__": "')[1:]:
        found.add(piece.split('"', 1)[0].split(".")[0])
    return found


def test_requirements_name_no_workbench_and_pin_every_module_the_model_needs(
    packaged: dict[str, tuple[Any, Path]],
) -> None:
    import importlib.metadata

    providers = importlib.metadata.packages_distributions()
    for name, (_, folder) in packaged.items():
        for file in ("requirements.txt", "conda.yaml", "python_env.yaml"):
            assert "workbench" not in (folder / file).read_text(), (name, file)
        assert not (folder / "code").exists()  # no code shipped beside the model either
        lines = (folder / "requirements.txt").read_text().split()
        pinned = {line.split("==")[0].lower() for line in lines}
        assert all("==" in line for line in lines), lines
        conda = yaml.safe_load((folder / "conda.yaml").read_text())
        assert conda["dependencies"][-1]["pip"] == lines
        for module in _referenced_modules(folder) - set(sys.stdlib_module_names):
            dists = {d.lower() for d in providers.get(module, [])}
            assert dists & pinned, f"{name}: {module} ({dists}) is not pinned in {lines}"


def test_mlflow_models_serve_without_the_workbench(
    packaged: dict[str, tuple[Any, Path]],
    frame: pd.DataFrame,
    bare_python: Path,
    tmp_path: Path,
) -> None:
    """``mlflow models serve --env-manager local``, as a team would run it on the model."""
    model, folder = packaged["xgboost-labels"]
    port = free_port()
    server = subprocess.Popen(
        [
            *(bare_python.parent / "mlflow", "models", "serve", "-m", str(folder)),
            *("--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"),
        ],
        cwd=tmp_path,
        env=_bare_env(bare_python),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: stopped with its uvicorn worker
    )
    try:
        rows = frame[list(FEATURES)].head(8)
        body = rows.to_json(orient="split", index=False)  # nullable values become JSON
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1][-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mlflow models serve did not start in 90 s"
            time.sleep(0.2)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            content='{"dataframe_split": ' + body + "}",
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == model.predict(rows).tolist()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_the_study_logs_its_best_model_with_the_same_requirements(
    packaged: dict[str, tuple[Any, Path]], frame: pd.DataFrame, settings: Settings
) -> None:
    """``tune`` logs the refitted best pipeline under the study's run: its requirements
    come from the same place (the model's library pinned, the workbench never)."""
    from workbench._tracking import ensure_experiment
    from workbench.tuning._study import _log_model

    model, folder = packaged["xgboost-labels"]
    client = mlflow.MlflowClient(settings.tracking_uri)
    run = client.create_run(ensure_experiment("study-runs", settings))
    _log_model(model, frame[list(FEATURES)], run.info.run_id, settings)
    logged = mlflow.artifacts.download_artifacts(
        f"runs:/{run.info.run_id}/best_model/requirements.txt", tracking_uri=settings.tracking_uri
    )
    lines = Path(logged).read_text().split()
    assert not [line for line in lines if "workbench" in line]
    assert [line for line in lines if line.startswith("xgboost")], lines
    assert set(lines) <= set((folder / "requirements.txt").read_text().split())


# ---------------------------------------------------------------- models with workbench parts


@pytest.fixture(scope="module")
def old_style(frame: pd.DataFrame) -> Any:
    """A pipeline as ``tune`` built it before: the workbench's text step and label encoder."""
    import xgboost
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    from workbench.tuning._estimators import EncodedLabels, categories_as_text

    text = FunctionTransformer(categories_as_text, feature_names_out="one-to-one")
    encode = ColumnTransformer(
        [("categories", make_pipeline(text, OneHotEncoder(handle_unknown="ignore")), ["region"])],
        remainder="passthrough",
    )
    model = EncodedLabels(xgboost.XGBClassifier(n_estimators=10, n_jobs=1))
    pipeline = Pipeline([("encode", encode), ("model", model)])
    return pipeline.fit(frame[["x1", "x2", "region"]], frame["label"])


def test_the_fresh_process_check_runs_without_the_workbench(
    old_style: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    """A model that imports the workbench as it loads fails the check; where the workbench
    is installed, such a model (one trained before) still loads."""
    import mlflow.sklearn

    rows = frame[["x1", "x2", "region"]].head(5)
    folder = tmp_path / "old-model"
    mlflow.sklearn.save_model(
        old_style, folder, serialization_format="cloudpickle", input_example=rows
    )
    # models trained before this change keep loading where the workbench is installed
    loaded = mlflow.pyfunc.load_model(str(folder))
    assert loaded.predict(rows).tolist() == old_style.predict(rows).tolist()

    verifier = spare_verifier(take=True)  # the warm one package_model would take
    assert verifier is not None
    try:
        verifier.send({"model_uri": str(folder), "expected": old_style.predict(rows).tolist()})
        answer = verifier.receive(timeout=120)
    finally:
        verifier.close()
    assert answer["ok"] is False
    assert "No module named 'workbench'" in answer["reason"], answer


def test_a_model_holding_workbench_parts_is_refused_by_name(
    old_style: Any, frame: pd.DataFrame, settings: Settings
) -> None:
    with pytest.raises(ModelError) as refused:
        package_model(
            old_style,
            frame[["x1", "x2", "region", "label"]],
            "old-style",
            target="label",
            progress=False,
            settings=settings,
        )
    message = str(refused.value)
    assert "workbench.tuning._estimators.categories_as_text" in message
    assert "workbench.tuning._estimators.EncodedLabels" in message
    assert "refit_best()" in message
    client = mlflow.MlflowClient(settings.tracking_uri)
    assert client.search_model_versions("name = 'old-style'") == []
    # and its requirements would never have named the workbench
    assert not [r for r in pinned_requirements(model=old_style) if "workbench" in r]


def test_requirements_follow_what_the_model_refers_to() -> None:
    """A function from a team's installed package is pinned by its distribution's name;
    the standard library, local modules and the workbench never are."""
    import importlib.metadata

    import toolz
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from workbench._requirements import _distributions_of

    model = Pipeline([("same", FunctionTransformer(toolz.identity)), ("model", Ridge())])
    model.fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
    pins = pinned_requirements(model=model)
    assert f"toolz=={importlib.metadata.version('toolz')}" in pins
    assert pins[0].startswith("mlflow==") and len(pins) == len({p.split("==")[0] for p in pins})
    assert _distributions_of("yaml") == ("PyYAML",)  # a distribution named otherwise
    assert _distributions_of("sklearn") == ("scikit-learn",)
    for module in ("operator", "builtins", "workbench", "__main__", "no_such_module_here"):
        assert _distributions_of(module) == (), module
