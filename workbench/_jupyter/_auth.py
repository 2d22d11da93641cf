"""The dashboard's login, on Jupyter Server's identity provider API.

:class:`DashboardIdentityProvider` is the Voilà server's identity provider: its
``get_user`` finds the visitor's session (a random id in a signed cookie, the session
itself kept by the server) or, behind a single sign-on proxy, reads the user from the
proxy's header when the request comes from the proxy's address and from nowhere else.
Its handlers are the login page and logout.

:func:`guard` puts a check in front of every other route of the server: Voilà's page, its
kernels' websockets and REST routes, its static, template, extension and file routes.
Without a user, a page visit is sent to the login page and anything else gets 403. The
login page needs nothing else from the server (its style is inline, its icon a data URL),
so it and logout are all that is served before login.

The session cookie is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no other site's
request carries it, but a link from an e-mail still opens the dashboard) and, when the
server speaks TLS, ``Secure``. Failed logins are throttled per user name (5 free tries)
and per client address (20): then each try waits 1, 2, 4 ... seconds, up to 15 minutes,
and the server answers 429 with ``Retry-After`` without looking at the password. A wrong
name and a wrong password get the same answer, in the same time.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import re
from collections.abc import Sequence
from typing import Any, cast

from jupyter_server.auth import IdentityProvider, User
from tornado import web
from tornado.escape import url_escape
from tornado.ioloop import IOLoop

from workbench._jupyter._access import DashboardAccess, Sessions, Throttle, retry_after
from workbench.presentation import FONT, PALETTE, STATUS_COLORS

__all__ = ["DashboardIdentityProvider", "LoginHandler", "LogoutHandler", "guard"]

#: How long a login lasts.
SESSION_HOURS = 12
#: Failed logins allowed before the throttle, per kind of key.
FREE_TRIES = {"name": 5, "address": 20}
#: Where oauth2-proxy signs a user out (logout in single sign-on sends the browser there).
PROXY_SIGN_OUT = "/oauth2/sign_out"
WRONG = "The name or password is not right."
WRONG_TOKEN = "The token is not right."

_ANONYMOUS = User(username="anonymous", name="Anonymous", display_name="Anonymous")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


class DashboardIdentityProvider(IdentityProvider):
    """Jupyter Server's identity provider for a dashboard with :class:`DashboardAccess`.

    There is no token in URLs (``token`` is empty): a shared token is typed on the login
    page like a password, so it never lands in a browser's history or a proxy's log.
    """

    def __init__(self, access: DashboardAccess, title: str = "Dashboard", **kwargs: Any) -> None:
        kwargs["token"] = ""
        super().__init__(**kwargs)
        self.access = access
        self.title = title
        self.sessions = Sessions(SESSION_HOURS * 3600.0)
        self.throttle = Throttle(FREE_TRIES)
        self._token_mark = (
            hashlib.sha256(access.token.encode()).hexdigest()[:32] if access.token else ""
        )

    # ------------------------------------------------------------ what the server offers

    @property
    def auth_enabled(self) -> bool:
        return self.access.method != "none"

    @property
    def login_available(self) -> bool:
        return self.access.method in ("users", "token")

    @property
    def logout_available(self) -> bool:
        return self.access.method != "none"

    def get_handlers(self) -> list[tuple[str, object]]:
        handlers: list[tuple[str, object]] = []
        if self.login_available:
            handlers.append((r"/login", LoginHandler))
        if self.logout_available:
            handlers.append((r"/logout", LogoutHandler))
        return handlers

    # ------------------------------------------------------------ who is asking

    def get_user(self, handler: web.RequestHandler) -> User | None:
        """The visitor's user, or ``None`` (not logged in, or not from the proxy)."""
        method = self.access.method
        if method == "none":
            return _ANONYMOUS
        if method == "proxy":
            return self._proxy_user(handler)
        sid = self._session_id(handler)
        session = self.sessions.get(sid) if sid else None
        if session is None or sid is None:
            return None
        if self.mark(session.user) != session.mark:  # removed, or a new password
            self.sessions.end(sid)
            return None
        return User(username=session.user, name=session.user, display_name=session.user)

    def from_trusted_proxy(self, handler: web.RequestHandler) -> bool:
        """Whether the request's TCP peer is a trusted proxy. The peer, not a forwarded-for
        header: the server is started without ``xheaders``, so ``remote_ip`` is the
        socket's own."""
        try:
            peer = ipaddress.ip_address(handler.request.remote_ip or "")
        except ValueError:
            return False
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
            peer = peer.ipv4_mapped
        return any(peer in network for network in self.access.trusted)

    def _proxy_user(self, handler: web.RequestHandler) -> User | None:
        if not self.from_trusted_proxy(handler):
            return None
        assert self.access.user_header is not None
        name = handler.request.headers.get(self.access.user_header, "").strip()
        if not name or len(name) > 256:
            return None
        return User(username=name, name=name, display_name=name)

    def mark(self, user: str) -> str | None:
        """What a session of ``user`` must still match: their password's fingerprint, or
        the token's."""
        if self.access.method == "users":
            assert self.access.users is not None
            return self.access.users.fingerprint(user)
        return self._token_mark

    def check(self, name: str, password: str) -> str | None:
        """The mark of a session for these credentials, or ``None`` when they are wrong."""
        if self.access.method == "users":
            assert self.access.users is not None
            return self.access.users.check(name, password)
        assert self.access.token is not None
        given = hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest()
        known = hashlib.sha256(self.access.token.encode()).digest()
        return self._token_mark if hmac.compare_digest(given, known) else None

    # ------------------------------------------------------------ the cookie

    def get_cookie_name(self, handler: web.RequestHandler) -> str:
        """One cookie per server (host and port), so two dashboards do not share it."""
        return "workbench-" + _NOT_ALNUM.sub("-", handler.request.host).strip("-")

    def _session_id(self, handler: web.RequestHandler) -> str | None:
        value = handler.get_secure_cookie(
            self.get_cookie_name(handler), max_age_days=SESSION_HOURS / 24
        )
        return value.decode("ascii", "replace") if value else None

    def _cookie_flags(self, handler: web.RequestHandler) -> dict[str, Any]:
        secure = handler.request.protocol == "https"
        return {"path": "/", "httponly": True, "samesite": "Lax", "secure": secure}

    def set_login_cookie(self, handler: web.RequestHandler, user: User | str) -> None:
        """Set the session cookie; ``user`` is the session's id (see LoginHandler)."""
        sid = user if isinstance(user, str) else user.username
        handler.set_secure_cookie(
            self.get_cookie_name(handler),
            sid,
            expires_days=SESSION_HOURS / 24,
            **self._cookie_flags(handler),
        )

    def clear_login_cookie(self, handler: web.RequestHandler) -> None:
        sid = self._session_id(handler)
        if sid:
            self.sessions.end(sid)
        handler.clear_cookie(self.get_cookie_name(handler), **self._cookie_flags(handler))

    # ------------------------------------------------------------ refusals

    def refuse(self, handler: web.RequestHandler, *, page: bool) -> None:
        """Answer a request without a user: a page visit goes to the login page (a
        dashboard with a login page), anything else gets 403."""
        if page and self.login_available and handler.request.method in ("GET", "HEAD"):
            handler.redirect("/login?next=" + url_escape(handler.request.uri or "/"))
            return
        raise web.HTTPError(403)


# ---------------------------------------------------------------- the guard


def guard(handlers: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every route of ``handlers`` behind the identity provider's check, but login and
    logout."""
    guarded = []
    for rule in handlers:
        pattern, handler_class, *rest = rule
        if isinstance(handler_class, type) and not issubclass(
            handler_class, (LoginHandler, LogoutHandler)
        ):
            handler_class = _guarded(cast("type[web.RequestHandler]", handler_class))
        guarded.append((pattern, handler_class, *rest))
    return guarded


_GUARDED: dict[type[web.RequestHandler], type[web.RequestHandler]] = {}


def _guarded(handler_class: type[web.RequestHandler]) -> type[web.RequestHandler]:
    """``handler_class`` with the check in front (one subclass per class)."""
    if handler_class in _GUARDED:
        return _GUARDED[handler_class]
    from voila.handler import BaseVoilaHandler  # type: ignore[import-untyped]

    page = issubclass(handler_class, BaseVoilaHandler)

    class Guarded(handler_class):  # type: ignore[valid-type,misc]
        async def prepare(self) -> None:
            provider: DashboardIdentityProvider = self.settings["identity_provider"]
            if provider.get_user(self) is None:
                provider.refuse(self, page=page)
                return
            result = super().prepare()
            if result is not None:
                await result

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{handler_class.__name__}"
    _GUARDED[handler_class] = Guarded
    return Guarded


# ---------------------------------------------------------------- login and logout


class _PageHandler(web.RequestHandler):
    """A page of the login: no cache, no framing, nothing loaded from anywhere."""

    @property
    def provider(self) -> DashboardIdentityProvider:
        provider: DashboardIdentityProvider = self.settings["identity_provider"]
        return provider

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def next_path(self) -> str:
        """Where to go after login: a path of this server, never another site."""
        target = self.get_argument("next", "/")
        if not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
            return "/"
        return target

    def page(self, body: str) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_page(html.escape(self.provider.title), body))


class LoginHandler(_PageHandler):
    """The login page (GET) and the login itself (POST)."""

    def get(self) -> None:
        if self.provider.get_user(self) is not None:
            self.redirect(self.next_path())
            return
        self.form()

    async def post(self) -> None:
        self.check_xsrf_cookie()  # a login form posted from another site is refused
        provider = self.provider
        users = provider.access.method == "users"
        name = self.get_body_argument("name", "").strip() if users else ""
        password = self.get_body_argument("password", "")
        keys = [("address", self.request.remote_ip or "")]
        if users:
            keys.append(("name", name.casefold()))
        wait = provider.throttle.wait(keys)
        if wait > 0:
            seconds = retry_after(wait)
            self.set_status(429)
            self.set_header("Retry-After", str(seconds))
            self.form(f"Too many failed attempts. Try again in {seconds} s.", name)
            return
        provider.throttle.failed(keys)  # taken back below if the password is right
        mark = await IOLoop.current().run_in_executor(None, provider.check, name, password)
        if mark is None:
            provider.log.warning(
                "dashboard: failed login%s from %s",
                f" for {name!r}" if users else "",
                self.request.remote_ip,
            )
            self.set_status(401)
            self.form(WRONG if users else WRONG_TOKEN, name)
            return
        provider.throttle.succeeded(keys)
        provider.set_login_cookie(self, provider.sessions.start(name or "token", mark))
        self.redirect(self.next_path())

    def form(self, message: str = "", name: str = "") -> None:
        users = self.provider.access.method == "users"
        fields = (
            _FIELD.format(
                id="name",
                label="Name",
                extra=f'value="{html.escape(name)}" autocomplete="username" '
                + ("" if name else "autofocus"),
                type="text",
            )
            if users
            else ""
        ) + _FIELD.format(
            id="password",
            label="Password" if users else "Access token",
            type="password",
            extra='autocomplete="current-password"' + (" autofocus" if name or not users else ""),
        )
        alert = f'<p class="message" role="alert">{html.escape(message)}</p>' if message else ""
        action = "/login?next=" + url_escape(self.next_path())
        self.page(
            f"<h1>Log in</h1><p class='lead'>{html.escape(self.provider.title)}</p>{alert}"
            f'<form method="post" action="{html.escape(action)}">'
            f"{self.xsrf_form_html()}{fields}"
            '<button type="submit">Log in</button></form>'
        )


class LogoutHandler(_PageHandler):
    """Logout: the session ends on the server and the cookie is cleared. Behind single
    sign-on, the browser is sent to the proxy's sign-out."""

    def get(self) -> None:
        if self.provider.access.method == "proxy":
            self.redirect(PROXY_SIGN_OUT)
            return
        self.provider.clear_login_cookie(self)
        self.page(
            "<h1>Logged out</h1><p class='lead'>You are logged out of the dashboard.</p>"
            '<p><a href="/login">Log in again</a></p>'
        )

    def post(self) -> None:
        self.get()


_FIELD = (
    '<label for="{id}">{label}</label><input id="{id}" name="{id}" type="{type}" required {extra}>'
)

_STYLE = (
    "body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;"
    f"background:#F6F8FA;font-family:{FONT};color:#1F2328}}"
    "main{background:#fff;border:1px solid #D0D7DE;border-radius:8px;padding:32px;"
    "width:min(360px,88vw);box-shadow:0 1px 3px rgba(31,35,40,.08)}"
    "h1{font-size:20px;font-weight:600;margin:0 0 4px}"
    ".lead{color:#59636E;margin:0 0 16px;font-size:14px}"
    "label{display:block;font-size:13px;font-weight:500;margin:14px 0 6px}"
    "input{box-sizing:border-box;width:100%;padding:8px 10px;font:inherit;"
    "border:1px solid #C8CDD3;border-radius:6px}"
    f"input:focus{{outline:2px solid {PALETTE[0]};outline-offset:1px}}"
    "button{margin-top:20px;width:100%;padding:9px;font:inherit;font-weight:600;color:#fff;"
    f"background:{PALETTE[0]};border:0;border-radius:6px;cursor:pointer}}"
    f"a{{color:{PALETTE[0]}}}"
    f".message{{border-left:3px solid {STATUS_COLORS['alert']};background:#FFF5F5;"
    "padding:8px 10px;font-size:13px;margin:0 0 4px}"
)


def _page(title: str, body: str) -> str:
    """A whole page in the dashboards' look (their font and colours), needing no other file."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><link rel='icon' href='data:,'><style>{_STYLE}</style>"
        f"</head><body><main>{body}</main></body></html>"
    )
