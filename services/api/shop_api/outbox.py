"""Transactional outbox: no order the API accepted is ever lost on its way to the queue.

``POST /orders`` writes the order and an outbox row in one transaction and answers 202
after the commit. Then:

* at once, ``publish_soon`` publishes the message and deletes the row on JetStream's ack;
* every replica runs ``run_relay``, which re-publishes rows older than ``RELAY_AGE_S``
  (``FOR UPDATE SKIP LOCKED``, so replicas share the backlog without double work). That
  covers a failed publish, a NATS outage and a replica killed between commit and publish.

A row can be published twice (the ack was lost, or both paths raced). Every publish
carries ``Nats-Msg-Id: <order id>``, so JetStream drops repeats inside its duplicate
window, and the worker is idempotent for whatever gets past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shop_api.db import Database
from shop_api.metrics import ApiMetrics
from shop_api.queue import MSG_ID_HEADER, STREAM, SUBJECT
from shop_api.resilience import deadline
from shop_api.resilience.guard import Guard

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 2.0
RELAY_INTERVAL_S = 0.5
RELAY_AGE_S = 1.0
RELAY_BATCH = 200


@dataclass(frozen=True)
class OrderMessage:
    """What the worker receives; it re-reads the order from Postgres by id."""

    order_id: UUID
    product_id: int
    quantity: int

    def encode(self) -> bytes:
        body = {
            "order_id": str(self.order_id),
            "product_id": self.product_id,
            "quantity": self.quantity,
        }
        return json.dumps(body).encode()


class Outbox:
    def __init__(
        self, db: Database, js: Any, metrics: ApiMetrics, guard: Guard, *, budget_s: float = 0.0
    ) -> None:
        self.db = db
        self.js = js
        self.metrics = metrics
        self.guard = guard
        self.budget_s = budget_s
        self._pending: set[asyncio.Task[None]] = set()

    async def add(self, conn: Any, message: OrderMessage) -> None:
        """Insert the outbox row; call inside the transaction that inserts the order."""
        await conn.execute(
            "INSERT INTO outbox (order_id, subject, payload) VALUES ($1, $2, $3)",
            message.order_id,
            SUBJECT,
            message.encode(),
        )

    def publish_soon(self, message: OrderMessage) -> None:
        """Publish after the commit without holding up the 202; the relay is the backstop.

        The publish gets a deadline of its own (``LAB_API_DEADLINE_MS``), not what the
        request has left: the order is committed, and the answer does not wait for it."""
        context = deadline.detached(self.budget_s)
        task = asyncio.create_task(self._publish_and_clear(message), context=context)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, order_id: str, payload: bytes) -> bool:
        try:
            await self.guard.call(
                lambda: self.js.publish(
                    SUBJECT,
                    payload,
                    timeout=PUBLISH_TIMEOUT_S,
                    stream=STREAM,
                    headers={MSG_ID_HEADER: order_id},
                ),
                idempotent=False,  # the relay is the retry
            )
        except Exception as exc:  # any failure leaves the row for the relay
            self.metrics.queue_publish.labels(result="error").inc()
            log.debug("publish of order %s failed: %s: %s", order_id, type(exc).__name__, exc)
            return False
        self.metrics.queue_publish.labels(result="ok").inc()
        return True

    async def _publish_and_clear(self, message: OrderMessage) -> None:
        order_id = str(message.order_id)
        if not await self._publish(order_id, message.encode()):
            return
        try:
            async with self.db.connection() as conn, self.db.timed("outbox_delete"):
                await conn.execute("DELETE FROM outbox WHERE order_id = $1", message.order_id)
        except Exception as exc:  # the relay re-publishes; JetStream drops the duplicate
            log.warning("outbox row of order %s not deleted: %s", order_id, exc)

    async def relay_once(self) -> int:
        """Publish the rows older than RELAY_AGE_S; return how many were published."""
        published: list[int] = []
        async with self.db.connection() as conn, conn.transaction():
            async with self.db.timed("outbox_claim"):
                rows = await conn.fetch(
                    "SELECT id, order_id, payload FROM outbox"
                    " WHERE created_at < now() - make_interval(secs => $1)"
                    " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                    RELAY_AGE_S,
                    RELAY_BATCH,
                )
            for row in rows:
                if not await self._publish(str(row["order_id"]), bytes(row["payload"])):
                    await conn.execute(
                        "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1", row["id"]
                    )
                    break  # NATS is unhappy: leave the rest for the next round
                published.append(row["id"])
            if published:
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", published)
        return len(published)

    async def refresh_backlog(self) -> None:
        backlog = await self.db.fetchval("outbox_backlog", "SELECT count(*) FROM outbox")
        self.metrics.outbox_backlog.set(float(backlog))

    async def run_relay(self, stopping: asyncio.Event) -> None:
        """Until ``stopping``: relay old rows and export the backlog. Errors are logged,
        not fatal (Postgres or NATS down: try again next round)."""
        while not stopping.is_set():
            try:
                relayed = await self.relay_once()
                if relayed:
                    log.info("outbox relay published %d order(s)", relayed)
                await self.refresh_backlog()
            except Exception as exc:
                log.warning("outbox relay: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RELAY_INTERVAL_S)

    async def drain(self, timeout: float) -> None:
        """Give in-flight publishes a moment at shutdown; the relay covers the rest."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)
