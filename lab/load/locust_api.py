"""A client for Locust's web API (the master's web UI), and what its stats mean to the lab.

Only the endpoints the lab needs, as Locust 2.x serves them:

    POST /swarm            form: user_count, spawn_rate, and custom options by their dest
                           name (``target_rps_per_user``, ``think_time``, ``weight_*``,
                           ``zipf_exponent``, ``rate_ramp_seconds`` from loadtests/shop.py)
    POST /stop             stop every user (stats are kept until the next start)
    GET  /stats/requests   per-request-name rows plus "Aggregated", the runner state,
                           the user count and, on a master, its connected workers

Locust memoises ``/stats/requests`` for about 2 s, so stats are at most that old.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lab import local_http
from lab.errors import LoadDriverError
from lab.load.traffic import Percentiles

AGGREGATED = "Aggregated"


@dataclass
class LoadStats:
    """The load generator's current view (Locust's ~10 s "current" window).

    Not frozen: ``lab.scenario.context.Stats`` declares plain (settable) attributes."""

    users: int
    rps: float  # requests/s now
    fail_ratio: float  # failures/s ÷ requests/s now
    p50: float | None  # seconds; None while there is no data
    p95: float | None
    p99: float | None
    state: str = "ready"  # Locust runner state: ready, spawning, running, stopped...
    workers: int = 0  # connected workers (0 for a local runner)


def parse_stats(report: dict[str, Any]) -> LoadStats:
    """``LoadStats`` from a ``/stats/requests`` answer."""
    rows = report.get("stats") or []
    total: dict[str, Any] = next((row for row in rows if row.get("name") == AGGREGATED), {})
    rps = float(total.get("current_rps") or 0.0)
    fails = float(total.get("current_fail_per_sec") or 0.0)
    percentiles = report.get("current_response_time_percentiles") or {}

    def seconds(quantile: str) -> float | None:
        millis = percentiles.get(f"response_time_percentile_{quantile}")
        if millis is None or (millis == 0 and rps == 0):
            return None  # no requests in the window: no latency, not a latency of 0
        return float(millis) / 1000.0

    return LoadStats(
        users=int(report.get("user_count") or 0),
        rps=rps,
        fail_ratio=fails / rps if rps > 0 else 0.0,
        p50=seconds("0.5"),
        p95=seconds("0.95"),
        p99=seconds("0.99"),
        state=str(report.get("state") or "unknown"),
        workers=int(report.get("worker_count") or 0),
    )


class LocustWeb:
    """Talks to one Locust master's web API; errors become ``LoadDriverError``."""

    def __init__(self, base_url: str, *, log_hint: str, timeout: float = 5.0) -> None:
        self.base_url = base_url
        self.log_hint = log_hint
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def report(self) -> dict[str, Any]:
        data = self._call("GET", "/stats/requests")
        if not isinstance(data, dict):
            raise LoadDriverError(f"Locust at {self.base_url} sent unexpected stats", self.log_hint)
        return data

    def stats(self) -> LoadStats:
        return parse_stats(self.report())

    def swarm(
        self,
        users: int,
        spawn_rate: float,
        *,
        rps_per_user: float,
        options: Mapping[str, str] | None = None,
    ) -> None:
        form = {
            **(options or {}),
            "user_count": str(users),
            "spawn_rate": f"{spawn_rate:g}",
            "target_rps_per_user": repr(float(rps_per_user)),
        }
        answer = self._call("POST", "/swarm", data=form)
        if not (isinstance(answer, dict) and answer.get("success")):
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise LoadDriverError(
                f"Locust refused to swarm {users} users: {message}", self.log_hint
            )

    def stop(self) -> None:
        self._call("POST", "/stop")

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LoadDriverError(
                f"Locust's web API failed: {method} {self.base_url}{path}: {exc}", self.log_hint
            ) from exc


def hdr_percentiles(
    metrics_url: str, start: float, end: float, quantiles: tuple[float, ...]
) -> Percentiles:
    """Exact client quantiles over ``[start, end]`` from the exporter's ``/hdr`` (on the
    port of ``metrics_url``): loadtests/locust_exporter.py."""
    url = metrics_url.rsplit("/", 1)[0] + "/hdr"
    params = {"start": repr(start), "end": repr(end), "q": ",".join(map(repr, quantiles))}
    try:
        response = local_http.get(url, params=params, timeout=5.0)
        response.raise_for_status()
        data = response.json()
        found = {
            float(q): float(v) for q, v in (data.get("quantiles") or {}).items() if v is not None
        }
        return Percentiles(int(data.get("count") or 0), found)
    except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
        raise LoadDriverError(f"Locust's /hdr failed: {url}: {exc}") from exc
