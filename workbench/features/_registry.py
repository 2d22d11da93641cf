"""The feature registry: one JSON file with every version of every feature view.

A version is a fingerprint of the view's definition and of its source's content. Each
version keeps its lineage: the source (and the hash of the rows read), the
transformations, and every materialization run (range, rows written, rows rejected).
Writes take a file lock and replace the file atomically, so two processes never lose
each other's records. Reads return typed records (:mod:`._records`); writes edit the
JSON as it is, so that fields this workbench does not know are kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from workbench._exceptions import ConfigurationError
from workbench._storage import make_dir
from workbench.features._records import ViewEntry, ViewVersion

__all__ = ["Registry"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Registry:
    """Versions and lineage of feature views, kept in ``<store>/registry.json``."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"views": {}}
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"The feature registry {self.path} is not valid JSON ({exc}). Restore it "
                f"from version control or delete it and apply the definitions again."
            ) from exc
        return data

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, and write back under an exclusive lock."""
        make_dir(self.path.parent, "the feature store", "feature_store_dir")
        with self.path.with_suffix(".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.read()
            yield data
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
            tmp.replace(self.path)

    def entries(self) -> dict[str, ViewEntry]:
        """Every registered view's entry, by name."""
        return {
            name: ViewEntry.from_json(name, entry, str(self.path))
            for name, entry in sorted(self.read()["views"].items())
        }

    def _record(self, view: str, record: Mapping[str, Any]) -> ViewVersion:
        where = f"{self.path}, view {view!r} version {record.get('version')}"
        return ViewVersion.from_json(record, where)

    def version(self, view: str, number: int | None = None) -> ViewVersion:
        """A version's record (the current one when ``number`` is None)."""
        entry = self.read()["views"].get(view)
        if not entry:
            known = sorted(self.read()["views"])
            raise ConfigurationError(
                f"The feature view {view!r} is not registered. Registered: {known}. "
                f"Apply its definition first (FeatureStore.apply or `workbench features "
                f"apply`)."
            )
        wanted = entry["current"] if number is None else number
        for record in entry["versions"]:
            if record["version"] == wanted:
                return self._record(view, record)
        numbers = [r["version"] for r in entry["versions"]]
        raise ConfigurationError(
            f"The feature view {view!r} has no version {wanted}. Versions: {numbers}."
        )

    def register(
        self,
        view: str,
        fingerprint: str,
        definition: dict[str, Any],
        source: dict[str, Any],
    ) -> tuple[ViewVersion, bool]:
        """The version with this fingerprint, made current (and created when new)."""
        with self.edit() as data:
            entry = data["views"].setdefault(view, {"versions": [], "current": None})
            for record in entry["versions"]:
                if record["fingerprint"] == fingerprint:
                    entry["current"] = record["version"]
                    return self._record(view, record), False
            previous = entry["versions"][-1] if entry["versions"] else None
            if previous is None:
                reason = "first definition"
            elif previous["definition"] != definition:
                reason = "definition changed"
            else:
                reason = "source data changed"
            record = {
                "version": len(entry["versions"]) + 1,
                "fingerprint": fingerprint,
                "definition": definition,
                "source": source,
                "reason": reason,
                "registered_at": _now(),
                "materializations": [],
                "online": None,
            }
            entry["versions"].append(record)
            entry["current"] = record["version"]
            return self._record(view, record), True

    def add_run(self, view: str, version: int, run: Mapping[str, Any]) -> None:
        with self.edit() as data:
            for record in data["views"][view]["versions"]:
                if record["version"] == version:
                    record["materializations"].append({**run, "at": _now()})

    def set_online(self, view: str, version: int, info: Mapping[str, Any]) -> None:
        with self.edit() as data:
            data["views"][view]["online"] = version
            for record in data["views"][view]["versions"]:
                if record["version"] == version:
                    record["online"] = {**info, "at": _now()}

    def online_version(self, view: str) -> int | None:
        entry = self.read()["views"].get(view, {})
        number: int | None = entry.get("online")
        return number
