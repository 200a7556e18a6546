"""What one message does: an idempotent state change in Postgres, then the ack.

JetStream delivers at least once (a worker that dies before acking has its message
redelivered after ``ack_wait``). Processing is made effectively-once by the database:

1. ``attempts = attempts + 1`` in its own statement, so every delivery is visible;
2. the work (``LAB_WORKER_WORK_MS``), with ``in_progress`` heartbeats while alive;
3. one transaction: ``accepted -> processed`` only if still accepted, and the stock drops
   only if that row changed, so a redelivered order never takes stock twice;
4. commit, *then* ack. Dying between 3 and 4 means a redelivery that finds the order
   processed: counted as a duplicate and acked.

Poison messages (bad payload, unknown order) are terminated, never retried forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from enum import Enum
from typing import Any
from uuid import UUID

from shop_api.errors import POSTGRES_DOWN
from shop_worker.config import WorkerSettings
from shop_worker.metrics import WorkerMetrics

log = logging.getLogger(__name__)

RETRY_DELAY_S = 1.0

COUNT_ATTEMPT = "UPDATE orders SET attempts = attempts + 1 WHERE id = $1 RETURNING status"
MARK_PROCESSED = (
    "UPDATE orders SET status = 'processed', processed_at = now()"
    " WHERE id = $1 AND status = 'accepted'"
    " RETURNING product_id, quantity, created_at, processed_at"
)
TAKE_STOCK = "UPDATE products SET stock = stock - $2, updated_at = now() WHERE id = $1"


class Outcome(Enum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    POISON = "poison"
    RETRY = "retry"  # Postgres unreachable: nak with a delay
    INTERRUPTED = "interrupted"  # shutting down mid-work: nak for another worker


def parse_order_id(data: bytes) -> UUID:
    """The order id in a message body; ``ValueError`` if the body is not one of ours."""
    try:
        body = json.loads(data)
        return UUID(str(body["order_id"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not an order message: {data[:80]!r}") from exc


class OrderProcessor:
    def __init__(
        self, pool: Any, settings: WorkerSettings, metrics: WorkerMetrics, stopping: asyncio.Event
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.metrics = metrics
        self.stopping = stopping

    async def handle(self, msg: Any) -> Outcome:
        start = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            outcome = await self._handle(msg)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.processing.observe(time.perf_counter() - start)
        log.debug("message %s: %s", msg.metadata.sequence.stream, outcome.value)
        return outcome

    async def _handle(self, msg: Any) -> Outcome:
        if msg.metadata.num_delivered > 1:
            self.metrics.redelivered.inc()
        try:
            order_id = parse_order_id(msg.data)
        except ValueError as exc:
            return await self._poison(msg, str(exc))
        try:
            async with self.pool.acquire() as conn:
                status = await conn.fetchval(COUNT_ATTEMPT, order_id)
            if status is None:
                return await self._poison(msg, f"order {order_id} does not exist")
            if status == "processed":
                self.metrics.duplicate.inc()
                await msg.ack()
                return Outcome.DUPLICATE
            if not await self._work(msg):
                await msg.nak()
                return Outcome.INTERRUPTED
            async with self.pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(MARK_PROCESSED, order_id)
                if row is not None:
                    await conn.execute(TAKE_STOCK, row["product_id"], row["quantity"])
        except POSTGRES_DOWN as exc:
            log.warning("order %s: postgres unavailable (%s); retrying later", order_id, exc)
            await msg.nak(delay=RETRY_DELAY_S)
            return Outcome.RETRY
        await msg.ack()  # only after the commit
        if row is None:
            self.metrics.duplicate.inc()
            return Outcome.DUPLICATE
        self.metrics.processed.inc()
        latency = (row["processed_at"] - row["created_at"]).total_seconds()
        self.metrics.order_latency.observe(max(0.0, latency))
        return Outcome.PROCESSED

    async def _work(self, msg: Any) -> bool:
        """Sleep ``worker_work_ms``, heartbeating; False if asked to stop meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.worker_work_ms / 1000.0
        while (remaining := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(
                    self.stopping.wait(), min(remaining, self.settings.heartbeat_s)
                )
            except TimeoutError:
                if deadline - loop.time() > 0:
                    await msg.in_progress()
                continue
            return False
        return True

    async def _poison(self, msg: Any, why: str) -> Outcome:
        log.warning("terminating message %s: %s", msg.metadata.sequence.stream, why)
        self.metrics.failed.inc()
        await msg.term()
        return Outcome.POISON
