"""Who may use the scoring server, and what its HTTP server holds up to (issue 26),
against one real ``workbench -v serve`` over HTTPS: each caller a named token, recorded
by name and revoked without a restart; 429 after repeated wrong tokens from one address;
TLS with a certificate made here; header size, header time and idle limits; query
strings out of the access log."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from workbench.serving import ScoringServer, read_inference_log
from workbench.serving._tokens import TokenStore

from ..conftest import certificate
from .conftest import own_settings

pytestmark = pytest.mark.slow

SHARED = "shared-token-of-the-access-test"
ONE_ROW = {"dataframe_split": {"columns": ["x", "region"], "data": [[1.0, "a"]]}}
#: serve_header_timeout and serve_idle_timeout of the server here (seconds)
LIMIT_SECONDS = 2


@dataclass
class Access:
    server: ScoringServer
    cert: Path
    store: TokenStore
    tokens: dict[str, str]
    log_dir: Path

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, verify=str(self.cert), timeout=30, **options)  # type: ignore[arg-type]

    def tls_socket(self) -> ssl.SSLSocket:
        context = ssl.create_default_context(cafile=str(self.cert))
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        return context.wrap_socket(raw, server_hostname="127.0.0.1")


@pytest.fixture(scope="module")
def access(tiny_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Access]:
    """The tiny model over HTTPS, with the shared token and two named ones (from a tokens
    file as a mounted Secret delivers it), limits of 2 s, a line per request."""
    folder = tmp_path_factory.mktemp("access")
    cert, key = certificate(folder)
    store = TokenStore(folder / "home")
    tokens = {name: store.add(name)[0] for name in ("alice", "bob")}
    server = ScoringServer(
        "models:/tiny@champion",
        log_dir=folder / "log",
        project_dir=tiny_project,
        token=SHARED,
        ssl_certfile=cert,
        ssl_keyfile=key,
        verbose=True,
        env={
            "WORKBENCH_SERVE_TOKENS_FILE": str(store.path),
            "WORKBENCH_SERVE_HEADER_TIMEOUT": str(LIMIT_SECONDS),
            "WORKBENCH_SERVE_IDLE_TIMEOUT": str(LIMIT_SECONDS),
        },
    )
    with own_settings():
        server.start()
    try:
        yield Access(server, cert, store, tokens, folder / "log")
    finally:
        server.stop()


def _predict(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/invocations", json=ONE_ROW, headers={"Authorization": f"Bearer {token}"})


def test_each_caller_has_a_named_token_logged_by_name_and_revoked_without_restart(
    access: Access,
) -> None:
    ids: dict[str, str] = {}
    with access.client() as client:
        for name, token in [*access.tokens.items(), ("shared", SHARED)]:
            answer = _predict(client, token)
            assert answer.status_code == 200, answer.text
            ids[answer.headers["X-Request-ID"]] = name
        assert _predict(client, access.tokens["alice"][:-1] + "x").status_code == 401
        assert access.store.revoke("bob")
        deadline = time.monotonic() + 30  # a bound on failure, not a timing
        while _predict(client, access.tokens["bob"]).status_code == 200:
            assert time.monotonic() < deadline, "a revoked token is still accepted"
            time.sleep(0.2)
        assert _predict(client, access.tokens["bob"]).status_code == 401
        assert _predict(client, access.tokens["alice"]).status_code == 200
    deadline = time.monotonic() + 30
    while not set(ids) <= set((log := read_inference_log(access.log_dir))["request_id"]):
        assert time.monotonic() < deadline, "the requests never reached the log"
        time.sleep(0.5)
    logged = dict(zip(log["request_id"], log["client"], strict=True))
    assert {request: logged[request] for request in ids} == ids  # the caller's name
    secrets = [SHARED.encode(), *(t.encode() for t in access.tokens.values())]
    for path in access.log_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret in data for secret in secrets), path
    assert not any(s.decode() in access.server.output() for s in secrets)


def test_repeated_wrong_tokens_from_one_address_get_429(access: Access) -> None:
    """Ten wrong tokens from 127.0.0.2, then even the right one is answered 429 with
    Retry-After; 127.0.0.1 is served meanwhile; after the wait the right one works."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=str(access.cert))
    right = access.tokens["alice"]
    with access.client(transport=transport) as other, access.client() as client:
        for attempt in range(10):
            assert _predict(other, f"wrong-{attempt}").status_code == 401
        throttled = _predict(other, right)
        assert throttled.status_code == 429, throttled.text
        wait = int(throttled.headers["Retry-After"])
        assert wait >= 1 and "try again in" in throttled.json()["message"]
        assert (
            other.get("/metrics", headers={"Authorization": f"Bearer {right}"}).status_code == 429
        )
        assert other.get("/ping").status_code == 200  # the probes stay open
        assert _predict(client, right).status_code == 200  # another address is not held
        time.sleep(wait)
        assert _predict(other, right).status_code == 200  # clears the count
        assert _predict(other, "wrong").status_code == 401


def test_tls_handshakes_with_the_test_certificate(access: Access) -> None:
    with access.tls_socket() as conn:
        assert conn.version() in ("TLSv1.2", "TLSv1.3")
        presented = conn.getpeercert(binary_form=True)
    pem = access.cert.read_text()
    assert presented == ssl.PEM_cert_to_DER_cert(pem)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(access.server.url + "/ping", timeout=30)  # the system's CAs: refused
    with pytest.raises(httpx.HTTPError):  # the port speaks no plain HTTP
        httpx.get(f"http://127.0.0.1:{access.server.port}/ping", timeout=30)


def _request_with_header(access: Access, size: int) -> bytes:
    """The answer to a GET /ping with one header of ``size`` bytes (b'' if the server
    closed the connection before answering)."""
    head = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    with access.tls_socket() as conn:
        try:
            conn.sendall(head)
            return conn.recv(65536)
        except (ConnectionError, ssl.SSLError):
            return b""


def test_header_size_and_idle_connections_are_bounded(access: Access) -> None:
    """A 16 KiB header is answered; 48 KiB (over the 32 KiB setting) gets 431 and 8 MB is
    not answered; 50 connections that send nothing, or half a request, and a keep-alive
    one left idle are all closed by the server after its 2 s limits; it still serves."""
    assert _request_with_header(access, 16 * 1024).startswith(b"HTTP/1.1 200")  # control
    assert _request_with_header(access, 48 * 1024).startswith(b"HTTP/1.1 431")
    assert not _request_with_header(access, 8 * 1024 * 1024).startswith(b"HTTP/1.1 2")

    connections = []
    for number in range(50):
        conn = access.tls_socket()
        if number % 2:  # half a request: headers that never end
            conn.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        connections.append(conn)
    keep_alive = access.tls_socket()
    keep_alive.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while not answer.endswith(b"\r\n\r\n\n"):  # the whole answer: headers, then "\n"
        answer += keep_alive.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200")
    connections.append(keep_alive)
    still_open = 0
    for conn in connections:  # 30 s each at most: a bound on failure, not a timing
        try:
            data = conn.recv(65536)
        except TimeoutError:
            still_open += 1
        except (ConnectionError, ssl.SSLError):
            data = b""
        else:
            assert data == b"", data[:60]  # closed without an answer
        conn.close()
    assert still_open == 0, f"{still_open} idle connections were left open"
    with access.client() as client:
        assert client.get("/ping").status_code == 200


def test_query_strings_stay_out_of_the_access_log(access: Access) -> None:
    secret = "query-secret-4b1d"
    with access.client() as client:
        assert client.get(f"/ping?token={secret}").status_code == 200
        answer = client.post(
            f"/invocations?api_key={secret}",
            json=ONE_ROW,
            headers={"Authorization": f"Bearer {access.tokens['alice']}"},
        )
        assert answer.status_code == 200
    deadline = time.monotonic() + 30
    while '"POST /invocations HTTP/1.1" 200' not in (output := access.server.output()):
        assert time.monotonic() < deadline, output[-2000:]
        time.sleep(0.2)
    assert '"GET /ping HTTP/1.1" 200' in output  # the line is there, the path only
    assert secret not in output
