"""Who may open a dashboard: the ways in, the user list, sessions and failed logins.

``workbench dashboard`` lets visitors in one way at a time (:func:`resolve_access`):

- ``users``: per-user passwords, kept in the project's private store
  (``.workbench/secrets/dashboard-users.json``, mode 0600) as scrypt hashes, each with a
  salt of its own; ``workbench dashboard add-user NAME`` and ``remove-user NAME`` manage
  them;
- ``token``: one shared token, from ``WORKBENCH_DASHBOARD_TOKEN`` in the environment
  (or ``WORKBENCH_DASHBOARD_TOKEN_FILE``), never from the command line;
- ``proxy``: single sign-on by a proxy in front (oauth2-proxy): the user is named by the
  header the ``dashboard_user_header`` setting names, believed only from the addresses of
  ``dashboard_trusted_proxy``;
- ``none``: no login, for a dashboard on 127.0.0.1 (or, told ``--insecure``, beyond).

Nothing here imports Jupyter: the command's user subcommands use it without a server.
The server's side (the login page, the guard on every route) is :mod:`._auth`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from workbench._exceptions import ConfigurationError
from workbench._network import Throttle, is_loopback, retry_after
from workbench._secrets import private_dir, read_secret, write_private
from workbench._settings import SECRETS, Settings

__all__ = [
    "DashboardAccess",
    "Sessions",
    "Throttle",
    "UserStore",
    "is_loopback",
    "resolve_access",
    "retry_after",
    "users_file",
]

USERS_FILE = "dashboard-users.json"
#: A user name: letters, digits and ``._@+-`` (an e-mail address fits), 1 to 64 of them.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
#: An HTTP header name (RFC 9110 token characters).
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
MIN_PASSWORD = 10
MIN_TOKEN = 16
#: scrypt's cost (RFC 7914): 32 MiB and about 50 ms a check on one core of a laptop.
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_MAXMEM = 64 * 1024 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def users_file(settings: Settings) -> Path:
    """Where the dashboard's users are kept: ``<home>/secrets/dashboard-users.json``."""
    return settings.home / "secrets" / USERS_FILE


def check_user_name(name: str) -> str:
    """``name`` when it can name a dashboard user.

    Raises:
        ConfigurationError: It is empty, longer than 64 characters, or holds anything but
            letters, digits and ``._@+-`` (or starts with one of those signs).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"A dashboard user name must be 1 to 64 letters, digits and '._@+-', starting "
            f"with a letter or digit (an e-mail address fits). Got {name!r} instead."
        )
    return name


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32
    )


def hash_password(password: str) -> dict[str, Any]:
    """The stored form of ``password``: scrypt with a fresh 16-byte salt, and its cost."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, **SCRYPT)
    return {"scheme": "scrypt", **SCRYPT, "salt": salt.hex(), "hash": digest.hex()}


def verify_password(record: Mapping[str, Any], password: str) -> bool:
    """Whether ``password`` is the one ``record`` (of :func:`hash_password`) was made of,
    compared in constant time."""
    if record.get("scheme") != "scrypt":
        return False
    cost = (int(record["n"]), int(record["r"]), int(record["p"]))
    digest = _scrypt(password, bytes.fromhex(record["salt"]), *cost)
    return hmac.compare_digest(digest, bytes.fromhex(record["hash"]))


class UserStore:
    """The dashboard's users and their hashed passwords, in one JSON file (mode 0600).

    A running dashboard reads the file again whenever it changes: a user removed, or
    given a new password, is logged out at their next request.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._users: dict[str, dict[str, Any]] = {}
        self._decoy: dict[str, Any] | None = None

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._users = None, {}
            return self._users
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            try:
                document = json.loads(self.path.read_text(encoding="utf-8"))
                users = document["users"]
                assert isinstance(users, dict)
            except (ValueError, KeyError, TypeError, AssertionError) as exc:
                raise ConfigurationError(
                    f"The dashboard's user list {self.path} is damaged ({exc!r}). Restore "
                    f"it, or delete it and add the users again with `workbench dashboard "
                    f"add-user NAME`."
                ) from None
            self._seen, self._users = seen, users
        return self._users

    def names(self) -> list[str]:
        """The users, sorted."""
        return sorted(self._read())

    def _write(self, users: Mapping[str, Any]) -> None:
        private_dir(self.path.parent.parent)
        text = json.dumps({"version": 1, "users": dict(sorted(users.items()))}, indent=1)
        write_private(self.path, text.encode("utf-8"))

    def add(self, name: str, password: str) -> bool:
        """Add ``name`` with ``password`` (hashed), or give them a new one; whether the user
        was there before.

        Raises:
            ConfigurationError: The name breaks :func:`check_user_name`'s rule, or the
                password is shorter than 10 characters.
        """
        check_user_name(name)
        if len(password) < MIN_PASSWORD:
            raise ConfigurationError(
                f"The password of dashboard user {name!r} must be at least {MIN_PASSWORD} "
                f"characters long; it has {len(password)}."
            )
        users = dict(self._read())
        existed = name in users
        users[name] = hash_password(password)
        self._write(users)
        return existed

    def remove(self, name: str) -> bool:
        """Remove ``name``; whether they were there."""
        users = dict(self._read())
        if users.pop(name, None) is None:
            return False
        self._write(users)
        return True

    def fingerprint(self, name: str) -> str | None:
        """A short mark of ``name``'s stored password (``None``: no such user); it changes
        when the password does, and ends the user's sessions."""
        record = self._read().get(name)
        if record is None:
            return None
        return hashlib.sha256(f"{record['salt']}:{record['hash']}".encode()).hexdigest()[:32]

    def check(self, name: str, password: str) -> str | None:
        """The user's :meth:`fingerprint` when ``password`` is theirs, else ``None``.

        An unknown name costs the same scrypt as a known one, so the time taken does not
        tell whether a name exists."""
        record = self._read().get(name)
        if record is None:
            if self._decoy is None:
                self._decoy = hash_password(secrets.token_hex(16))
            verify_password(self._decoy, password)
            return None
        return self.fingerprint(name) if verify_password(record, password) else None


def _networks(value: str, origin: str) -> tuple[Network, ...]:
    found = []
    for part in (p.strip() for p in value.split(",")):
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"The setting 'dashboard_trusted_proxy' (from {origin}) must be IP addresses "
                f"or CIDR blocks separated by commas, such as '127.0.0.1' or "
                f"'10.0.0.0/8'. Got {part!r} in {value!r}."
            ) from None
    return tuple(found)


Method = Literal["users", "token", "proxy", "none"]


@dataclasses.dataclass(frozen=True)
class DashboardAccess:
    """How visitors get into a dashboard (see the module's docstring)."""

    method: Method
    users: UserStore | None = None
    token: str | None = dataclasses.field(default=None, repr=False)
    user_header: str | None = None
    trusted: tuple[Network, ...] = ()

    def describe(self) -> str:
        """One line for the server's output: the way in (never the token)."""
        if self.method == "users":
            assert self.users is not None
            return f"login: per-user passwords ({len(self.users.names())} in {self.users.path})"
        if self.method == "token":
            return f"login: the shared token of {SECRETS['dashboard_token']}"
        if self.method == "proxy":
            sources = ", ".join(str(n) for n in self.trusted)
            return f"login: single sign-on, the user named by {self.user_header} from {sources}"
        return "login: none"


def resolve_access(settings: Settings, environ: Mapping[str, str] | None = None) -> DashboardAccess:
    """The one way in that the project configures (``none`` when it configures none).

    Raises:
        ConfigurationError: More than one way is configured, only half of the proxy's
            settings are, a setting is malformed, or the token is shorter than 16
            characters.
    """
    variable = SECRETS["dashboard_token"]
    token = read_secret(variable, environ)
    store = UserStore(users_file(settings))
    header, proxy = settings.dashboard_user_header, settings.dashboard_trusted_proxy
    configured = {
        "users": f"{len(store.names())} user(s) in {store.path}" if store.names() else None,
        "token": f"{variable} in the environment" if token else None,
        "proxy": "the dashboard_user_header and dashboard_trusted_proxy settings"
        if header or proxy
        else None,
    }
    chosen = [method for method, why in configured.items() if why]
    if len(chosen) > 1:
        raise ConfigurationError(
            "The dashboard is given more than one way in: "
            + "; ".join(f"{m} ({configured[m]})" for m in chosen)
            + ". Keep one: remove the users (`workbench dashboard remove-user NAME`), unset "
            f"{variable}, or unset the proxy settings."
        )
    if not chosen:
        return DashboardAccess("none")
    method: Method = chosen[0]  # type: ignore[assignment]
    if method == "users":
        return DashboardAccess("users", users=store)
    if method == "token":
        assert token is not None
        if len(token) < MIN_TOKEN:
            raise ConfigurationError(
                f"{variable} must be at least {MIN_TOKEN} characters long; it has "
                f'{len(token)}. Make one with `python -c "import secrets; '
                f'print(secrets.token_urlsafe(24))"`.'
            )
        return DashboardAccess("token", token=token)
    sources = settings.sources
    if not (header and proxy):
        missing = "dashboard_trusted_proxy" if header else "dashboard_user_header"
        raise ConfigurationError(
            f"Single sign-on needs both settings: the header that names the user and the "
            f"proxy's address. {missing!r} is not set (WORKBENCH_{missing.upper()}), so the "
            f"dashboard cannot tell the proxy from anyone else."
        )
    if not _HEADER.fullmatch(header):
        raise ConfigurationError(
            f"The setting 'dashboard_user_header' (from {sources.get('dashboard_user_header')}) "
            f"must be an HTTP header name, such as 'X-Forwarded-Email'. Got {header!r}."
        )
    trusted = _networks(proxy, sources.get("dashboard_trusted_proxy", "settings"))
    return DashboardAccess("proxy", user_header=header, trusted=trusted)


@dataclasses.dataclass
class Session:
    user: str
    mark: str  # the user's password fingerprint when the session began
    expires: float


class Sessions:
    """The logged-in sessions, kept by the server: a cookie holds only a random id, and
    logging out ends the session itself, not only the browser's copy of the id."""

    def __init__(self, lifetime: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def start(self, user: str, mark: str) -> str:
        """A new session for ``user``; its id (256 random bits)."""
        now = self._clock()
        for sid in [s for s, v in self._sessions.items() if v.expires <= now]:
            del self._sessions[sid]
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = Session(user, mark, now + self.lifetime)
        return sid

    def get(self, sid: str) -> Session | None:
        """The live session of ``sid``, if any."""
        session = self._sessions.get(sid)
        if session is not None and session.expires <= self._clock():
            del self._sessions[sid]
            return None
        return session

    def end(self, sid: str) -> None:
        self._sessions.pop(sid, None)
