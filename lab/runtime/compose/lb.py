"""HAProxy's view of the API replicas under compose, read from its published stats port.

HAProxy finds replicas through Docker's DNS (services/lb/haproxy.compose.cfg), so after a
scale or a start the runtime waits until the backend has exactly as many servers UP as
there are ready API containers: only then does traffic reach all of them.
"""

from __future__ import annotations

import csv
import io

import httpx

from lab.runtime.base import Endpoint
from lab.wait import wait_for

BACKEND = "be_api"


def server_states(stats: Endpoint) -> dict[str, str]:
    """Server slot → status (UP, DOWN, MAINT...)."""
    response = httpx.get(f"{stats.url}/stats;csv", timeout=2.0)
    response.raise_for_status()
    text = response.text.lstrip("# ")
    states: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        name = row.get("svname", "")
        if row.get("pxname") != BACKEND or name in ("FRONTEND", "BACKEND"):
            continue
        states[name] = row.get("status", "")  # empty slots: "MAINT (resolution)"
    return states


def wait_servers_up(stats: Endpoint, count: int, *, timeout: float) -> None:
    """Wait until exactly ``count`` API servers are UP in HAProxy."""

    def ready() -> bool:
        up = [s for s in server_states(stats).values() if s.startswith("UP")]
        return len(up) == count

    wait_for(
        f"HAProxy did not route to {count} API replica(s)",
        ready,
        timeout=timeout,
        interval=0.2,
        hint=f"see {stats.url}/stats and `lab logs lb`",
    )
