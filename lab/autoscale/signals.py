"""What the autoscaler reads: per-replica API metrics from Prometheus, the queue's lag
from NATS (as KEDA's JetStream scaler does: the consumer's num_pending + num_ack_pending,
so the lag is known with no worker running). HAProxy's per-server counters, for the
moment a new replica serves its first request, come from ``lab.runtime.lb_stats``.
"""

from __future__ import annotations

import asyncio
import logging
import math

from lab.autoscale.hpa import Sample
from lab.autoscale.policy import HpaPolicy
from lab.defaults import ORDERS_CONSUMER, ORDERS_STREAM
from lab.errors import PrometheusError
from lab.metrics.prom import PrometheusClient

log = logging.getLogger(__name__)

_API = 'job="api",route!~"/metrics|/healthz|/readyz"'
_LIVE = ' and on (instance) (up{job="api"} == 1)'  # a retired replica's last samples linger
_INSIDE = 'sum by (instance) (rate(shop_http_in_flight_seconds_total{job="api"}[{w}]))'
_WAITING = 'sum by (instance) (rate(shop_concurrency_wait_seconds_sum{job="api"}[{w}]))'
_SLOTS = 'sum by (instance) (avg_over_time(shop_concurrency_limit{job="api"}[{w}]))'
PER_REPLICA = {
    # Little's L per replica (working + waiting) over its slots: above 1 when it queues
    "concurrency": f"({_INSIDE}) / ({_SLOTS})",
    "slots": f"clamp_min(({_INSIDE}) - ({_WAITING}), 0) / ({_SLOTS})",
    "cpu": 'sum by (instance) (rate(lab_process_cpu_seconds_total{service="api"}[{w}]))',
    "rps": f"sum by (instance) (rate(shop_http_requests_total{{{_API}}}[{{w}}]))",
}
P95 = (
    "histogram_quantile(0.95, sum by (le) "
    f"(rate(shop_http_request_duration_seconds_bucket{{{_API}}}[{{w}}])))"
)


def api_samples(
    prom: PrometheusClient, policy: HpaPolicy, ready: int, not_ready: list[str]
) -> tuple[list[Sample], float | None]:
    """The readings of one sync: per replica (``value`` the mean of the ready ones), or,
    for p95, no per-replica samples and the service's value. A ready replica Prometheus
    has no reading of yet (a new target, scraped once a second) is a missing sample."""
    w = f"{max(round(policy.window_s), 2)}s"
    waiting = [Sample(name, None, ready=False) for name in not_ready]
    if policy.metric == "p95":
        return waiting, _scalar(prom, P95.replace("{w}", w))
    expr = PER_REPLICA[policy.metric].replace("{w}", w)
    if policy.metric != "cpu":
        expr = f"({expr}){_LIVE}"
    try:
        found = prom.query(expr)
    except PrometheusError as exc:
        log.warning("autoscaler: %s: %s", expr, exc)
        return waiting, None
    samples = [
        Sample(s.labels.get("instance", "?"), _finite(s.value))
        for s in found
        if s.labels.get("instance") not in not_ready
    ]
    samples.sort(key=lambda s: s.replica)
    samples += [Sample(f"(no reading {i + 1})", None) for i in range(ready - len(samples))]
    read = [s.value for s in samples if s.value is not None]
    mean = sum(read) / len(read) if read else None
    return samples + waiting, mean


def _scalar(prom: PrometheusClient, expr: str) -> float | None:
    try:
        return _finite(prom.scalar(expr))
    except PrometheusError as exc:
        log.warning("autoscaler: %s: %s", expr, exc)
        return None


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def queue_lag(nats_url: str) -> int | None:
    """The orders consumer's lag (None when NATS does not answer)."""
    try:
        return asyncio.run(_lag(nats_url))
    except Exception as exc:  # a missed poll is a missing metric, not a crash
        log.warning("autoscaler: queue lag: %s", exc)
        return None


async def _lag(nats_url: str) -> int:
    import nats

    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        info = await nc.jetstream().consumer_info(ORDERS_STREAM, ORDERS_CONSUMER)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    finally:
        await nc.close()
