"""Stores written by older code (tests/features/old_stores/) load and answer as they did."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import workbench
from tests.features.old_stores import make_store
from workbench.features import FeatureStore

OLD = Path(__file__).parent / "old_stores"
#: 1df8f5c: online tables of layout 1 (latest row only, no key types recorded);
#: 9ad11c3: layout 2.
REVISIONS = ["1df8f5c", "9ad11c3"]


@pytest.fixture(params=REVISIONS)
def old(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, FeatureStore]:
    """A copy of a store written at that revision, and a store of its definitions."""
    folder = tmp_path / str(request.param)
    shutil.copytree(OLD / str(request.param), folder)
    settings = workbench.resolve_settings(
        folder, environ={"WORKBENCH_FEATURE_STORE_DIR": str(folder / "store")}
    )
    return folder, FeatureStore(make_store.views(), settings=settings)


def test_an_old_store_answers_as_it_did(old: tuple[Path, FeatureStore]) -> None:
    folder, store = old
    kept = json.loads((folder / "answers.json").read_text())
    out, answers = make_store.answers(store)
    pd.testing.assert_frame_equal(out, pd.read_parquet(folder / "historical.parquet"))
    assert answers == kept


def test_an_old_registry_reads_and_its_definitions_keep_their_versions(
    old: tuple[Path, FeatureStore],
) -> None:
    folder, store = old
    registry = folder / "store" / "registry.json"
    stored = json.loads(registry.read_text())
    for name, entry in stored["views"].items():
        for record in entry["versions"]:
            assert store.lineage(name, record["version"]) == record
        assert store.lineage(name) == entry["versions"][entry["current"] - 1]
    views = store.list_views()
    assert views[["view", "version", "versions", "online_version"]].values.tolist() == [
        ["pairs", 1, 1, 1],
        ["shops", 2, 2, 2],
    ]
    # the same definitions and source rows: the same fingerprints, no new version
    applied = store.apply()
    assert [(r["definition"]["name"], r["version"]) for r in applied] == [
        ("pairs", 1),
        ("shops", 2),
    ]
    assert json.loads(registry.read_text()) == stored
