"""Project secrets: read from the environment, and kept in the project's private store.

A secret is read from its environment variable (``WORKBENCH_PSEUDONYM_KEY``, say), or
from the file that ``<VARIABLE>_FILE`` names, which is how a Kubernetes Secret mounted as
a volume arrives. Never from ``pyproject.toml``, which is committed (settings refuse it
there), and never kept in :class:`~workbench.Settings`, whose ``repr`` notebooks show.

Where the workbench makes a secret itself (the pseudonym key when none is configured, the
dashboard's user list), it keeps it in the project's private store, ``<home>/secrets/``
(``.workbench/secrets/``): a folder only its owner may enter (mode 0700), of files only
its owner may read or write (0600), each written whole, so that a reader never sees half
of one.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from workbench._exceptions import ConfigurationError
from workbench._settings import SECRETS, Settings, get_settings

__all__ = [
    "PSEUDONYM_KEY_FILE",
    "private_dir",
    "pseudonym_key",
    "read_secret",
    "write_private",
]

logger = logging.getLogger(__name__)

#: The pseudonym key's file in the private store, made when no key is configured.
PSEUDONYM_KEY_FILE = "pseudonym.key"
#: The shortest pseudonym key accepted (characters): 32 hexadecimal digits are 128 bits.
MIN_KEY_CHARACTERS = 32


def read_secret(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret in the environment variable ``variable``, else in the file named by
    ``<variable>_FILE`` (without its trailing newline), else ``None``.

    Raises:
        ConfigurationError: ``<variable>_FILE`` names a file that cannot be read or is
            empty. The message names the variable and the file, never the secret.

    Example:
        >>> read_secret("WORKBENCH_DASHBOARD_TOKEN", environ={})
        >>> read_secret("X", environ={"X": "s3cret"})
        's3cret'
    """
    env = os.environ if environ is None else environ
    if env.get(variable):
        return env[variable]
    named = env.get(f"{variable}_FILE")
    if not named:
        return None
    try:
        text = Path(named).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"{variable}_FILE names {named!r}, which cannot be read ({exc}). Point it at "
            f"the file that holds the secret (a mounted Kubernetes Secret), or set "
            f"{variable} instead."
        ) from None
    if not text:
        raise ConfigurationError(f"{variable}_FILE names {named!r}, which is empty.")
    return text


def private_dir(home: str | os.PathLike[str]) -> Path:
    """The project's private store, ``<home>/secrets``, made if needed; only its owner may
    enter it (0700)."""
    folder = Path(home) / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode passes through the umask, and an existing folder keeps its own
    with contextlib.suppress(OSError):
        folder.chmod(0o700)
    return folder


def write_private(path: str | os.PathLike[str], data: bytes, *, replace: bool = True) -> bool:
    """Write ``data`` to ``path`` whole, readable and writable by its owner only (0600).

    The bytes go to a new file beside ``path`` first (made 0600, so there is no moment at
    which others may read them), which then takes ``path``'s place at once.

    Args:
        path: The file to write.
        data: Its content.
        replace: Replace a file already at ``path``. When ``False`` and one is there, it is
            left as it is (another process made it first) and ``False`` is returned.

    Returns:
        Whether ``path`` now holds ``data``.
    """
    target = Path(path)
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temporary.chmod(0o600)
        if replace:
            temporary.replace(target)
            return True
        try:
            target.hardlink_to(temporary)  # fails if the file exists: the first writer wins
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def pseudonym_key(settings: Settings | None = None) -> bytes:
    """The project's key for pseudonyms of personal values (HMAC-SHA-256).

    From ``WORKBENCH_PSEUDONYM_KEY`` (or the file ``WORKBENCH_PSEUDONYM_KEY_FILE``
    names), else from ``<home>/secrets/pseudonym.key``. Without either, a random key is
    written there (mode 0600) and a warning says so once. Every process of a project, the
    scoring server and the dashboards included, must use the same key to give the same
    pseudonyms; in a cluster, give them all the variable from one Kubernetes Secret.

    Args:
        settings: Whose ``home`` holds the stored key (default: the process's settings).

    Raises:
        ConfigurationError: The configured key is shorter than 32 characters, the stored
            one is damaged, or none is configured and none can be written.
    """
    variable = SECRETS["pseudonym_key"]
    configured = read_secret(variable)
    if configured is not None:
        return _configured_key(configured, variable)
    return _stored_key(str((settings or get_settings()).home))


@functools.lru_cache(maxsize=8)
def _configured_key(value: str, variable: str) -> bytes:
    if len(value) < MIN_KEY_CHARACTERS:  # its length may be said, never the key
        raise ConfigurationError(
            f"{variable} must be at least {MIN_KEY_CHARACTERS} characters long; it has "
            f'{len(value)}. Make one with `python -c "import secrets; '
            f'print(secrets.token_hex(32))"`. A new key gives new pseudonyms '
            f"(SECURITY.md, 'Keyed pseudonyms')."
        )
    return value.encode("utf-8")


@functools.lru_cache(maxsize=8)
def _stored_key(home: str) -> bytes:
    variable = SECRETS["pseudonym_key"]
    path = Path(home) / "secrets" / PSEUDONYM_KEY_FILE
    if not path.exists():
        try:
            made = write_private(
                private_dir(home) / PSEUDONYM_KEY_FILE,
                secrets.token_hex(32).encode("ascii"),
                replace=False,
            )
        except OSError as exc:
            raise ConfigurationError(
                f"No pseudonym key is configured ({variable} is not set) and none could be "
                f"written to {path} ({exc.strerror or exc}). Set {variable} to a random "
                f"string of at least {MIN_KEY_CHARACTERS} characters; in a cluster, from "
                f"a Kubernetes Secret."
            ) from None
        if made:
            logger.warning(
                "No pseudonym key is configured (%s): made a random one in %s, readable "
                "by you only. Personal values are pseudonymised with it: keep it with the "
                "project's data, and give the same key to every process that must give "
                "the same pseudonyms (in a cluster, %s from a Kubernetes Secret).",
                variable,
                path,
                variable,
            )
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_CHARACTERS:
        raise ConfigurationError(
            f"The pseudonym key in {path} is damaged: it holds {len(key)} characters, at "
            f"least {MIN_KEY_CHARACTERS} are needed. Restore it from a backup (a new key "
            f"gives new pseudonyms), or delete the file to make a new one."
        )
    return key
