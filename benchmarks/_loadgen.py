"""A bounded (closed-loop) load generator for a scoring server, with the server's memory.

``connections`` keep-alive connections each send a request, read the whole answer, and
send the next, until ``seconds`` have passed: at most ``connections`` requests are in
flight, none is abandoned when time is up, so every answer counted was read in full (and
a 200 is a request the inference log must hold). Plain asyncio sockets, so the generator
costs little of the machine it shares with the server. Meanwhile the server's resident
memory is sampled from ``/proc`` once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

__all__ = ["LoadResult", "drive", "rss_mb"]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and its descendants in MiB (``VmRSS``; Linux):
    a server that runs its workers as child processes counts whole."""
    total = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1]) / 1024
    for child in _children(pid):
        with contextlib.suppress(OSError, ValueError):
            total += rss_mb(child)
    return total


@dataclass
class LoadResult:
    """What a run of :func:`drive` saw."""

    seconds: float
    statuses: Counter[int]
    latencies_ms: np.ndarray
    request_ids: list[str]
    connection_errors: list[str]
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (time, MiB)
    #: Each answer's ``X-Model-Version`` ("" where absent), in the order of ``latencies_ms``.
    versions: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def errors(self) -> int:
        return self.requests - self.ok + len(self.connection_errors)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else 0.0

    def summary(self) -> str:
        rss = [m for _, m in self.rss_mb]
        memory = (
            f"; server RSS {rss[0]:.0f} → {rss[-1]:.0f} MiB (max {max(rss):.0f})" if rss else ""
        )
        return (
            f"{self.requests:,} requests in {self.seconds:.0f} s "
            f"({self.requests / self.seconds:,.0f}/s), {self.ok:,} 2xx, {self.errors} errors, "
            f"p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms{memory}"
        )


def _request(url: str, body: bytes, content_type: str, token: str | None) -> bytes:
    parts = urlsplit(url)
    head = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *([f"Authorization: Bearer {token}"] if token else []),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _one_connection(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    out: tuple[Counter[int], list[float], list[str], list[str], list[str]],
) -> None:
    statuses, latencies, ids, failures, versions = out
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        failures.append(f"connect: {exc}")
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:
                failures.append("the server closed the connection")
                return
            length, request_id, version = 0, "", ""
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                key = name.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"x-request-id":
                    request_id = value.strip().decode()
                elif key == b"x-model-version":
                    version = value.strip().decode()
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - began) * 1000)
            versions.append(version)
            status = int(status_line.split()[1])
            statuses[status] += 1
            if 200 <= status < 300:
                ids.append(request_id)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def drive(
    url: str,
    body: bytes,
    *,
    connections: int = 32,
    seconds: float = 60.0,
    content_type: str = "application/json",
    token: str | None = None,
    pid: int | None = None,
) -> LoadResult:
    """POST ``body`` to ``url`` (e.g. ``http://127.0.0.1:5005/invocations``) over
    ``connections`` keep-alive connections for ``seconds``; with ``pid``, sample that
    process's memory once a second."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = _request(url, body, content_type, token)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    ids: list[str] = []
    failures: list[str] = []
    versions: list[str] = []
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while pid is not None and not stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                samples.append((time.perf_counter() - started, rss_mb(pid)))
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        out = (statuses, latencies, ids, failures, versions)
        await asyncio.gather(
            *(_one_connection(host, port, request, deadline, out) for _ in range(connections))
        )

    try:
        asyncio.run(run())
    finally:
        stop.set()
        sampler.join()
    if pid is not None:
        with contextlib.suppress(OSError, ValueError):
            samples.append((time.perf_counter() - started, rss_mb(pid)))
    return LoadResult(
        time.perf_counter() - started,
        statuses,
        np.asarray(latencies),
        ids,
        failures,
        samples,
        versions,
    )
