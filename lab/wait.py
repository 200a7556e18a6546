"""Readiness waits: a condition, a timeout, a poll interval, and a hint in the error."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Collection

from lab import local_http
from lab.errors import NotReadyError


def wait_for(
    what: str,
    ready: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    hint: str | None = None,
    alive: Callable[[], str | None] | None = None,
) -> float:
    """Poll ``ready`` until it is true; return the seconds it took.

    ``alive`` (optional) returns a message when the thing being waited for has died,
    so a crashed process fails the wait at once instead of at the timeout.
    Exceptions from ``ready`` count as "not yet".
    """
    start = time.monotonic()
    deadline = start + timeout
    last_error = ""
    while True:
        try:
            if ready():
                return time.monotonic() - start
        except Exception as exc:  # any failure means "not ready yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if alive is not None:
            dead = alive()
            if dead:
                raise NotReadyError(f"{what}: {dead}", hint=hint)
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise NotReadyError(f"{what} within {timeout:g} s{detail}", hint=hint)
        time.sleep(interval)


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when GET url answers 2xx."""
    response = local_http.get(url, timeout=timeout)
    return response.is_success


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def reserved_port(host: str = "127.0.0.1", *, taken: Collection[int] = ()) -> int:
    """A free port outside the kernel's ephemeral range, for a listener picked now and bound later.

    A ``free_port()`` is released as soon as it is returned, and the kernel may hand the
    same number to the next ``bind(0)`` or outgoing connection — another lab service's
    port, or a client socket — before its owner binds it (a CI run lost a Locust port that
    way). The kernel never picks a port below the ephemeral range on its own, so one drawn
    from there stays free unless someone asks for it by number. ``taken``: ports already
    handed out and not yet bound.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randint(10_000, low - 1)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port between 10000 and {low - 1} on {host}")


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return max(int(f.read().split()[0]), 10_100)
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
