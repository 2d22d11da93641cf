"""Optuna RDB storages of this process, one per database, checked to still be that database.

Opening an RDB storage costs table checks and a connection pool, so each process (the
driver, every Dask worker) keeps one per URL. But a URL does not identify a database:
delete the project's ``.workbench`` folder and tune again, and the same SQLite URL names
a new file while a cached engine still writes to the deleted one; drop and re-create a
PostgreSQL database, and Optuna's trial cache still holds the old study's trials under
the same ids. Both show up as every trial failing with ``UpdateFinishedTrialError``.

So a cached storage is checked before use: a SQLite file must still be the file it
opened (device and inode, which the open connection keeps from being reused), and a
study must carry the identity token (``workbench:uid``) the driver read when it
started, on every backend. A mismatch replaces the storage, so workers recover by
themselves instead of failing until they restart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench._sqlite import fast_sqlite
from workbench.tuning import _optuna

__all__ = ["GRACE_S", "HEARTBEAT_S", "StaleTrials", "quiet_optuna", "storage", "study_uid"]

HEARTBEAT_S = 2
GRACE_S = 8
UID_ATTR = "workbench:uid"


@dataclasses.dataclass
class _Entry:
    storage: Any
    identity: tuple[int, int] | None
    uids: dict[int, str] = dataclasses.field(default_factory=dict)  # study id -> token
    studies: dict[tuple[int, str], Any] = dataclasses.field(default_factory=dict)


_ENTRIES: dict[tuple[str, bool, int], _Entry] = {}
_LOCK = threading.RLock()


def _sqlite_file(url: str) -> str | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return None if not path or path == ":memory:" else path


def _identity(url: str) -> tuple[int, int] | None:
    """A SQLite file's device and inode (``None``: not a file URL, or no file yet)."""
    path = _sqlite_file(url)
    if path is None:
        return None
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def storage(url: str, heartbeat: bool = True) -> Any:
    """The RDB storage of ``url`` in this process (with heartbeats and retry of stale
    trials unless ``heartbeat=False``), replaced when its SQLite file was replaced."""
    key = (url, heartbeat, os.getpid())
    with _LOCK:
        entry = _ENTRIES.get(key)
        if entry is not None and entry.identity != _identity(url):
            _drop(key)
            entry = None
        if entry is None:
            created = _new_storage(url, heartbeat)
            entry = _ENTRIES[key] = _Entry(created, _identity(url))
        return entry.storage


def _drop(key: tuple[str, bool, int]) -> None:
    entry = _ENTRIES.pop(key, None)
    if entry is not None:  # its connections may hold a deleted file open
        with contextlib.suppress(Exception):
            entry.storage.remove_session()
            entry.storage.engine.dispose()


def _new_storage(url: str, heartbeat: bool) -> Any:
    import optuna

    quiet_optuna()
    kwargs: dict[str, Any] = {}
    if heartbeat:
        kwargs = {
            "heartbeat_interval": HEARTBEAT_S,
            "grace_period": GRACE_S,
            "heartbeat_stale_trial_callback": StaleTrials(),
        }
    engine: dict[str, Any] = {}
    if _sqlite_file(url) is not None:
        engine = {"connect_args": {"timeout": 60}}
        fast_sqlite(url)
    return optuna.storages.RDBStorage(url, engine_kwargs=engine, **kwargs)


def study_uid(rdb: Any, study_id: int) -> str:
    """The study's identity token, written when first asked for (a study created anew
    under the same name and id, in a re-created database, gets another one)."""
    uid = rdb.get_study_system_attrs(study_id).get(UID_ATTR)
    if uid is None:
        uid = uuid.uuid4().hex
        rdb.set_study_system_attr(study_id, UID_ATTR, uid)
    return str(uid)


def worker_study(url: str, name: str, study_id: int, uid: str) -> tuple[Any, Any]:
    """The storage and the ``optuna.Study`` for a trial of study ``uid``, loaded once per
    process and database. A study id seen before with another token means the database
    behind the URL was re-created: its storage (and Optuna's trial cache in it) goes."""
    import optuna

    key = (url, True, os.getpid())
    with _LOCK:
        rdb = storage(url)
        entry = _ENTRIES[key]
        if entry.uids.get(study_id, uid) != uid:
            _drop(key)
            rdb = storage(url)
            entry = _ENTRIES[key]
        entry.uids[study_id] = uid
        study = entry.studies.get((study_id, uid))
        if study is None:
            study = optuna.load_study(study_name=name, storage=rdb)
            entry.studies[(study_id, uid)] = study
        return rdb, study


class StaleTrials:
    """What a storage does with a trial whose heartbeat stopped (once it has failed it):
    re-queue its parameters as a new trial (at most 3 times, as Optuna's
    ``RetryHeartbeatStaleTrialCallback``) and tell whoever watches the study, so the
    process that failed the trial is the one that logs it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[str, list[list[int]]] = {}

    def __call__(self, study: Any, trial: Any) -> None:
        with self._lock:
            for failed in self._watchers.get(study.study_name, []):
                failed.append(_optuna.trial_id(trial))
        self.retry(study, trial)

    @staticmethod
    def retry(study: Any, trial: Any) -> None:
        """Queue the failed ``trial``'s parameters again (its third retry is the last)."""
        import optuna

        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)(study, trial)

    @contextlib.contextmanager
    def watch(self, study_name: str) -> Iterator[list[int]]:
        """Ids of the trials of ``study_name`` this process fails as stale, while open."""
        failed: list[int] = []
        with self._lock:
            self._watchers.setdefault(study_name, []).append(failed)
        try:
            yield failed
        finally:
            with self._lock:
                self._watchers[study_name].remove(failed)


def quiet_optuna() -> None:
    """Heartbeats and stale-trial retry are 'experimental' in Optuna; we rely on them on
    purpose, so their warnings would only be noise in every notebook."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # the driver creates trials and tells; workers beat for their trials themselves
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
