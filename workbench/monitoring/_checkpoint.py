"""The scheduled monitor's checkpoint: what it has read, and the state it built from it.

A monitor run reads the inference-log segments and actuals files it has not read yet,
adds what they hold to the state of the runs before, and records the result. The
checkpoint is what makes that safe to stop at any moment:

* each run ``n`` writes its new files under names of its own (``ledger/part-n``,
  ``labels/part-n``, ``state-n/``), which a later attempt at the same run overwrites;
* only then is ``checkpoint.json`` replaced, atomically (a temporary file, ``fsync``,
  ``os.replace``), naming run ``n``, its state folder and every file read so far.

A run killed before the replace leaves files that no checkpoint names: the next run
removes them and does run ``n`` again from the same checkpoint, so it repeats nothing
and skips nothing. A file that arrives while a run reads is left for the next run.

Layout under ``<monitoring_dir>/monitor/<model name>/``::

    checkpoint.json        run, state folder, segments and actuals read, ledger parts
    state-<n>/state.json   per version: the log's counts per period, the results
    state-<n>/pending.parquet   actuals whose logged row has not been read yet
    ledger/part-<n>.parquet     per logged row read: ids, period, prediction, scores
    labels/part-<n>.parquet     per actual matched to a row: ids, period, actual
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._summaries import Summary

__all__ = ["Checkpoint", "MonitorStore", "atomic_write", "stats_from_dict", "stats_to_dict"]

CHECKPOINT = "checkpoint.json"


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` at ``path`` so that a reader (or a crash) sees the old file or the
    new one, never half: a temporary file in the same folder, flushed to the disk, then
    renamed over ``path``, and the folder flushed so the rename itself survives."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)
    return target


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without folder handles (Windows): the rename stands
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What the monitor of one model has read and recorded.

    Attributes:
        run: The number of the last completed run (0: none yet).
        segments: Names of the inference-log segments read.
        actuals: Names of the actuals files read.
        ledger: The ledger parts written by completed runs.
        labels: The label parts written by completed runs.
    """

    run: int = 0
    segments: frozenset[str] = frozenset()
    actuals: frozenset[str] = frozenset()
    ledger: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "segments": sorted(self.segments),
            "actuals": sorted(self.actuals),
            "ledger": list(self.ledger),
            "labels": list(self.labels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            run=int(data["run"]),
            segments=frozenset(data.get("segments", [])),
            actuals=frozenset(data.get("actuals", [])),
            ledger=tuple(data.get("ledger", [])),
            labels=tuple(data.get("labels", [])),
        )


def stats_to_dict(stats: Any) -> dict[str, Any]:
    """A period's counts (``_collect.PeriodStats``) as JSON-ready data."""
    return {
        "summary": stats.summary.to_dict(),
        "rows": int(stats.rows),
        "requests": int(stats.requests),
        "latency": [int(v) for v in stats.latency],
        "integrity": [[c, p, int(n)] for (c, p), n in sorted(stats.integrity.items())],
        "first": None if stats.first is None else str(stats.first.isoformat()),
        "last": None if stats.last is None else str(stats.last.isoformat()),
    }


def stats_from_dict(data: dict[str, Any]) -> Any:
    """The counts :func:`stats_to_dict` wrote."""
    import pandas as pd

    from workbench.monitoring._collect import PeriodStats

    first, last = data.get("first"), data.get("last")
    return PeriodStats(
        Summary.from_dict(data["summary"]),
        int(data["rows"]),
        int(data["requests"]),
        np.asarray(data["latency"], dtype=np.int64),
        {(str(c), str(p)): int(n) for c, p, n in data["integrity"]},
        None if first is None else pd.Timestamp(first),
        None if last is None else pd.Timestamp(last),
    )


class MonitorStore:
    """The monitor's folder for one model: its checkpoint, states and ledger.

    Args:
        folder: ``<monitoring_dir>/monitor/<model name>``.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @property
    def checkpoint_path(self) -> Path:
        return self.folder / CHECKPOINT

    def checkpoint(self) -> Checkpoint:
        """The last completed run's checkpoint (an empty one before the first).

        Raises:
            MonitoringError: The file is there but not a checkpoint.
        """
        path = self.checkpoint_path
        if not path.is_file():
            return Checkpoint()
        try:
            return Checkpoint.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise MonitoringError(
                f"The monitor's checkpoint {path} cannot be read ({exc}); it is only ever "
                "replaced whole, so something else wrote it: restore it, or delete the "
                f"folder {self.folder} to monitor the whole log again."
            ) from exc

    def state_folder(self, run: int) -> Path:
        return self.folder / f"state-{run:06d}"

    def part(self, kind: str, run: int) -> Path:
        return self.folder / kind / f"part-{run:06d}.parquet"

    def state(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """The state the checkpoint's run recorded (empty before the first run)."""
        if checkpoint.run == 0:
            return {"versions": {}}
        path = self.state_folder(checkpoint.run) / "state.json"
        if not path.is_file():
            raise MonitoringError(
                f"The monitor's checkpoint names run {checkpoint.run}, whose state {path} "
                f"is missing; delete {self.folder} to monitor the whole log again."
            )
        state: dict[str, Any] = json.loads(path.read_text())
        return state

    def pending_actuals_path(self, run: int) -> Path:
        return self.state_folder(run) / "pending.parquet"

    def write_state(self, run: int, state: dict[str, Any], pending: Any) -> Path:
        """Write run ``run``'s state folder whole (replacing a crashed attempt's)."""
        final = self.state_folder(run)
        staging = self.folder / f".state-{run:06d}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "state.json").write_text(json.dumps(state, allow_nan=True))
        pending.to_parquet(staging / "pending.parquet", index=False)
        shutil.rmtree(final, ignore_errors=True)
        staging.replace(final)
        _fsync_folder(self.folder)
        return final

    def write_part(self, kind: str, run: int, frame: Any) -> str | None:
        """Run ``run``'s ``ledger`` or ``labels`` rows (``None`` when there are none)."""
        if frame is None or not len(frame):
            return None
        path = self.part(kind, run)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
        return path.name

    def commit(self, checkpoint: Checkpoint) -> None:
        """Make ``checkpoint`` the last completed run (one atomic replace), then remove
        the states of runs before it."""
        atomic_write(self.checkpoint_path, json.dumps(checkpoint.to_dict(), indent=1))
        for old in self.folder.glob("state-*"):
            if old.name != self.state_folder(checkpoint.run).name:
                shutil.rmtree(old, ignore_errors=True)

    def clean(self, checkpoint: Checkpoint) -> int:
        """Remove what runs after ``checkpoint`` left (a run killed before its commit);
        returns how many files or folders went."""
        removed = 0
        named = {"ledger": set(checkpoint.ledger), "labels": set(checkpoint.labels)}
        for kind, kept in named.items():
            for part in (self.folder / kind).glob("*part-*"):
                if part.name not in kept:
                    part.unlink(missing_ok=True)
                    removed += 1
        keep = self.state_folder(checkpoint.run).name if checkpoint.run else None
        for old in [*self.folder.glob("state-*"), *self.folder.glob(".state-*")]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)
                removed += 1
        return removed
