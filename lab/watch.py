"""`lab watch`: the numbers that matter, gathered from the lab's recording rules.

Gathering and drawing are separate: ``take_snapshot`` turns one Prometheus query into a
typed ``Snapshot``; ``lab.watch_view.render`` draws it. The snapshot reads ONLY the
``lab:`` recording rules (docs/contracts.md), so the terminal, the Grafana dashboards,
the scenario checks and the run reports always show the same numbers.

One instant query (``{__name__=~"lab:.+"}``) fetches every rule at once, so a refresh
per second costs Prometheus one request.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from lab import rules
from lab.errors import PrometheusError
from lab.metrics.prom import PrometheusClient, Sample

ALL_RULES = '{__name__=~"lab:.+"}'
HISTORY_S = 120


@dataclass(frozen=True)
class LoadView:
    """What the load generator (Locust) sees; present only while it runs."""

    users: float
    rps: float | None
    fail_ratio: float | None
    p95: float | None
    hdr_p95: float | None = None  # exact; open loop: from the intended send time
    late_rate: float | None = None  # open-loop arrivals per second sent late / dropped
    dropped_rate: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """The lab at one instant. ``None`` means "no data" (e.g. no traffic yet)."""

    t: float
    rps: float | None
    lb_rps: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    error_ratio: float | None
    api_replicas: float | None
    worker_replicas: float | None
    replicas: dict[str, float] = field(default_factory=dict)  # Prometheus job → targets up
    queue_depth: float | None = None
    queue_in_flight: float | None = None
    orders_accepted: float | None = None
    orders_processed: float | None = None
    cache_hit_ratio: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # service → cores
    memory: dict[str, float] = field(default_factory=dict)  # service → bytes
    client: LoadView | None = None

    @classmethod
    def from_samples(cls, samples: list[Sample], t: float | None = None) -> Snapshot:
        """Build a snapshot from the samples of ``ALL_RULES``."""
        found = _Rules(samples)
        users = found.one(rules.LOCUST_USERS)
        client = None
        if users is not None:
            client = LoadView(
                users=users,
                rps=found.one(rules.LOCUST_RPS),
                fail_ratio=found.one(rules.LOCUST_FAILURE_RATIO),
                p95=found.one(rules.LOCUST_P95),
                hdr_p95=found.one(rules.LOCUST_HDR_P95),
                late_rate=found.one(rules.LOCUST_LATE_RATE),
                dropped_rate=found.one(rules.LOCUST_DROPPED_RATE),
            )
        return cls(
            t=time.time() if t is None else t,
            rps=found.one(rules.API_RPS),
            lb_rps=found.one(rules.LB_RPS),
            p50=found.one(rules.API_P50),
            p95=found.one(rules.API_P95),
            p99=found.one(rules.API_P99),
            error_ratio=found.one(rules.API_ERROR_RATIO),
            api_replicas=found.one(rules.API_REPLICAS),
            worker_replicas=found.one(rules.WORKER_REPLICAS),
            replicas=found.by(rules.SERVICE_REPLICAS, "job"),
            queue_depth=found.one(rules.QUEUE_DEPTH),
            queue_in_flight=found.one(rules.QUEUE_IN_FLIGHT),
            orders_accepted=found.one(rules.ORDERS_ACCEPTED_RATE),
            orders_processed=found.one(rules.ORDERS_PROCESSED_RATE),
            cache_hit_ratio=found.one(rules.CACHE_HIT_RATIO),
            cpu=found.by(rules.PROCESS_CPU, "service"),
            memory=found.by(rules.PROCESS_MEMORY, "service"),
            client=client,
        )


class _Rules:
    """The samples of one ``ALL_RULES`` query, grouped by rule name; NaN is no data."""

    def __init__(self, samples: list[Sample]) -> None:
        self._by_name: dict[str, list[Sample]] = {}
        for sample in samples:
            if not math.isnan(sample.value):
                self._by_name.setdefault(sample.labels.get("__name__", ""), []).append(sample)

    def one(self, name: str) -> float | None:
        found = self._by_name.get(name)
        return found[0].value if found else None

    def by(self, name: str, label: str) -> dict[str, float]:
        found = self._by_name.get(name, [])
        return dict(sorted((s.labels.get(label, "?"), s.value) for s in found))


def take_snapshot(prom: PrometheusClient) -> Snapshot:
    """Every ``lab:`` rule's current value. Raises ``PrometheusError`` if unreachable."""
    return Snapshot.from_samples(prom.query(ALL_RULES))


@dataclass
class Watcher:
    """Snapshots at a fixed interval, plus a rolling req/s history for the sparkline."""

    prom: PrometheusClient
    interval: float = 1.0
    history: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_S))

    def check(self) -> None:
        """Fail with one clear error when Prometheus does not answer."""
        if not self.prom.ready():
            raise PrometheusError(
                f"Prometheus at {self.prom.url} does not answer",
                hint="is the lab up? see `lab status`, start it with `lab up`",
            )

    def backfill(self, seconds: float = 60.0) -> None:
        """Seed the history from Prometheus, so the sparkline is full from the first frame."""
        end = time.time()
        series = self.prom.query_range(rules.API_RPS, end - seconds, end, max(self.interval, 1.0))
        if series:
            self.history.extend(0.0 if math.isnan(v) else v for _, v in series[0].points)

    def snapshot(self) -> Snapshot:
        snap = take_snapshot(self.prom)
        self.history.append(snap.rps or 0.0)
        return snap

    def frames(self) -> Iterator[Snapshot]:
        """One snapshot per interval, on a steady beat (slow queries do not add drift)."""
        next_at = time.monotonic()
        while True:
            yield self.snapshot()
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.monotonic()))
