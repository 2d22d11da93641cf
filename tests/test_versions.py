"""The registered-version seam (``workbench._versions``): what packaging writes is what
every later stage reads back, through one typed object, never by spelling a tag.

The round trip packages a small classifier against a real MLflow SQLite store (fresh
process check included) and reads it back with :meth:`VersionArtifacts.of`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from workbench import ModelError
from workbench._settings import Settings, resolve_settings
from workbench._versions import (
    CONTRACT,
    FEATURES,
    MODEL_CARD,
    REFERENCE,
    REFERENCE_PROFILE,
    REFERENCE_SCORES,
    TAG_LIMIT,
    TARGET,
    TASK,
    VersionArtifacts,
)
from workbench.data import ColumnContract, Contract
from workbench.packaging import ModelCard, card_of, package_model

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
INPUTS = ["tenure", "fee", "plan"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    project = tmp_path_factory.mktemp("versions-project")
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    return resolve_settings(project)


def _churn(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer": [f"c{i}" for i in range(n)],
            "tenure": rng.integers(1, 60, n).astype(float),
            "fee": rng.normal(40, 10, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    score = 0.05 * frame["fee"] - 0.04 * frame["tenure"] + rng.normal(0, 0.5, n)
    frame["churned"] = np.where(score > score.median(), "yes", "no")
    return frame


def test_what_packaging_writes_reads_back_through_the_seam(
    settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    from workbench.packaging._reference import reference_profile, reference_scores

    train, holdout = _churn(300, 0), _churn(120, 1)
    contract = Contract(
        name="churn",
        columns=(
            ColumnContract("customer", "str", pii=True),
            ColumnContract("tenure", "float"),
            ColumnContract("fee", "float"),
            ColumnContract("plan", "category", categories=("basic", "plus", "pro")),
            ColumnContract("churned", "str"),
        ),
    )
    encode = ColumnTransformer(
        [
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
            ("numbers", StandardScaler(), ["tenure", "fee"]),
        ]
    )
    model = Pipeline([("encode", encode), ("model", LogisticRegression())])
    model.fit(train[INPUTS], train["churned"])
    packaged = package_model(
        model,
        train[[*INPUTS, "churned", "customer"]],
        "churn",
        target="churned",
        contract=contract,
        holdout=holdout,
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    capfd.readouterr()

    version = VersionArtifacts.of("churn", packaged.version, settings=settings)
    assert version == VersionArtifacts.of("churn", alias="challenger", settings=settings)
    assert (version.name, version.version, version.aliases) == ("churn", 1, ("challenger",))
    assert version.run_id == packaged.run_id and version.packaged
    assert (version.task, version.target, version.features) == (
        "classification",
        "churned",
        tuple(INPUTS),
    )
    assert version.model_card_uri == packaged.card_uri
    assert version.reference_uri == packaged.reference_uri
    # every artifact, as written
    assert version.contract_path is not None
    assert Contract.load(version.contract_path) == contract
    kept = train[[*INPUTS, "churned"]]  # the personal column is never stored
    assert version.reference_path is not None
    pd.testing.assert_frame_equal(pd.read_parquet(version.reference_path), kept)
    assert version.reference_profile_path is not None
    stored_profile = json.loads(version.reference_profile_path.read_text())
    written_profile = reference_profile(model, kept, INPUTS).to_dict()
    assert stored_profile == json.loads(json.dumps(written_profile))
    assert version.reference_scores_path is not None
    scores = pd.read_parquet(version.reference_scores_path)
    expected = reference_scores(model, holdout, INPUTS, "churned")
    assert expected is not None
    pd.testing.assert_frame_equal(scores, expected)
    assert scores.attrs["classes"] == ["no", "yes"]
    assert version.model_card_path is not None
    card = ModelCard(**json.loads(version.model_card_path.read_text()))
    assert card == packaged.card == card_of("churn", settings=settings, alias="challenger")
    # downloaded once, and without MLflow's progress bar
    assert version.contract_path is version.contract_path
    captured = capfd.readouterr()
    assert "Downloading" not in captured.err + captured.out


def test_a_missing_version_or_alias_is_named(settings: Settings) -> None:
    with pytest.raises(ModelError, match=r"No registered version nothing@champion"):
        VersionArtifacts.of("nothing", settings=settings)
    with pytest.raises(ModelError, match=r"No registered version nothing version 7"):
        VersionArtifacts.of("nothing", 7, settings=settings)


def test_features_cut_at_the_tag_limit_come_from_the_card(
    settings: Settings, tmp_path: Path
) -> None:
    """MLflow keeps a tag to ``TAG_LIMIT`` characters: a wide model's feature list is cut
    there, and read whole from the card's record."""
    names = [f"sensor_{i:04d}_reading_in_degrees" for i in range(200)]
    (tmp_path / "model_card.json").write_text(
        json.dumps({"features": [{"name": n, "type": "double", "optional": False} for n in names]})
    )
    wide = VersionArtifacts(
        name="wide",
        version=1,
        aliases=(),
        run_id=None,
        task="regression",
        target=None,
        tags={
            FEATURES: ",".join(names)[:TAG_LIMIT],
            MODEL_CARD: (tmp_path / "model_card.html").as_uri(),
        },
        settings=settings,
    )
    assert wide.features == tuple(names)
    narrow = VersionArtifacts("n", 1, (), None, "regression", None, {FEATURES: "a,b"}, settings)
    assert narrow.features == ("a", "b") and not narrow.packaged
    assert narrow.contract_path is None and narrow.reference_scores_path is None


# ---------------------------------------------------------------- one spelling


SEAM_TAGS = {TASK, TARGET, FEATURES, CONTRACT, REFERENCE, REFERENCE_PROFILE, REFERENCE_SCORES}
SEAM_TAGS |= {MODEL_CARD}
# Readers not switched yet; only shrinks.
ALLOWED: set[tuple[str, str]] = set()


def tag_reads(source: str) -> list[tuple[int, str]]:
    """Where ``source`` reads a seam tag by its name off something called ``tags``:
    ``x.tags["task"]``, ``x.tags.get("task")``, ``"contract" in tags``."""

    def is_tags(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "tags") or (
            isinstance(node, ast.Name) and node.id == "tags"
        )

    def named(node: ast.AST) -> str | None:
        value = getattr(node, "value", None)
        return value if isinstance(node, ast.Constant) and value in SEAM_TAGS else None

    found = []
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Subscript) and is_tags(node.value):
            key = named(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get" and is_tags(node.func.value) and node.args:
                key = named(node.args[0])
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.ops[0], (ast.In, ast.NotIn))
            and is_tags(node.comparators[0])
        ):
            key = named(node.left)
        if key is not None:
            found.append((node.lineno, key))
    return found


def _tag_readers() -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_versions.py":
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for line, tag in tag_reads(path.read_text(encoding="utf-8")):
            found.setdefault((module, tag), line)
    return found


def test_no_stage_reads_a_version_tag_by_its_name() -> None:
    found = _tag_readers()
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert new == {}, "\n".join(
        f"{module} (line {line}) reads the {tag!r} tag: use workbench._versions.VersionArtifacts"
        for (module, tag), line in sorted(new.items())
    )
    assert ALLOWED - set(found) == set(), "cleared: remove these from ALLOWED"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('v.tags.get("reference_profile")', [(1, "reference_profile")]),
        ('mv.tags["task"]', [(1, "task")]),
        ('if "contract" not in tags:\n    pass', [(1, "contract")]),
        ('run.data.tags.get("optuna.trial")', []),
        ('d.get("task")', []),
    ],
)
def test_the_tag_scan_sees_each_way_of_reading(
    source: str, expected: list[tuple[int, str]]
) -> None:
    assert tag_reads(source) == expected
