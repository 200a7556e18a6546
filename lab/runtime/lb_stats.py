"""HAProxy's servers as its stats page reports them (``/stats;csv`` on the stats port,
published under Compose, bound on the lab's address natively): the compose runtime
waits on their status, the autoscaler watches their session counters."""

from __future__ import annotations

import csv
import io

from lab import local_http
from lab.runtime.base import Endpoint

BACKEND = "be_api"


def backend_servers(stats: Endpoint, backend: str = BACKEND) -> dict[str, tuple[str, int]]:
    """Server slot → (status: UP, DOWN, MAINT..., sessions served so far)."""
    response = local_http.get(f"{stats.url}/stats;csv", timeout=2.0)
    response.raise_for_status()
    servers = {}
    for row in csv.DictReader(io.StringIO(response.text.lstrip("# "))):
        name = row.get("svname", "")
        if row.get("pxname") == backend and name not in ("FRONTEND", "BACKEND"):
            servers[name] = (row.get("status", ""), int(row.get("stot") or 0))
    return servers
