"""Admission control: a bounded wait for a work slot, then a fast 503 (load shedding).

Without it (the default) a request over the replica's concurrency waits for a slot as
long as it takes: under overload the queue grows, every request waits longer than the
SLO, and the replica serves at full speed while delivering almost no goodput. With
``LAB_API_QUEUE_TIMEOUT_MS`` a request waits at most that long, and with
``LAB_API_MAX_WAITERS`` it is refused at once when that many already wait; a refused
request is a 503 with ``Retry-After`` and a reason, counted in
``shop_shed_requests_total{reason}``. What is admitted is served within its SLO, so
goodput stays near capacity (the ``overload`` lesson).
"""

from __future__ import annotations

import asyncio
from typing import Literal

from shop_api.errors import BackendUnavailable

ShedReason = Literal["queue_full", "queue_timeout"]
SHED_REASONS: tuple[ShedReason, ...] = ("queue_full", "queue_timeout")


class Shed(BackendUnavailable):
    """A request refused by admission control: a 503 with ``Retry-After`` like any
    outage, so the fast path and the routes answer it without knowing about it."""

    def __init__(self, reason: ShedReason, detail: str) -> None:
        self.reason = reason
        super().__init__("work slots", f"{detail}; shed by admission control")


class Admission:
    """The policy: ``queue_timeout_s`` 0 waits for ever, ``max_waiters`` 0 is unbounded."""

    def __init__(self, *, queue_timeout_s: float, max_waiters: int) -> None:
        self.queue_timeout_s = queue_timeout_s
        self.max_waiters = max_waiters

    @property
    def enabled(self) -> bool:
        return self.queue_timeout_s > 0 or self.max_waiters > 0

    def admit(self, waiting: int, concurrency: int) -> None:
        """Raise ``Shed`` if ``waiting`` requests already queue for the slots."""
        if self.max_waiters and waiting >= self.max_waiters:
            raise Shed(
                "queue_full",
                f"all {concurrency} slots busy and {waiting} requests already waiting"
                f" (LAB_API_MAX_WAITERS={self.max_waiters})",
            )

    async def acquire(self, slots: asyncio.Semaphore, concurrency: int) -> None:
        """Take a slot, waiting at most ``queue_timeout_s`` (0: as long as it takes)."""
        if self.queue_timeout_s <= 0:
            await slots.acquire()
            return
        try:
            await asyncio.wait_for(slots.acquire(), self.queue_timeout_s)
        except TimeoutError:
            raise Shed(
                "queue_timeout",
                f"no slot of {concurrency} free within {self.queue_timeout_s * 1000:g} ms"
                " (LAB_API_QUEUE_TIMEOUT_MS)",
            ) from None
