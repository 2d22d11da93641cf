"""The scoring server's callers: named bearer tokens, each revocable by its name.

A team with several callers gives each its own token, made by
``workbench serve add-token NAME`` (printed once; only its SHA-256 is kept) and revoked
by ``workbench serve revoke-token NAME``. The list lives in the project's private store,
``.workbench/secrets/serve-tokens.json`` (folder 0700, file 0600); in a cluster the same
JSON arrives from a Kubernetes Secret as ``WORKBENCH_SERVE_TOKENS`` (or the file
``WORKBENCH_SERVE_TOKENS_FILE`` names). A running server reads the file again when it
changes, so a revoked token is refused within a second, without a restart.

The one shared ``WORKBENCH_SERVE_TOKEN`` still works beside them, as the caller named
``shared``. The inference log records the caller's name (``client``), never a token.

A token is 256 random bits, so a plain SHA-256 of it cannot be reversed by guessing:
unlike a password it needs no slow hash. Each presented token is hashed once and
compared with every stored digest in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench._exceptions import ConfigurationError
from workbench._secrets import private_dir, read_secret, write_private

__all__ = [
    "SHARED",
    "TOKENS_FILE",
    "TOKENS_VARIABLE",
    "Callers",
    "TokenStore",
    "check_client_name",
]

_log = logging.getLogger(__name__)

TOKENS_FILE = "serve-tokens.json"
#: The tokens' JSON from the environment or a mounted Secret (``..._FILE``).
TOKENS_VARIABLE = "WORKBENCH_SERVE_TOKENS"
#: The caller of the one shared ``WORKBENCH_SERVE_TOKEN``.
SHARED = "shared"
#: A caller's name: letters, digits and ``._@+-``, 1 to 64 of them.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
#: How often (seconds) a running server looks whether the tokens file changed.
RECHECK_SECONDS = 1.0


def check_client_name(name: str) -> str:
    """``name`` if it may name a caller, else a :class:`ConfigurationError` with the rule."""
    if not _NAME.fullmatch(name) or name == SHARED:
        raise ConfigurationError(
            f"A caller's name must be 1 to 64 letters, digits and '._@+-', starting with a "
            f"letter or digit, and not {SHARED!r} (the shared token's). Got {name!r}."
        )
    return name


def _digest(token: str | bytes) -> bytes:
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).digest()


def _parse(text: str, origin: str) -> dict[str, dict[str, Any]]:
    try:
        tokens = json.loads(text)["tokens"]
        assert isinstance(tokens, dict)
        for name, record in tokens.items():
            assert isinstance(record, dict) and len(bytes.fromhex(record["sha256"])) == 32
            check_client_name(name)
    except (ValueError, KeyError, TypeError, AssertionError, ConfigurationError) as exc:
        raise ConfigurationError(
            f"The scoring server's tokens in {origin} are damaged ({exc!r}): they must be "
            f'{{"tokens": {{NAME: {{"sha256": HEX}}}}}}, as `workbench serve add-token NAME` '
            f"writes them. Restore the file, or delete it and add the tokens again."
        ) from None
    return tokens


class TokenStore:
    """The named tokens in the project's private store (``<home>/secrets/``)."""

    def __init__(self, home: str | Path) -> None:
        self.home = Path(home)
        self.path = self.home / "secrets" / TOKENS_FILE

    def read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        return _parse(self.path.read_text(encoding="utf-8"), str(self.path))

    def names(self) -> list[str]:
        return sorted(self.read())

    def add(self, name: str) -> tuple[str, bool]:
        """A new random token for ``name`` (replacing theirs, if they had one), and whether
        they had one. Only the token's SHA-256 is stored: show the token to its caller now.
        """
        check_client_name(name)
        tokens = self.read()
        existed = name in tokens
        token = secrets.token_urlsafe(32)
        tokens[name] = {
            "sha256": _digest(token).hex(),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        self._write(tokens)
        return token, existed

    def revoke(self, name: str) -> bool:
        """Remove ``name``'s token; whether there was one."""
        tokens = self.read()
        if tokens.pop(name, None) is None:
            return False
        self._write(tokens)
        return True

    def _write(self, tokens: Mapping[str, Any]) -> None:
        private_dir(self.home)
        text = json.dumps({"version": 1, "tokens": dict(sorted(tokens.items()))}, indent=1)
        write_private(self.path, text.encode("utf-8"))


class Callers:
    """Who a presented bearer token names: the shared token's caller, a named one, or
    nobody. Named tokens come from ``WORKBENCH_SERVE_TOKENS``, else from the file
    ``WORKBENCH_SERVE_TOKENS_FILE`` names (a mounted Kubernetes Secret), else from the
    project's tokens file; a file is read again when it changes.

    Args:
        shared: The shared ``WORKBENCH_SERVE_TOKEN`` (None: none).
        home: The project's ``.workbench`` folder, whose private store may hold tokens.
        environ: The environment (default: the process's).
    """

    def __init__(
        self,
        shared: str | None,
        home: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._shared = _digest(shared) if shared else None
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._named: list[tuple[str, bytes]] = []
        env = os.environ if environ is None else environ
        self._path: Path | None = None
        if env.get(TOKENS_VARIABLE):
            self._named = self._records(_parse(env[TOKENS_VARIABLE], TOKENS_VARIABLE))
        elif env.get(f"{TOKENS_VARIABLE}_FILE"):  # a mounted Secret: read again as it changes
            read_secret(TOKENS_VARIABLE, env)  # a missing or empty file: a clear error
            self._path = Path(env[f"{TOKENS_VARIABLE}_FILE"])
            self._reload(strict=True)
        elif home is not None and TokenStore(home).path.exists():
            self._path = TokenStore(home).path
            self._reload(strict=True)
        # decided once: a server started open stays open, one started with tokens refuses
        # every request once they are all revoked
        self.required = self._shared is not None or self._path is not None or bool(self._named)

    @staticmethod
    def _records(tokens: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, bytes]]:
        return [(name, bytes.fromhex(r["sha256"])) for name, r in sorted(tokens.items())]

    def names(self) -> list[str]:
        self._reload()
        return ([SHARED] if self._shared is not None else []) + [n for n, _ in self._named]

    def _reload(self, *, strict: bool = False) -> None:
        """Read the tokens file again if it changed (looked at once a second at most).
        A file damaged while the server runs is reported and the tokens read before are
        kept (``strict``: at start, it is an error)."""
        if self._path is None:
            return
        now = time.monotonic()
        if not strict and now - self._checked < RECHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            try:
                stat = self._path.stat()
            except FileNotFoundError:
                self._seen, self._named = None, []
                return
            seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if seen == self._seen:
                return
            try:
                text = self._path.read_text(encoding="utf-8")
                self._named = self._records(_parse(text, str(self._path)))
            except (OSError, ConfigurationError) as exc:
                if strict:
                    raise
                _log.error("%s; still using the tokens read before", exc)
            self._seen = seen

    def identify(self, token: bytes) -> str | None:
        """The caller whose token this is, or None. Every stored digest is compared, each
        in constant time, so the time taken does not say which one came close."""
        self._reload()
        presented = _digest(token)
        found = None
        if self._shared is not None and hmac.compare_digest(presented, self._shared):
            found = SHARED
        for name, digest in self._named:
            if hmac.compare_digest(presented, digest) and found is None:
                found = name
        return found
