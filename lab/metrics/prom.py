"""A small typed client for Prometheus' HTTP API (instant and range queries, targets).

Every failure (unreachable, HTTP error, bad PromQL) raises ``PrometheusError`` with a hint;
``scalar`` returns None for "no data", which is an answer, not an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from lab.errors import PrometheusError


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One element of a range vector: (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Target:
    """One active scrape target."""

    job: str
    instance: str
    labels: dict[str, str]
    health: str  # "up" | "down" | "unknown"
    last_error: str


class PrometheusClient:
    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def ready(self) -> bool:
        """True when Prometheus answers /-/ready; never raises."""
        try:
            return self._http.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        params: dict[str, str] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._api("/api/v1/query", params, expr)
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [Sample(dict(r["metric"]), _number(r["value"][1])) for r in result]
        if kind in ("scalar", "string"):
            return [Sample({}, _number(result[1]))]
        raise PrometheusError(
            f"query {expr!r} returned a {kind}, not an instant vector",
            hint="use query_range for range vectors",
        )

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        """The first sample's value (now, or ``at``); None without data or NaN."""
        samples = self.query(expr, at)
        if not samples or math.isnan(samples[0].value):
            return None
        return samples[0].value

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        params = {
            "query": expr,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{max(step, 0.001):g}",
        }
        data = self._api("/api/v1/query_range", params, expr)
        return [
            Series(dict(r["metric"]), [(float(t), _number(v)) for t, v in r["values"]])
            for r in data["result"]
        ]

    def targets(self, job: str | None = None) -> list[Target]:
        data = self._api("/api/v1/targets", {"state": "active"}, "targets")
        found = []
        for raw in data["activeTargets"]:
            labels = dict(raw.get("labels") or {})
            if job is not None and labels.get("job") != job:
                continue
            found.append(
                Target(
                    job=labels.get("job", ""),
                    instance=labels.get("instance", ""),
                    labels=labels,
                    health=raw.get("health", "unknown"),
                    last_error=raw.get("lastError", ""),
                )
            )
        return found

    def _api(self, path: str, params: dict[str, str], what: str) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise PrometheusError(
                f"Prometheus at {self.url} is not reachable ({type(exc).__name__})",
                hint="is the lab up? `lab status`",
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or body.get("status") != "success":
            error = body.get("error") or response.text[:200]
            raise PrometheusError(
                f"Prometheus rejected {what!r}: {error}",
                hint=f"HTTP {response.status_code} from {self.url}{path}",
            )
        return body["data"]


def _number(raw: str) -> float:
    return float(raw)  # Prometheus sends "NaN", "+Inf", "-Inf" as strings float() accepts
