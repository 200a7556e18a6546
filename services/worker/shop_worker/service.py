"""One worker process: pull orders from the shared durable consumer until SIGTERM.

Several processes bind the same durable pull consumer (``workers`` on ``ORDERS``), so
JetStream spreads messages across them; adding workers adds throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shop_api import queue
from shop_api.db import create_pool
from shop_api.lifecycle import retrying
from shop_api.schema import ensure_schema
from shop_worker.config import WorkerSettings
from shop_worker.httpd import MetricsServer
from shop_worker.metrics import WorkerMetrics
from shop_worker.processor import OrderProcessor

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 30.0
FETCH_TIMEOUT_S = 1.0
DEPTH_INTERVAL_S = 1.0


def consumer_config(settings: WorkerSettings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=queue.CONSUMER,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.worker_ack_wait_s,
        # Unlimited: a message is only dropped on purpose (term) for poison, never because
        # Postgres was down for a while and the redeliveries ran out.
        max_deliver=-1,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=queue.SUBJECT,
    )


class Worker:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.metrics = WorkerMetrics(settings.slo_seconds)
        self.stopping = asyncio.Event()
        self.ready = False
        self.nc: Any = None
        self.http = MetricsServer(self.metrics.registry, self._health)

    def _health(self) -> str | None:
        if not self.ready:
            return "starting"
        if self.stopping.is_set():
            return "stopping"
        if self.nc is None or not self.nc.is_connected:
            return "not connected to NATS"
        return None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        await self.http.start(self.settings.worker_host, self.settings.worker_metrics_port)
        pool = await retrying(
            f"postgres at {self.settings.pg_host}:{self.settings.pg_port}",
            lambda: create_pool(self.settings, min_size=1, max_size=2),
            timeout=STARTUP_TIMEOUT_S,
        )
        try:
            async with pool.acquire() as conn:
                await ensure_schema(conn)  # the API seeds; the worker needs the tables only
            self.nc = await queue.connect(
                self.settings,
                name=f"shop-worker-{self.settings.replica}",
                timeout=STARTUP_TIMEOUT_S,
            )
            js = self.nc.jetstream()
            await retrying("the JetStream stream", lambda: queue.ensure_stream(js), timeout=10)
            await js.add_consumer(queue.STREAM, consumer_config(self.settings))
            sub = await js.pull_subscribe_bind(durable=queue.CONSUMER, stream=queue.STREAM)
            depth = asyncio.create_task(self._watch_depth(js), name="queue-depth")
            self.ready = True
            log.info(
                "worker %s consuming %s/%s", self.settings.replica, queue.STREAM, queue.CONSUMER
            )
            try:
                await self._consume(
                    sub, OrderProcessor(pool, self.settings, self.metrics, self.stopping)
                )
            finally:
                depth.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await depth
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sub.unsubscribe(), timeout=2)
        finally:
            await self._close(pool)

    async def _consume(self, sub: Any, processor: OrderProcessor) -> None:
        while not self.stopping.is_set():
            try:
                messages = await sub.fetch(1, timeout=FETCH_TIMEOUT_S)
            except TimeoutError:
                continue  # nothing queued (nats.errors.TimeoutError is a TimeoutError)
            except Exception as exc:  # disconnected: the client reconnects by itself
                log.warning("fetch failed: %s: %s", type(exc).__name__, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 1.0)
                continue
            for msg in messages:
                try:
                    await processor.handle(msg)
                except Exception as exc:  # e.g. the ack could not be sent: redelivered later
                    log.warning("message not settled: %s: %s", type(exc).__name__, exc)

    async def _watch_depth(self, js: Any) -> None:
        last_warning = 0.0
        while True:
            try:
                info = await js.consumer_info(queue.STREAM, queue.CONSUMER)
                self.metrics.pending.set(info.num_pending or 0)
                self.metrics.ack_pending.set(info.num_ack_pending or 0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS away: keep the last values, try again
                if time.monotonic() - last_warning > 10:
                    last_warning = time.monotonic()
                    log.warning("consumer info: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(DEPTH_INTERVAL_S)

    async def _close(self, pool: Any) -> None:
        if self.nc is not None:
            # close, not drain: draining a pull subscription can wait for messages that
            # will never be processed. Anything unacked is redelivered to another worker.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), timeout=2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.close(), timeout=5)
        await self.http.close()
        log.info("worker %s stopped", self.settings.replica)
