"""What the workbench's servers share about who may reach them.

``workbench serve`` and ``workbench dashboard`` both refuse to listen beyond this machine
without authentication (:func:`is_loopback`), both take a certificate and key for TLS
(:func:`tls_context`), and both slow down a client that keeps presenting wrong
credentials (:class:`Throttle`).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from workbench._exceptions import ConfigurationError

if TYPE_CHECKING:
    import ssl

__all__ = ["Throttle", "is_loopback", "retry_after", "tls_context"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost).

    Example:
        >>> is_loopback("127.0.0.2"), is_loopback("[::1]"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    """A server's TLS context (TLS 1.2 or later) from a PEM certificate and its key, or
    None when neither is given.

    Raises:
        ConfigurationError: Only one of them is given, or they cannot be loaded (missing,
            not PEM, a key that is not the certificate's).
    """
    if not (certfile or keyfile):
        return None
    if not (certfile and keyfile):
        given, missing = (
            ("--ssl-certfile", "--ssl-keyfile") if certfile else ("--ssl-keyfile", "--ssl-certfile")
        )
        raise ConfigurationError(f"{given} needs {missing} too: HTTPS needs both.")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"The certificate {certfile!r} and key {keyfile!r} cannot be loaded ({exc}). "
            f"Give a PEM certificate (its chain after it) and the PEM private key that "
            f"belongs to it."
        ) from None
    return context


class Throttle:
    """Failed attempts per key (a user name, a client address): after ``free`` failures in
    a row, a key must wait before its next try, twice as long after each further failure
    (1 s, 2 s, 4 s, ... up to ``longest``). A success clears the keys it was made with.

    An attempt counts as failed from the moment it starts (a success takes it back), so
    tries sent all at once cannot slip past the count while credentials are checked.

    Args:
        free: Failures allowed in a row per kind of key (``{"address": 20}``).
        longest: The longest wait (seconds).
        clock: Where the time comes from.
        remember: The most keys kept; the oldest are forgotten first.
    """

    def __init__(
        self,
        free: Mapping[str, int],
        longest: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        remember: int = 10_000,
    ) -> None:
        self.free = dict(free)
        self.longest = longest
        self._clock = clock
        self._remember = remember
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def wait(self, keys: Iterable[tuple[str, str]]) -> float:
        """Seconds to wait before any of ``keys`` may try again (0: now)."""
        now, longest = self._clock(), 0.0
        for key in keys:
            count, last = self._failures.get(key, (0, 0.0))
            beyond = count - self.free[key[0]]
            if beyond >= 0:
                longest = max(longest, last + min(self.longest, 2.0**beyond) - now)
        return max(0.0, longest)

    def failed(self, keys: Iterable[tuple[str, str]]) -> None:
        now = self._clock()
        for key in keys:
            count, _ = self._failures.pop(key, (0, 0.0))
            self._failures[key] = (count + 1, now)
        while len(self._failures) > self._remember:  # the oldest are forgotten first
            self._failures.popitem(last=False)

    def succeeded(self, keys: Iterable[tuple[str, str]]) -> None:
        for key in keys:
            self._failures.pop(key, None)


def retry_after(seconds: float) -> int:
    """``seconds`` as a Retry-After value: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))
