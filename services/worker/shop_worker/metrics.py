"""The worker's Prometheus metrics (names from docs/contracts.md), one registry per process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shop_api.metrics import latency_buckets
from shop_api.queue import CONSUMER, STREAM

ORDER_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class WorkerMetrics:
    def __init__(self, slo_seconds: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.processed = Counter(
            "shop_worker_orders_processed", "Orders marked processed by this worker", registry=r
        )
        self.failed = Counter(
            "shop_worker_orders_failed",
            "Poison messages terminated (bad payload, unknown order)",
            registry=r,
        )
        self.redelivered = Counter(
            "shop_worker_orders_redelivered", "Messages received more than once", registry=r
        )
        self.duplicate = Counter(
            "shop_worker_orders_duplicate",
            "Messages for orders already processed (acked)",
            registry=r,
        )
        self.work_seconds = Gauge(
            "shop_worker_work_seconds",
            "Simulated work per order (LAB_WORKER_WORK_MS)",
            registry=r,
        )
        self.in_flight = Gauge("shop_worker_in_flight", "Messages being processed", registry=r)
        self.processing = Histogram(
            "shop_worker_processing_seconds",
            "Time to handle one message",
            buckets=latency_buckets(slo_seconds),
            registry=r,
        )
        self.order_latency = Histogram(
            "shop_order_latency_seconds",
            "Order accepted -> processed",
            buckets=ORDER_LATENCY_BUCKETS,
            registry=r,
        )
        labels = {"stream": STREAM, "consumer": CONSUMER}
        self.pending = Gauge(
            "shop_queue_pending_messages",
            "JetStream messages not yet delivered",
            ["stream", "consumer"],
            registry=r,
        ).labels(**labels)
        self.ack_pending = Gauge(
            "shop_queue_ack_pending_messages",
            "JetStream messages delivered, not yet acked",
            ["stream", "consumer"],
            registry=r,
        ).labels(**labels)
