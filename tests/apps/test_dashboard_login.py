"""`workbench dashboard` with a login, over real HTTP(S), in headless Chromium.

Three servers, started once for the module and together: per-user passwords over TLS (a
certificate made on the fly), a shared token over plain HTTP (its idle timeout set to 2 s
for the limits test), and single sign-on that believes only 127.0.0.2 (the tests speak
from 127.0.0.1 and from 127.0.0.2, both loopback addresses of this machine).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import selectors
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import nbformat
import pytest
import websocket
from playwright import sync_api

from workbench._cli import main
from workbench._jupyter._access import UserStore
from workbench._jupyter._auth import WRONG
from workbench.serving._process import free_port

from ..conftest import certificate

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORDS = {"alice": "alice's long password", "bob": "bob's long password", "carla": "c" * 12}
TOKEN = "shared-token-" + "x" * 20
MARK = "drawn by the app for its visitors"
IDLE_SECONDS = 2


@dataclass
class Server:
    url: str
    port: int
    project: Path
    process: subprocess.Popen[bytes]
    output: Path
    verify: ssl.SSLContext | bool = True

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, verify=self.verify, timeout=120, follow_redirects=False, **kwargs
        )  # type: ignore[arg-type]


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "login"\n')
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell(f"print({MARK!r})")]
    (folder / "apps").mkdir()
    nbformat.write(notebook, folder / "apps" / "probe.ipynb")
    return folder


def _start(project: Path, *options: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    output = project / "server.out"
    environment = {**os.environ, "WORKBENCH_PROJECT_DIR": str(project), **(env or {})}
    with output.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "workbench", "dashboard", "probe"),
                *("--port", str(port), "--project-dir", str(project), *options),
            ],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    scheme = "https" if "--ssl-certfile" in options else "http"
    return Server(f"{scheme}://127.0.0.1:{port}", port, project, process, output)


def _wait(server: Server) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            with server.client() as client:
                if client.get("/login").status_code < 500:
                    return
        except httpx.HTTPError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{server.url} did not answer:\n{server.output.read_text()[-3000:]}")
        time.sleep(0.5)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@dataclass
class Servers:
    secure: Server  # per-user passwords, TLS
    token: Server  # a shared token, plain HTTP, 2 s idle timeout
    sso: Server  # single sign-on, the proxy at 127.0.0.2
    cert: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("dashboard-login")
    cert, key = certificate(root)
    secure_project = _project(root / "secure")
    store = UserStore(secure_project / ".workbench" / "secrets" / "dashboard-users.json")
    for name, password in PASSWORDS.items():
        store.add(name, password)
    secure = _start(secure_project, "--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    token = _start(
        _project(root / "token"),
        "--no-preheat",
        env={
            "WORKBENCH_DASHBOARD_TOKEN": TOKEN,
            "WORKBENCH_DASHBOARD_IDLE_TIMEOUT": str(IDLE_SECONDS),
        },
    )
    sso = _start(
        _project(root / "sso"),
        "--no-preheat",
        env={
            "WORKBENCH_DASHBOARD_USER_HEADER": "X-Forwarded-Email",
            "WORKBENCH_DASHBOARD_TRUSTED_PROXY": "127.0.0.2",
        },
    )
    secure.verify = ssl.create_default_context(cafile=str(cert))
    try:
        for server in (secure, token, sso):
            _wait(server)
        yield Servers(secure, token, sso, cert)
    finally:
        for server in (secure, token, sso):
            _stop(server)


def _xsrf(client: httpx.Client) -> str:
    form = client.get("/login")
    assert form.status_code == 200, form.text
    found = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
    assert found
    return html.unescape(found.group(1))


def _login(client: httpx.Client, password: str, name: str | None = None) -> httpx.Response:
    data = {"_xsrf": _xsrf(client), "password": password}
    if name is not None:
        data["name"] = name
    return client.post("/login", data=data)


def _message(response: httpx.Response) -> str:
    found = re.search(r'<p class="message" role="alert">(.*?)</p>', response.text)
    return found.group(1) if found else ""


def _session_cookie(response: httpx.Response) -> SimpleCookie | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("workbench-"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            return jar
    return None


def _launch(playwright):  # type: ignore[no-untyped-def]
    executable = CHROMIUM if Path(CHROMIUM).exists() else None
    return playwright.chromium.launch(executable_path=executable, args=ARGS)


# ---------------------------------------------------------------- logging in and out


def test_a_browser_logs_in_and_out(servers: Servers, artifacts_dir: Path) -> None:
    secure = servers.secure
    with sync_api.sync_playwright() as p:
        browser = _launch(p)
        context = browser.new_context(
            ignore_https_errors=True, viewport={"width": 1100, "height": 800}
        )
        page = context.new_page()
        page.goto(secure.url + "/", timeout=120_000)
        assert "/login" in page.url  # the dashboard sends a visitor to its login page
        assert page.locator("h1").inner_text() == "Log in"
        page.screenshot(path=str(artifacts_dir / "dashboard-login.png"))
        page.fill("#name", "alice")
        page.fill("#password", PASSWORDS["alice"])
        page.click("button[type=submit]")
        page.wait_for_selector(f"text={MARK}", timeout=120_000)
        assert page.url.rstrip("/") == secure.url
        (session,) = [c for c in context.cookies() if c["name"].startswith("workbench-")]
        assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"
        assert session["name"] not in page.evaluate("document.cookie")  # no script reads it
        page.screenshot(path=str(artifacts_dir / "dashboard-logged-in.png"))
        page.click("text=Log out")
        page.wait_for_selector("text=You are logged out", timeout=60_000)
        page.goto(secure.url + "/", timeout=60_000)
        assert "/login" in page.url  # the browser's cookie is gone...
        browser.close()
    # ...and so is the session on the server: the old cookie opens nothing
    with secure.client(cookies={session["name"]: session["value"]}) as client:
        assert client.get("/voila/static/voila.js").status_code == 403


def test_a_wrong_name_or_password_gets_the_same_refusal(servers: Servers) -> None:
    with servers.secure.client() as client:
        wrong_password = _login(client, "not alice's password", "alice")
        unknown_name = _login(client, PASSWORDS["alice"], "mallory")
        for response in (wrong_password, unknown_name):
            assert response.status_code == 401
            assert _session_cookie(response) is None
        # one message for both, naming neither part
        assert _message(wrong_password) == _message(unknown_name) == WRONG
        assert wrong_password.text.count("alice") == unknown_name.text.count("mallory") == 1
        ok = _login(client, PASSWORDS["alice"], "alice")
        assert ok.status_code == 302 and ok.headers["location"] == "/"
    # after login the browser goes back where it was going, never to another site
    for target, home in [("/voila/static/voila.js", "/voila/static/voila.js")] + [
        (elsewhere, "/") for elsewhere in ("//evil.example/", "https://evil.example/", "/\\x")
    ]:
        with servers.secure.client() as client:
            data = {"_xsrf": _xsrf(client), "name": "alice", "password": PASSWORDS["alice"]}
            back = client.post("/login", params={"next": target}, data=data)
            assert back.status_code == 302 and back.headers["location"] == home, target
    # a form posted without the page's XSRF token (another site's) is refused
    bare = httpx.post(
        servers.secure.url + "/login",
        data={"name": "alice", "password": PASSWORDS["alice"]},
        verify=servers.secure.verify,
    )
    assert bare.status_code == 403 and _session_cookie(bare) is None


def test_failed_logins_are_throttled_with_429_and_retry_after(servers: Servers) -> None:
    """Five wrong passwords for bob: then even his right one is answered 429 with a
    Retry-After, unchecked; another user from the same address still gets in."""
    with servers.secure.client() as client:
        for attempt in range(5):
            assert _login(client, f"guess number {attempt}", "bob").status_code == 401
        blocked = _login(client, PASSWORDS["bob"], "bob")
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        assert _session_cookie(blocked) is None and "Try again in" in _message(blocked)
        again = _login(client, PASSWORDS["bob"], "BOB")  # the name's case changes nothing
        assert again.status_code == 429
        assert _login(client, PASSWORDS["alice"], "alice").status_code == 302


def test_the_session_cookie_is_httponly_samesite_and_secure_under_tls(servers: Servers) -> None:
    with servers.secure.client() as client:
        secure = _session_cookie(_login(client, PASSWORDS["alice"], "alice"))
    with servers.token.client() as client:
        wrong = _login(client, "not the token at all")
        assert wrong.status_code == 401 and _message(wrong) == "The token is not right."
        plain = _session_cookie(_login(client, TOKEN))
    assert secure is not None and plain is not None
    (tls,), (http,) = secure.values(), plain.values()
    assert tls["httponly"] and tls["secure"] and tls["samesite"] == "Lax" and tls["path"] == "/"
    assert http["httponly"] and http["samesite"] == "Lax" and not http["secure"]
    assert TOKEN not in tls.value + http.value  # an id, not the credentials


def test_the_shared_token_opens_nothing_but_the_login_form(servers: Servers) -> None:
    """Typed on the login page, the token starts a session; in a URL or a header it opens
    nothing, so it never lands in a browser's history or a proxy's log."""
    with servers.token.client() as client:
        for elsewhere in (
            {"params": {"token": TOKEN}},
            {"headers": {"Authorization": f"token {TOKEN}"}},
            {"headers": {"Authorization": f"Bearer {TOKEN}"}},
            {"headers": {"Cookie": f"token={TOKEN}"}},
        ):
            r = client.get("/voila/static/voila.js", **elsewhere)  # type: ignore[arg-type]
            assert r.status_code == 403, elsewhere
            assert client.get("/", **elsewhere).status_code == 302  # type: ignore[arg-type]
        assert _login(client, TOKEN).status_code == 302
        assert client.get("/voila/static/voila.js").status_code == 200


def test_every_route_needs_the_session(servers: Servers) -> None:
    """Without a session: the page goes to the login page; static, template, extension,
    file, theme, kernel and shutdown routes get 403, and both websockets are refused.
    With one, the same routes answer (the positive control)."""
    secure = servers.secure
    with secure.client() as client:
        assert _login(client, PASSWORDS["alice"], "alice").status_code == 302
        page = client.get("/")
        assert page.status_code == 200 and MARK in page.text
        kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', page.text)
        assert kernel
        kernel_id = kernel.group(1)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        # what the page loads from the server, and the other file and API routes
        loaded = re.findall(r'(?:src|href)="(/[^/"][^"]*)"', page.text)
        assert any(path.startswith("/voila/") for path in loaded), loaded
        routes = sorted(
            {path for path in loaded if not path.startswith("/logout")}
            | {
                "/voila/static/voila.js",
                "/voila/labextensions/jupyterlab-plotly/package.json",
                f"/api/kernels/{kernel_id}",
            }
        )
        for path in routes:
            assert client.get(path).status_code == 200, path
    routes += [
        "/voila/api/themes/@jupyterlab/theme-light-extension/index.css",
        "/voila/templates/workbench/conf.json",
        "/voila/files/anything.png",
        "/api/kernels",
        "/api/contents",
        "/favicon.ico",
    ]
    with secure.client() as anonymous:
        front = anonymous.get("/")
        assert front.status_code == 302 and front.headers["location"] == "/login?next=%2F"
        for path in routes:
            r = anonymous.get(path)
            assert r.status_code in (302, 403), (path, r.status_code)
            if r.status_code == 302:
                assert r.headers["location"].startswith("/login?next="), path
            assert MARK not in r.text
        for method, path in [
            ("POST", f"/voila/api/shutdown/{kernel_id}"),
            ("DELETE", f"/api/kernels/{kernel_id}"),
            ("POST", "/api/kernels"),
        ]:
            assert anonymous.request(method, path).status_code == 403, path
        # a made-up cookie is no session
        forged = anonymous.get(
            "/voila/static/voila.js", headers={"Cookie": cookie.split("=")[0] + "=2|1:0|x"}
        )
        assert forged.status_code == 403
    ssl_options = {"ca_certs": str(servers.cert)}
    base = secure.url.replace("https://", "wss://")
    for path in (f"/api/kernels/{kernel_id}/channels", f"/voila/query/{kernel_id}"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(base + path, sslopt=ssl_options, timeout=30)
        assert refused.value.status_code == 403, path
    # with the session, the kernel's websocket opens
    opened = websocket.create_connection(
        base + f"/api/kernels/{kernel_id}/channels",
        sslopt=ssl_options,
        timeout=30,
        header=[f"Cookie: {cookie}"],
    )
    opened.close()


def test_a_removed_user_is_logged_out_at_the_next_request(servers: Servers) -> None:
    secure = servers.secure
    with secure.client() as client:
        assert _login(client, PASSWORDS["carla"], "carla").status_code == 302
        assert client.get("/voila/static/voila.js").status_code == 200
        project = ["--project-dir", str(secure.project)]
        assert main(["dashboard", "remove-user", "carla", *project]) == 0
        assert client.get("/voila/static/voila.js").status_code == 403
    # no password or token is ever written to the servers' output
    for server in (servers.secure, servers.token):
        said = server.output.read_text()
        assert "login:" in said and "serving at" in said
        assert not [p for p in [*PASSWORDS.values(), TOKEN] if p in said]


# ---------------------------------------------------------------- single sign-on


def test_single_sign_on_believes_the_header_from_the_proxy_only(servers: Servers) -> None:
    sso = servers.sso
    header = {"X-Forwarded-Email": "anna@example.org"}
    proxy = httpx.HTTPTransport(local_address="127.0.0.2")
    with sso.client(transport=proxy) as from_proxy, sso.client() as elsewhere:
        assert from_proxy.get("/voila/static/voila.js", headers=header).status_code == 200
        assert from_proxy.get("/voila/static/voila.js").status_code == 403  # no user named
        # from any other address the header is nobody's word, however it is dressed up
        for spoof in (
            header,
            {**header, "X-Forwarded-For": "127.0.0.2", "X-Real-IP": "127.0.0.2"},
            {**header, "Forwarded": "for=127.0.0.2"},
        ):
            assert elsewhere.get("/voila/static/voila.js", headers=spoof).status_code == 403
            assert elsewhere.get("/", headers=spoof).status_code == 403
        assert from_proxy.get("/login", headers=header).status_code != 200  # no login page
        out = from_proxy.get("/logout", headers=header)
        assert out.status_code == 302 and out.headers["location"] == "/oauth2/sign_out"


# ---------------------------------------------------------------- TLS and limits


def test_tls_handshakes_with_the_test_certificate(servers: Servers) -> None:
    port = servers.secure.port
    trusting = ssl.create_default_context(cafile=str(servers.cert))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        trusting.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        served = tls.getpeercert(binary_form=True)
        tls.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = _read_all(tls)
    assert answer.startswith(b"HTTP/1.1 200")
    assert served == ssl.PEM_cert_to_DER_cert(servers.cert.read_text())
    # without trusting the certificate, a client refuses it: the check is real
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    # and the port speaks no plain HTTP
    with socket.create_connection(("127.0.0.1", port), timeout=30) as plain:
        plain.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert not _read_all(plain).startswith(b"HTTP/1.1 2")
    assert f"serving at https://127.0.0.1:{port}/" in servers.secure.output.read_text()


def _read_all(connection: socket.socket) -> bytes:
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _request_with_header(port: int, size: int) -> bytes:
    """A GET whose one header holds ``size`` bytes; what the server answered (b"" when it
    closed the connection first)."""
    request = (
        b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        + b"X-Filler: "
        + b"a" * size
        + b"\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        with contextlib.suppress(OSError):  # the server may close while we still send
            connection.sendall(request)
        return _read_all(connection)


def test_header_size_and_idle_connections_are_bounded(servers: Servers) -> None:
    """Headers of 48 KiB (over the 32 KiB setting, under tornado's own 64 KiB) and of 8 MB
    are refused; 50 connections that send nothing, or half a request, are closed by the
    server after its idle timeout (2 s here), as is a keep-alive connection left idle."""
    port = servers.token.port
    assert _request_with_header(port, 16 * 1024).startswith(b"HTTP/1.1 200")  # control
    for size in (48 * 1024, 8 * 1024 * 1024):
        answer = _request_with_header(port, size)
        assert not answer.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3")), (size, answer[:40])

    selector = selectors.DefaultSelector()
    connections = []
    for number in range(50):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.setblocking(False)
        if number % 2:  # half a request: headers that never end
            connection.send(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        connections.append(connection)
        selector.register(connection, selectors.EVENT_READ)
    keep_alive = socket.create_connection(("127.0.0.1", port), timeout=10)
    keep_alive.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert keep_alive.recv(65536).startswith(b"HTTP/1.1 200")
    keep_alive.setblocking(False)
    selector.register(keep_alive, selectors.EVENT_READ)
    open_ones = {*connections, keep_alive}
    deadline = time.monotonic() + 60 * IDLE_SECONDS  # a bound on failure, not a timing
    while open_ones and time.monotonic() < deadline:
        for ready, _ in selector.select(timeout=1):
            connection = ready.fileobj
            assert isinstance(connection, socket.socket)
            try:
                data = connection.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:  # closed by the server
                selector.unregister(connection)
                open_ones.discard(connection)
    for connection in [*connections, keep_alive]:
        connection.close()
    assert not open_ones, f"{len(open_ones)} idle connections were left open"
    # and the server still serves
    with servers.token.client() as client:
        assert client.get("/login").status_code == 200
