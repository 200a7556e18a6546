"""Backpressure on orders: refuse new ones (503, ``Retry-After``) while too many wait.

The backlog is every order accepted (202) and not yet processed: outbox rows not yet
published plus the messages in the ORDERS stream (a work queue: a message leaves it once
a worker acks it). When it reaches ``LAB_ORDERS_MAX_BACKLOG``, ``POST /orders`` answers
503 before touching the database, so a client backs off instead of piling up work the
workers cannot drain. Nothing accepted is dropped: the bound only refuses new orders.

The count is refreshed every ``REFRESH_S`` by each replica, so the bound is soft: it can
be overshot by what arrives within one refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import HTTPException

from shop_api.db import Database
from shop_api.metrics import ApiMetrics
from shop_api.queue import STREAM

log = logging.getLogger(__name__)

REFRESH_S = 0.25
RETRY_AFTER_S = 1


class OrderBackpressure:
    def __init__(self, max_backlog: int, metrics: ApiMetrics) -> None:
        self.max_backlog = max_backlog
        self.metrics = metrics
        self.backlog = 0
        metrics.orders_max_backlog.set(max_backlog)

    def admit(self) -> None:
        """Raise a 503 if the last seen backlog is at its bound (off when it is 0)."""
        if self.max_backlog and self.backlog >= self.max_backlog:
            self.metrics.orders_refused.inc()
            raise HTTPException(
                503,
                f"order backlog {self.backlog} at its bound of {self.max_backlog} orders"
                " (LAB_ORDERS_MAX_BACKLOG): retry later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )

    async def refresh(self, db: Database, js: Any) -> None:
        outbox = int(await db.fetchval("outbox_backlog", "SELECT count(*) FROM outbox"))
        info = await js.stream_info(STREAM)
        self.backlog = outbox + int(info.state.messages)
        self.metrics.order_backlog.set(self.backlog)

    async def run(self, db: Database, js: Any, stopping: asyncio.Event) -> None:
        """Refresh the backlog until ``stopping``; a failed refresh keeps the last count."""
        while not stopping.is_set():
            try:
                await self.refresh(db, js)
            except Exception as exc:
                log.debug("order backlog not refreshed: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), REFRESH_S)
