"""HAProxy's view of the API replicas under compose, read from its published stats port.

HAProxy finds replicas through Docker's DNS (services/lb/haproxy.compose.cfg), so after a
scale or a start the runtime waits until the backend has exactly as many servers UP as
there are ready API containers: only then does traffic reach all of them.
"""

from __future__ import annotations

from lab.runtime.base import Endpoint
from lab.runtime.lb_stats import backend_servers
from lab.wait import wait_for


def server_states(stats: Endpoint) -> dict[str, str]:
    """Server slot → status (UP, DOWN, MAINT...; empty slots: "MAINT (resolution)")."""
    return {name: status for name, (status, _) in backend_servers(stats).items()}


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
