"""The served model: the registered version behind a URI, loaded, followed and logged.

:class:`ServedModel` is what a scoring app serves: the version loaded now (swapped
whole when the alias moves, so that a request reads all of one version or none of it),
the inference log's writers, the index of logged request ids that ``/actuals`` checks
against, and the prediction thread. The app starts it when it starts and closes it when
it stops; the handlers only read it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from workbench._exceptions import ServingError
from workbench._imports import require
from workbench._settings import Settings, get_settings
from workbench._tracking import mlflow_for
from workbench._versions import VersionArtifacts
from workbench.serving._actuals import RequestIndex
from workbench.serving._batch import Batcher, Loaded
from workbench.serving._log import LOG_COLUMNS, InferenceLogWriter
from workbench.serving._shadow import SHADOW_START_SECONDS, Shadow

__all__ = ["ServedModel", "canary_point", "check_model_uri"]

_log = logging.getLogger(__name__)


def require_registry_uri(model_uri: str) -> None:
    """Refuse anything but a registry or run URI: a file path, ``file://``, a folder or a
    ``..`` segment would load whatever pickle sits there (loading one runs its code)."""
    if not model_uri.startswith(("models:/", "runs:/")) or ".." in model_uri.split("/"):
        raise ServingError(
            f"The model URI must be a registry or run URI (models:/name@alias, "
            f"models:/name/version, runs:/id/model), without '..'; models load only from "
            f"the registry or a run, never from a file path. Got {model_uri!r}."
        )


def resolve_version(mlflow: Any, model_uri: str) -> tuple[str, str]:
    """Registered name and version behind ``models:/name@alias`` or ``models:/name/3``."""
    if not model_uri.startswith("models:/"):
        return model_uri, "-"
    name, _, ref = model_uri.removeprefix("models:/").partition("@")
    client = mlflow.MlflowClient()
    if ref:
        return name, str(client.get_model_version_by_alias(name, ref).version)
    name, _, version = name.partition("/")
    return name, version or "-"


def check_model_uri(model_uri: str, settings: Settings | None = None) -> tuple[str, str]:
    """The registered model and version ``model_uri`` points at now, before a server
    starts on it.

    Raises:
        ServingError: Not a registry or run URI, or no such model, version or alias; the
            message names it and what the registry has instead.
    """
    require_registry_uri(model_uri)
    s = settings or get_settings()
    mlflow = mlflow_for(s)
    try:
        return resolve_version(mlflow, model_uri)
    except mlflow.exceptions.MlflowException as exc:
        from workbench._urls import redact_text, redact_url

        name = model_uri.removeprefix("models:/").partition("@")[0].partition("/")[0]
        client = mlflow.MlflowClient()
        try:
            aliases = sorted(client.get_registered_model(name).aliases)
            known = f"its aliases: {aliases or 'none'}"
        except mlflow.exceptions.MlflowException:
            models = sorted(m.name for m in client.search_registered_models(max_results=100))
            known = f"no model {name!r} is registered; registered models: {models or 'none'}"
        raise ServingError(
            f"Cannot serve {model_uri} from the registry at {redact_url(s.tracking_uri)}: "
            f"{redact_text(str(getattr(exc, 'message', exc)), s.tracking_uri).rstrip('.')} "
            f"({known})."
        ) from None


def _unset(exc: Exception) -> bool:
    """The registry said that the alias is not set (MLflow: "alias ... not found")."""
    return "not found" in str(getattr(exc, "message", exc)).lower()


def check_canary(
    model_uri: str, alias: str, shadow: str | None, canary: str | None, share: float
) -> None:
    """Refuse a canary beside a shadow, without an alias, or with a share outside (0, 1)."""
    if canary is None:
        return
    if shadow is not None:
        raise ServingError(
            f"--canary @{canary} and --shadow @{shadow} together: a challenger either answers "
            f"a share of the requests (canary) or sees every request unanswered (shadow), "
            f"not both. Choose one."
        )
    if not alias:
        raise ServingError(
            f"A canary (@{canary}) is another alias of the served model: serve it by its "
            f"alias, models:/NAME@champion. Got {model_uri!r}."
        )
    if not 0.0 < share < 1.0:  # NaN fails too
        raise ServingError(
            f"--canary-share must be strictly between 0 and 1 (the share of requests "
            f"@{canary} answers; 0.1 is one in ten). Got {share!r}."
        )


def canary_point(key: str) -> float:
    """Where a request key falls in [0, 1): the same key always at the same point (a
    retry with the same ``X-Request-ID`` lands on the same version), keys spread evenly."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def contract_columns(name: str, version: str, settings: Settings) -> tuple[list[str], list[str]]:
    """Columns the version's data contract (stored by ``package_model``) marks personal,
    and its event-time column (logged beside the inputs, for monitoring's periods)."""
    if version == "-":
        return [], []
    contract = VersionArtifacts.of(name, version, settings=settings).contract_path
    if contract is None:
        return [], []
    from workbench.data import Contract

    loaded = Contract.load(contract)
    return loaded.pii_columns, [loaded.event_time] if loaded.event_time else []


def load_model(name: str, settings: Settings, uri: str, version: str) -> Loaded:
    """The version ``version`` of model ``name`` (at ``uri``) loaded to serve: its
    personal columns and its event time (logged beside the inputs) from its contract."""
    pyfunc = require("mlflow.pyfunc")
    model = pyfunc.load_model(uri)
    schema = model.metadata.get_input_schema()
    inputs = schema.input_names() if schema is not None and schema.has_input_names() else []
    clash = sorted(set(inputs) & set(LOG_COLUMNS))
    if clash:
        raise ServingError(
            f"Model inputs {clash} collide with inference-log columns {list(LOG_COLUMNS)}."
        )
    personal, event_time = contract_columns(name, version, settings)
    loaded = Loaded.of(model, version, personal)
    extra = tuple(c for c in event_time if c not in inputs)  # logged, not predicted on
    return dataclasses.replace(loaded, spec=dataclasses.replace(loaded.spec, extra=extra))


def load_registered(name: str, settings: Settings, version: str) -> Loaded:
    """A registered version loaded to serve, MLflow pointed at ``settings`` first: what
    the shadow's process, which starts with MLflow's defaults, is sent to call."""
    mlflow_for(settings)
    return load_model(name, settings, f"models:/{name}/{version}", version)


class ServedModel:
    """One registered model as a server serves it.

    Args:
        model_uri: ``models:/name@alias``, ``models:/name/version`` or ``runs:/id/model``.
        log_dir: Inference log folder or fsspec URL.
        settings: Settings to use.
        flush_seconds: Longest time a logged row waits in memory.
        reload_seconds: For an alias, how often to check where it points (None: only
            on SIGHUP).
        inference_log: Log every prediction and every refusal.
        max_batch_rows: Most rows merged into one model call.
        shadow: Another alias of the model (``challenger``) that gets every request too,
            off the request path, in a process of its own (:class:`~._shadow.Shadow`):
            its predictions are logged under its version in ``<log>/shadow/`` and never
            returned. Followed like the served alias; while it is unset, nothing is
            mirrored.
        canary: Another alias of the model (``challenger``) that answers a share of the
            requests itself, chosen per request by its key (:meth:`pick`); each answer
            is logged under the version that gave it. Not with ``shadow``. Followed like
            the served alias; while it is unset, the served version answers everything.
        canary_share: The share of requests the canary answers, strictly between 0 and 1.

    Attributes (from :meth:`start` on):
        name: The registered model.
        current: The version served now (one assignment when it changes).
        reloads: How often the alias moved and a new version was swapped in.
        writer: The inference log; ``errors`` the refusals' log (None without a log).
        index: The logged request ids, for ``/actuals``.
        batcher: The prediction thread.
    """

    name: str
    current: Loaded
    writer: InferenceLogWriter
    errors: InferenceLogWriter | None
    index: RequestIndex
    batcher: Batcher

    def __init__(
        self,
        model_uri: str,
        *,
        log_dir: str,
        settings: Settings,
        flush_seconds: float = 1.0,
        reload_seconds: float | None = 10.0,
        inference_log: bool = True,
        max_batch_rows: int = 4096,
        shadow: str | None = None,
        canary: str | None = None,
        canary_share: float = 0.1,
    ) -> None:
        require_registry_uri(model_uri)
        self.uri = model_uri
        self.alias = model_uri.removeprefix("models:/").partition("@")[2]
        check_canary(model_uri, self.alias, shadow, canary, canary_share)
        self.canary_alias = canary
        self.canary_share = float(canary_share)
        #: The canary version (None: none), followed like the served alias.
        self.canary: Loaded | None = None
        if shadow is not None and not self.alias:
            raise ServingError(
                f"A shadow (@{shadow}) is another alias of the served model: serve it by "
                f"its alias, models:/NAME@champion. Got {model_uri!r}."
            )
        if shadow is not None and not inference_log:
            raise ServingError(
                f"A shadow (@{shadow}) is only logged, never returned: without the inference "
                f"log it would leave nothing to compare. Serve it with the log on."
            )
        self.shadow_alias = shadow
        #: The shadow's process, its version and counters (None: no shadow).
        self.shadow: Shadow | None = None
        #: What is wrong with an alias followed, by alias (one that was removed, say):
        #: said by ``/health`` until it is right again.
        self.problems: dict[str, str] = {}
        self.folder = log_dir
        self.settings = settings
        self.flush_seconds = flush_seconds
        self.reload_seconds = reload_seconds
        self.inference_log = inference_log
        self.max_batch_rows = max_batch_rows
        self.reloads = 0
        #: Called after a new version is swapped in (the app forgets its OpenAPI document).
        self.on_reload: Callable[[], None] = lambda: None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def version(self) -> str:
        return self.current.version

    def load(self, uri: str, version: str) -> Loaded:
        return load_model(self.name, self.settings, uri, version)

    def start(self) -> None:
        """Load the version, start the log writers, the index and the alias watcher."""
        mlflow = mlflow_for(self.settings)
        self.name, version = resolve_version(mlflow, self.uri)
        # what the log holds, for /actuals: the segments there now are read in the
        # background, the server's own ones are added as they are written
        self.index = RequestIndex(self.folder, before_refresh=lambda: self.writer.flush())
        if self.shadow_alias is not None:  # its process loads the challenger meanwhile
            moved = str(
                mlflow.MlflowClient()
                .get_model_version_by_alias(self.name, self.shadow_alias)
                .version
            )
            self.shadow = Shadow(
                functools.partial(load_registered, self.name, self.settings),
                moved,
                self.folder.rstrip("/") + "/shadow",
                model_name=self.name,
                flush_seconds=self.flush_seconds,
            )
        try:
            self.current = self.load(self.uri, version)
        except BaseException:
            if self.shadow is not None:  # no server: its process goes too
                self.shadow.close(timeout=0)
            raise
        self.writer = InferenceLogWriter(
            self.folder,
            flush_seconds=self.flush_seconds,
            journal=self.inference_log,
            on_write=self._indexed,
        )
        self.errors = (
            InferenceLogWriter(
                self.folder.rstrip("/") + "/errors",
                flush_seconds=self.flush_seconds,
                prefix="errors",
            )
            if self.inference_log
            else None
        )
        self.batcher = Batcher(max_rows=self.max_batch_rows)
        if self.shadow is not None and not self.shadow.wait_ready(SHADOW_START_SECONDS):
            _log.warning(
                "the shadow (version %s) is still loading after %.0f s; serving now, its "
                "requests are queued for it",
                self.shadow.version,
                SHADOW_START_SECONDS,
            )
        if self.canary_alias is not None:
            moved = str(
                mlflow.MlflowClient()
                .get_model_version_by_alias(self.name, self.canary_alias)
                .version
            )
            self.canary = self.load(f"models:/{self.name}/{moved}", moved)
        threading.Thread(target=self.index.refresh, name="actuals-index", daemon=True).start()
        if self.alias:  # polls every reload_seconds (None: only on SIGHUP)
            self._watcher = threading.Thread(
                target=self._watch, args=(mlflow,), name="alias-watch", daemon=True
            )
            self._watcher.start()
            with contextlib.suppress(ValueError, AttributeError):  # main thread, POSIX only
                signal.signal(signal.SIGHUP, lambda *_: self._wake.set())
        # Everything loaded so far (MLflow, scikit-learn, the model) lives as long as the
        # server: moved out of the collector's sight, a full collection stays short
        # instead of pausing every request for a scan of the whole heap.
        gc.collect()
        gc.freeze()
        _log.info("serving %s (version %s), logging to %s", self.name, version, self.folder)

    def close(self) -> None:
        """Stop following the alias, predict what is queued, flush the logs."""
        self._stop.set()
        self._wake.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)
        self.batcher.close()
        self.writer.close()
        if self.errors is not None:
            self.errors.close()
        if self.shadow is not None:  # after the champion's log is safe: it may take a while
            self.shadow.close()
        _log.info("inference log flushed: %d rows", self.writer.rows_written)

    def pick(self, key: str) -> Loaded:
        """The version that answers the request with this key: the canary for the
        ``canary_share`` of keys whose :func:`canary_point` falls below it, else the one
        served (read once: a request reads all of one version)."""
        canary, current = self.canary, self.current
        if canary is not None and canary_point(key) < self.canary_share:
            return canary
        return current

    def mirror(self, request_id: str, data: Any, inputs: dict[str, Any], rows: int) -> None:
        """Send an answered request to the shadow too: returns at once (a list append);
        the shadow predicts and logs it in its own process, or counts it skipped while it
        is too far behind (:class:`~._shadow.Shadow`)."""
        if self.shadow is not None:
            self.shadow.offer(request_id, data, inputs, rows)

    def _indexed(self, path: str, table: Any) -> None:
        if {"request_id", "row_in_request"} <= set(table.column_names):
            rows = table.column("row_in_request").to_numpy()
            self.index.add(table.column("request_id"), rows, path)

    def _moved(self, client: Any, alias: str, role: str) -> str | None:
        """The version ``alias`` points at; None while it is unset (said once in the log
        and by ``/health``, until it is set again). Other failures (the registry
        unreachable) raise: the loaded one stays."""
        exceptions = require("mlflow.exceptions")
        try:
            moved = str(client.get_model_version_by_alias(self.name, alias).version)
        except exceptions.MlflowException as exc:
            if not _unset(exc):
                raise
            if alias not in self.problems:
                _log.warning(
                    "@%s is no longer set on %s: no %s until it is set again; still "
                    "serving @%s (version %s) to every request",
                    alias,
                    self.name,
                    role,
                    self.alias,
                    self.current.version,
                )
            self.problems[alias] = (
                f"@{alias} is not set on {self.name}: no {role} until it is set again; "
                f"@{self.alias} answers every request"
            )
            return None
        if self.problems.pop(alias, None) is not None:
            _log.info("@%s is set again (version %s): the %s resumes", alias, moved, role)
        return moved

    def _challenger(self, client: Any, alias: str, now: Loaded | None, role: str) -> Loaded | None:
        """The version ``alias`` points at, loaded anew only when it moved; None while
        the alias is unset (:meth:`_moved`)."""
        moved = self._moved(client, alias, role)
        if moved is None:
            return None
        if now is not None and moved == now.version:
            return now
        loaded = self.load(f"models:/{self.name}/{moved}", moved)
        _log.info("@%s moved: now the %s is version %s", alias, role, moved)
        return loaded

    def _follow_challengers(self, client: Any) -> None:
        if self.shadow is not None and self.shadow_alias is not None:
            # the shadow's process loads it: the server only says which version
            moved = self._moved(client, self.shadow_alias, "shadow")
            if moved is not None and moved != self.shadow.version:
                _log.info("@%s moved: now the shadow is version %s", self.shadow_alias, moved)
            self.shadow.follow(moved)
        if self.canary_alias is not None:
            self.canary = self._challenger(client, self.canary_alias, self.canary, "canary")

    def _watch(self, mlflow: Any) -> None:
        """Follow the alias: load the version it moves to, then swap it in at once."""
        client = mlflow.MlflowClient()
        while not self._stop.is_set():
            self._wake.wait(self.reload_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:  # the challenger's alias first, on its own: its trouble stops no reload
                self._follow_challengers(client)
            except Exception:
                _log.exception("following the challenger's alias failed; it stays as it was")
            try:
                moved = str(client.get_model_version_by_alias(self.name, self.alias).version)
            except Exception as exc:  # keep serving the loaded version
                self._served_alias_failed(exc)
                continue
            if self.problems.pop(self.alias, None) is not None:
                _log.info("@%s is set again (version %s)", self.alias, moved)
            if moved == self.current.version:
                continue
            try:
                # one assignment: a request reads all of it or none of it
                self.current = self.load(f"models:/{self.name}/{moved}", moved)
            except Exception:  # keep serving the loaded version
                _log.exception(
                    "loading %s version %s (@%s) failed; still serving version %s",
                    self.name,
                    moved,
                    self.alias,
                    self.current.version,
                )
                continue
            self.reloads += 1
            self.on_reload()
            _log.info("@%s moved: now serving %s version %s", self.alias, self.name, moved)

    def _served_alias_failed(self, exc: Exception) -> None:
        """The served alias could not be read: removed (said once, and by ``/health``),
        or the registry unreachable (logged each time); the loaded version serves on."""
        if not _unset(exc):
            _log.error(
                "reading %s@%s failed (%s: %s); still serving version %s",
                self.name,
                self.alias,
                type(exc).__name__,
                exc,
                self.current.version,
            )
            return
        if self.alias not in self.problems:
            _log.warning(
                "@%s is no longer set on %s: still serving version %s until it is set again",
                self.alias,
                self.name,
                self.current.version,
            )
        self.problems[self.alias] = (
            f"@{self.alias} is not set on {self.name}: still serving version "
            f"{self.current.version} until it is set again"
        )
