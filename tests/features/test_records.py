"""Typed registry records: read from the registry files as they are, written back the same."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from workbench import ConfigurationError
from workbench.features import Entity, FeatureStore, FeatureView, Source, ViewVersion
from workbench.features._records import ViewEntry
from workbench.features._registry import Registry

OLD = Path(__file__).parent / "old_stores"


@pytest.mark.parametrize("revision", ["1df8f5c", "9ad11c3"])
def test_every_stored_record_reads_typed_and_writes_back_as_it_was(revision: str) -> None:
    stored = json.loads((OLD / revision / "store" / "registry.json").read_text())
    for name, entry in stored["views"].items():
        assert ViewEntry.from_json(name, entry).to_json() == entry
        for record in entry["versions"]:
            assert ViewVersion.from_json(record).to_json() == record
    shops = ViewEntry.from_json("shops", stored["views"]["shops"])
    assert (shops.current, shops.online, len(shops.versions)) == (2, 2, 2)
    second = shops.current_version
    assert second.view == "shops" and second.reason == "definition changed"
    assert second.definition.time_column == "day"
    assert second.definition.join_keys == ("shop",)
    assert second.definition.ttl == dt.timedelta(days=3)
    assert second.definition.ttl_ns == 3 * 86_400 * 10**9
    assert second.definition.created_timestamp == "made"
    assert second.definition.country == "IT"  # the setting, as a calendar uses it
    assert "sales_7d_mean" in second.definition.feature_names
    assert second.source.identity == {"kind": "frame", "name": "shops"}
    assert second.materializations[0].months == ("2024-01", "2024-02")
    assert second.online is not None and second.online.table == "shops__v2"
    # 1df8f5c loaded layout-1 tables and recorded no layout or key types
    old = revision == "1df8f5c"
    assert second.online.layout == (None if old else 2)
    assert second.online.table_layout == (1 if old else 2)
    assert second.online.key_dtypes == (None if old else {"shop": "str"})
    pairs = ViewEntry.from_json("pairs", stored["views"]["pairs"]).current_version
    assert pairs.definition.ttl is None and pairs.definition.ttl_ns is None
    assert pairs.definition.join_keys == ("a", "b") and pairs.definition.country is None
    assert [r.end for r in pairs.materializations] == ["2024-01-31 00:00:00", "2024-02-27 00:00:00"]


def test_the_store_gives_typed_versions_and_lineage_as_stored() -> None:
    rows = pd.DataFrame(
        {"k": ["a", "b"], "t": pd.to_datetime(["2024-01-01", "2024-01-02"]), "x": [1.0, 2.0]}
    )
    store = FeatureStore([FeatureView("v", Entity("e", "k"), Source.frame(rows, "v"), "t", ["x"])])
    run = store.materialize("v", progress=False)
    store.materialize_online("v")
    record = store.version("v")
    assert isinstance(record, ViewVersion)
    assert record.version == 1 and record.reason == "first definition"
    assert [r.run for r in record.materializations] == [run["run"]]
    assert record.online is not None and record.online.layout == 2
    assert record.online.key_dtypes == {"k": str(rows["k"].dtype)}
    stored = json.loads(store.registry.path.read_text())["views"]["v"]["versions"][0]
    assert store.lineage("v") == stored == record.to_json()
    assert store.apply()[0] == store.lineage("v")


def test_a_record_missing_a_field_is_refused_naming_the_file_view_and_field(
    tmp_path: Path,
) -> None:
    shutil.copytree(OLD / "9ad11c3" / "store", tmp_path / "store")
    path = tmp_path / "store" / "registry.json"
    data = json.loads(path.read_text())
    del data["views"]["shops"]["versions"][1]["definition"]["ttl_us"]
    path.write_text(json.dumps(data))
    registry = Registry(path)
    assert registry.version("shops", 1).version == 1  # the other records still read
    with pytest.raises(ConfigurationError, match=r"registry\.json, view 'shops' version 2 has no "):
        registry.version("shops")
    with pytest.raises(ConfigurationError, match=r"no field 'ttl_us'.*apply the definitions again"):
        registry.entries()
