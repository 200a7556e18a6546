"""One-off HTTP calls to the lab's own endpoints: readiness probes, HAProxy's stats page,
the exporter's quantiles, an API replica's admin port.

``httpx.get`` builds a client per call, and with it a TLS context into which it loads the
CA bundle: 55 ms of CPU per call on these machines, for a plain-HTTP request that itself
takes 2 ms. The readiness polls (every 50 ms while a replica starts), HAProxy's stats read
while a server drains and the autoscaler's wait for a new replica's first request (ten a
second) paid it on every call, on a machine whose two cores the lesson is measuring. One
context, made on first use and shared (an ``ssl.SSLContext`` is safe to share between
threads), costs it once.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping

import httpx


@functools.cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    content: str | bytes | None = None,
) -> httpx.Response:
    """One request on a fresh connection (no pool to go stale when a process restarts)."""
    return httpx.request(
        method, url, params=params, headers=headers, content=content, timeout=timeout,
        verify=_tls(),
    )  # fmt: skip


def get(url: str, *, timeout: float, params: Mapping[str, str] | None = None) -> httpx.Response:
    return request("GET", url, timeout=timeout, params=params)
