"""One worker process: pull orders from the shared durable consumer until SIGTERM.

Several processes bind the same durable pull consumer (``workers`` on ``ORDERS``), so
JetStream spreads messages across them; adding workers adds throughput.

Shutdown (SIGTERM or SIGINT) only sets ``stopping``; everything watches that event:
start-up is abandoned, the fetch loop ends within ``FETCH_TIMEOUT_S``, a message in the
middle of its work is nak'ed, and every close has a deadline. Nothing relies on task
cancellation alone: on Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that
races with its inner future, and a loop that only stops when cancelled then never stops
(the worker used to hang on SIGTERM that way, now and then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shop_api import queue
from shop_api.db import create_pool
from shop_api.lifecycle import bounded, close_pool, retrying
from shop_api.schema import ensure_schema
from shop_worker.config import WorkerSettings
from shop_worker.httpd import MetricsServer
from shop_worker.metrics import WorkerMetrics
from shop_worker.processor import OrderProcessor

log = logging.getLogger(__name__)

T = TypeVar("T")

STARTUP_TIMEOUT_S = 30.0
FETCH_TIMEOUT_S = 1.0
DEPTH_INTERVAL_S = 1.0
CLOSE_TIMEOUT_S = 2.0


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


@dataclass
class Connected:
    pool: Any  # asyncpg.Pool
    js: Any  # nats JetStreamContext
    sub: Any  # the pull subscription bound to the durable consumer


class Worker:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.metrics = WorkerMetrics(settings.slo_seconds)
        self.metrics.work_seconds.set(settings.worker_work_ms / 1000.0)
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

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("worker %s stopping", self.settings.replica)
        self.stopping.set()

    async def run(self) -> None:
        """Serve until ``stop`` (SIGTERM/SIGINT); ``ConnectionError`` if start-up failed."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        async with contextlib.AsyncExitStack() as cleanup:
            await self.http.start(self.settings.worker_host, self.settings.worker_metrics_port)
            cleanup.push_async_callback(self.http.close)
            connected = await self._unless_stopping(self._connect(cleanup))
            if connected is None:
                log.info("worker %s stopped during start-up", self.settings.replica)
                return
            depth = asyncio.create_task(self._watch_depth(connected.js), name="queue-depth")
            cleanup.push_async_callback(bounded, depth, CLOSE_TIMEOUT_S)
            self.ready = True
            log.info(
                "worker %s consuming %s/%s", self.settings.replica, queue.STREAM, queue.CONSUMER
            )
            processor = OrderProcessor(connected.pool, self.settings, self.metrics, self.stopping)
            await self._consume(connected.sub, processor)
        log.info("worker %s stopped", self.settings.replica)

    async def _unless_stopping(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None if ``stopping`` was set first (``work`` is cancelled)."""
        task = asyncio.ensure_future(work)
        stop = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await bounded(task, CLOSE_TIMEOUT_S)
        return None

    async def _connect(self, cleanup: contextlib.AsyncExitStack) -> Connected:
        """Open the pool and NATS, ensure schema, stream and consumer. Every resource is
        pushed on ``cleanup`` as soon as it exists, so an abandoned start-up closes it."""
        settings = self.settings
        pool = await retrying(
            f"postgres at {settings.pg_host}:{settings.pg_port}",
            lambda: create_pool(settings, min_size=1, max_size=2),
            timeout=STARTUP_TIMEOUT_S,
        )
        cleanup.push_async_callback(close_pool, pool, CLOSE_TIMEOUT_S)
        async with pool.acquire() as conn:
            await ensure_schema(conn)  # the API seeds; the worker needs the tables only
        self.nc = await queue.connect(
            settings, name=f"shop-worker-{settings.replica}", timeout=STARTUP_TIMEOUT_S
        )
        # close, not drain: draining a pull subscription can wait for messages that will
        # never be processed. Anything unacked is redelivered to another worker.
        cleanup.push_async_callback(_close_nats, self.nc)
        js = self.nc.jetstream()
        await retrying("the JetStream stream", lambda: queue.ensure_stream(js), timeout=10)
        await js.add_consumer(queue.STREAM, consumer_config(settings))
        sub = await js.pull_subscribe_bind(durable=queue.CONSUMER, stream=queue.STREAM)
        return Connected(pool=pool, js=js, sub=sub)

    async def _consume(self, sub: Any, processor: OrderProcessor) -> None:
        while not self.stopping.is_set():
            try:
                messages = await sub.fetch(1, timeout=FETCH_TIMEOUT_S)
            except TimeoutError:
                continue  # nothing queued (nats.errors.TimeoutError is a TimeoutError)
            except Exception as exc:  # disconnected: the client reconnects by itself
                log.warning("fetch failed: %s: %s", type(exc).__name__, exc)
                await self._pause(1.0)
                continue
            for msg in messages:
                try:
                    await processor.handle(msg)
                except Exception as exc:  # e.g. the ack could not be sent: redelivered later
                    log.warning("message not settled: %s: %s", type(exc).__name__, exc)

    async def _watch_depth(self, js: Any) -> None:
        """Export the consumer's pending and ack-pending counts until ``stopping``."""
        last_warning = 0.0
        while not self.stopping.is_set():
            try:
                info = await asyncio.wait_for(
                    js.consumer_info(queue.STREAM, queue.CONSUMER), DEPTH_INTERVAL_S * 2
                )
                self.metrics.pending.set(info.num_pending or 0)
                self.metrics.ack_pending.set(info.num_ack_pending or 0)
            except Exception as exc:  # NATS away: keep the last values, try again
                if time.monotonic() - last_warning > 10:
                    last_warning = time.monotonic()
                    log.warning("consumer info: %s: %s", type(exc).__name__, exc)
            await self._pause(DEPTH_INTERVAL_S)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if ``stopping`` is set meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)


async def _close_nats(nc: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(nc.close(), CLOSE_TIMEOUT_S)
