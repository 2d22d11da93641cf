"""Settings, resolved once per process.

Each setting is looked up in this order, and the first source that has it wins:

1. an environment variable ``WORKBENCH_<NAME>`` (and, for ``tracking_uri``, the standard
   ``MLFLOW_TRACKING_URI``, which ranks after ``WORKBENCH_TRACKING_URI``);
2. the ``[tool.workbench]`` table of the project's ``pyproject.toml``;
3. a default under the project's ``.workbench/`` folder, which needs no server.

The project folder is ``WORKBENCH_PROJECT_DIR`` when set, else the nearest folder at or
above the working directory that holds a ``pyproject.toml`` (as git finds ``.git``; see
:func:`find_project_dir`), else the working directory. The ``workbench`` command does not
take that last fallback: outside any project it says so and creates nothing. Relative
paths are taken relative to the project folder. Nothing here touches the network.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench._exceptions import ConfigurationError
from workbench._urls import redacted_repr

__all__ = ["Settings", "find_project_dir", "get_settings", "reset_settings", "resolve_settings"]

_ENV_PREFIX = "WORKBENCH_"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the workbench keeps its state and which services it talks to.

    Attributes:
        project_dir: The project's root folder.
        home: The folder for embedded stores (default ``<project>/.workbench``).
        tracking_uri: MLflow tracking and registry URI (default: SQLite under ``home``).
        artifact_dir: Where MLflow stores artifacts of new experiments.
        optuna_storage: Optuna RDB storage URL (default: SQLite under ``home``).
        feature_store_dir: Offline and online feature store folder.
        inference_log_dir: Folder (or fsspec URL) of the scoring server's inference log.
        monitoring_dir: Where drift and quality snapshots are saved.
        data_dir: The Cookiecutter-style ``data`` folder (raw, interim, processed, external).
        experiment_name: MLflow experiment for training runs.
        model_name: Registered model name used by the demo and the CLI defaults.
        host: Interface the servers bind to; loopback unless told otherwise.
        serve_port: Port of ``workbench serve``.
        dashboard_port: Port of ``workbench dashboard``.
        lab_port: Port of ``workbench lab``.
        dask_scheduler: A scheduler address (``tcp://...``); ``None`` starts a LocalCluster.
        mlflow_ui_url: Where people open the MLflow UI (``http://mlflow.example.org``);
            apps and cards link to it. ``None``: the tracking server's address when
            ``tracking_uri`` is one, else no link (nothing serves a UI for a SQLite file
            until someone starts ``mlflow ui``).
        dashboard_user_header: With ``dashboard_trusted_proxy``: the request header in
            which a single sign-on proxy (oauth2-proxy) names the signed-in user; the
            dashboard then trusts it from that proxy only and has no login page of its own.
        dashboard_trusted_proxy: The address(es) of that proxy, IPs or CIDR blocks
            separated by commas; a request from any other address is refused (403).
        dashboard_max_header_kb: The most a request's headers may take (KiB); more and the
            dashboard closes the connection.
        dashboard_idle_timeout: Seconds a connection may take to send its request headers,
            and may stay idle between requests, before the dashboard closes it.
        dashboard_body_timeout: Seconds a request may take to send its body.
        serve_max_header_kb: The most a request's line and headers may take (KiB) at
            ``workbench serve``; more gets 431 and the connection is closed.
        serve_header_timeout: Seconds a connection to ``workbench serve`` may take to send
            a request's headers (from when it opens, or from the previous answer).
        serve_idle_timeout: Seconds a keep-alive connection to ``workbench serve`` may stay
            idle between requests.
        country: Country code for national holidays (``holidays`` package).
        sources: For each setting, where its value came from (``env:NAME``, ``pyproject``,
            ``default``).
    """

    project_dir: Path
    home: Path
    tracking_uri: str
    artifact_dir: Path
    optuna_storage: str
    feature_store_dir: Path
    inference_log_dir: str
    monitoring_dir: Path
    data_dir: Path
    experiment_name: str = "workbench"
    model_name: str = "electricity-consumption"
    host: str = "127.0.0.1"
    serve_port: int = 5005
    dashboard_port: int = 8866
    lab_port: int = 8888
    dask_scheduler: str | None = None
    mlflow_ui_url: str | None = None
    dashboard_user_header: str | None = None
    dashboard_trusted_proxy: str | None = None
    dashboard_max_header_kb: int = 32
    dashboard_idle_timeout: int = 30
    dashboard_body_timeout: int = 30
    serve_max_header_kb: int = 32
    serve_header_timeout: int = 10
    serve_idle_timeout: int = 5
    country: str = "IT"
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def __repr__(self) -> str:  # a notebook shows it: no password of a service URL
        return redacted_repr(self, _URL_FIELDS)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in ("sources",)}
_PATH_FIELDS = {
    "home",
    "artifact_dir",
    "feature_store_dir",
    "monitoring_dir",
    "data_dir",
}
_INT_FIELDS = {"serve_port", "dashboard_port", "lab_port"}
_COUNT_FIELDS = {
    "dashboard_max_header_kb",
    "dashboard_idle_timeout",
    "dashboard_body_timeout",
    "serve_max_header_kb",
    "serve_header_timeout",
    "serve_idle_timeout",
}
_OPTIONAL_FIELDS = {
    "dask_scheduler",
    "dashboard_user_header",
    "dashboard_trusted_proxy",
    "mlflow_ui_url",
}
#: Secrets the workbench reads, each from its environment variable only (or, for a
#: Kubernetes Secret mounted as a file, ``<VARIABLE>_FILE``): never from pyproject.toml,
#: which is committed, and never kept in :class:`Settings`, which notebooks display.
SECRETS = {
    "pseudonym_key": "WORKBENCH_PSEUDONYM_KEY",
    "dashboard_token": "WORKBENCH_DASHBOARD_TOKEN",
    "serve_token": "WORKBENCH_SERVE_TOKEN",
    "serve_tokens": "WORKBENCH_SERVE_TOKENS",
}
_URL_FIELDS = {
    "tracking_uri",
    "optuna_storage",
    "inference_log_dir",
    "dask_scheduler",
    "mlflow_ui_url",
}


def find_project_dir(
    start: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The project folder, or ``None`` outside any project.

    ``WORKBENCH_PROJECT_DIR`` when set; else the nearest folder at or above ``start`` (the
    working directory) that holds a ``pyproject.toml``.

    Args:
        start: Where to start looking (default: the working directory).
        environ: The environment to read (``os.environ`` when ``None``).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp()).resolve()
        >>> _ = (root / "pyproject.toml").write_text("[project]\\nname = 'p'\\n")
        >>> (root / "notebooks").mkdir()
        >>> find_project_dir(root / "notebooks", environ={}) == root
        True
    """
    env = os.environ if environ is None else environ
    if env.get(_ENV_PREFIX + "PROJECT_DIR"):
        return Path(env[_ENV_PREFIX + "PROJECT_DIR"]).expanduser().resolve()
    here = Path.cwd() if start is None else Path(start)
    here = here.expanduser().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def _read_pyproject(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}. Fix the file.") from exc
    table = doc.get("tool", {}).get("workbench", {})
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"[tool.workbench] in {path} must be a table. Got {type(table).__name__}."
        )
    for name, variable in SECRETS.items():
        if name in table:  # the value is not repeated: it may be read by whoever sees this
            raise ConfigurationError(
                f"[tool.workbench] in {path} holds {name!r}, a secret. pyproject.toml is "
                f"committed and read by anyone with the repository, so the workbench never "
                f"reads a secret from it. Remove the line (and treat its value as known to "
                f"others: make a new one), then set {variable} in the environment; in a "
                f"cluster, from a Kubernetes Secret."
            )
    # tables read by the part they configure, not settings: [tool.workbench.alerts]
    table = {k: v for k, v in table.items() if k not in ("alerts",)}
    unknown = sorted(set(table) - (set(_FIELDS) - {"project_dir"}))
    if unknown:
        raise ConfigurationError(
            f"[tool.workbench] in {path} has unknown setting(s) {unknown}. "
            f"Known settings: {sorted(set(_FIELDS) - {'project_dir'})}."
        )
    return dict(table)


def _sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def _convert(name: str, value: Any, origin: str, project_dir: Path) -> Any:
    if name in _INT_FIELDS:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"The setting {name!r} (from {origin}) must be an integer port. "
                f"Got {value!r} instead."
            ) from None
        if not 0 < number < 65536:
            raise ConfigurationError(
                f"The setting {name!r} (from {origin}) must be in [1, 65535]. Got {number}."
            )
        return number
    if name in _COUNT_FIELDS:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if isinstance(value, bool) or number < 1 or str(number) != str(value).strip():
            raise ConfigurationError(
                f"The setting {name!r} (from {origin}) must be a whole number of at least 1. "
                f"Got {value!r} instead."
            )
        return number
    if not isinstance(value, str):
        raise ConfigurationError(
            f"The setting {name!r} (from {origin}) must be a string. Got {value!r} instead."
        )
    if name in _PATH_FIELDS:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (project_dir / path)
    if name in _OPTIONAL_FIELDS and value.strip().lower() in (
        ("", "local", "none") if name == "dask_scheduler" else ("", "none")
    ):
        return None
    return value


def resolve_settings(
    project_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings from the environment, the project's pyproject and defaults.

    Args:
        project_dir: The project folder; when ``None`` it is found as described above.
        environ: The environment to read (``os.environ`` when ``None``).

    Returns:
        A frozen :class:`Settings`.

    Raises:
        ConfigurationError: A value has the wrong type or ``[tool.workbench]`` has an
            unknown key.

    Example:
        >>> s = resolve_settings("/tmp/proj", environ={"WORKBENCH_SERVE_PORT": "7000"})
        >>> s.serve_port, s.sources["serve_port"]
        (7000, 'env:WORKBENCH_SERVE_PORT')
    """
    env = os.environ if environ is None else environ
    if project_dir is not None:
        root, root_source = Path(project_dir).expanduser().resolve(), "argument"
    elif env.get(_ENV_PREFIX + "PROJECT_DIR"):
        root = Path(env[_ENV_PREFIX + "PROJECT_DIR"]).expanduser().resolve()
        root_source = f"env:{_ENV_PREFIX}PROJECT_DIR"
    else:
        discovered = find_project_dir(environ=env)
        root, root_source = (
            (discovered, "discovered") if discovered else (Path.cwd().resolve(), "default")
        )
    table = _read_pyproject(root)

    values: dict[str, Any] = {"project_dir": root}
    sources: dict[str, str] = {"project_dir": root_source}

    def pick(name: str) -> tuple[Any, str] | None:
        env_names = [_ENV_PREFIX + name.upper()]
        if name == "tracking_uri":
            env_names.append("MLFLOW_TRACKING_URI")
        for env_name in env_names:
            if env.get(env_name):
                return env[env_name], f"env:{env_name}"
        if name in table:
            return table[name], "pyproject"
        return None

    # `home` first: the other defaults live under it.
    order = ["home"] + [n for n in _FIELDS if n not in ("project_dir", "home")]
    for name in order:
        found = pick(name)
        if found is not None:
            raw, origin = found
            values[name] = _convert(name, raw, origin, root)
            sources[name] = origin
            continue
        home: Path = values.get("home", root / ".workbench")
        defaults: dict[str, Any] = {
            "home": root / ".workbench",
            "tracking_uri": _sqlite_uri(home / "mlflow.db"),
            "artifact_dir": home / "mlartifacts",
            "optuna_storage": _sqlite_uri(home / "optuna.db"),
            "feature_store_dir": home / "features",
            "inference_log_dir": str(home / "inference_log"),
            "monitoring_dir": home / "monitoring",
            "data_dir": root / "data",
        }
        if name in defaults:
            values[name] = defaults[name]
        else:
            values[name] = _FIELDS[name].default
        sources[name] = "default"
    return Settings(**values, sources=sources)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, resolved on first use and then kept.

    Call :func:`reset_settings` after changing the environment (tests do).
    """
    return resolve_settings()


def reset_settings() -> None:
    """Forget the resolved settings so the next :func:`get_settings` resolves again."""
    get_settings.cache_clear()
