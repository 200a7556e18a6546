"""Per-request work under a per-replica concurrency limit.

``io`` mode models a downstream call: the request holds one of ``concurrency`` slots and
awaits for ``work_ms``, so one replica serves at most ``concurrency / work_s`` requests per
second whatever the machine, and adding replicas adds capacity. ``cpu`` mode burns real
CPU for ``work_ms`` while holding the slot and blocks the event loop, as real CPU-bound
code does, so capacity is bounded by cores. Requests over the limit wait for a slot; the
wait is measured (``shop_concurrency_waiting``, ``shop_concurrency_wait_seconds``), and
bounded when admission control is on (``shop_api.admission``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from shop_api.admission import Admission, Shed
from shop_api.metrics import WORK_MODES, ApiMetrics


def burn_cpu(seconds: float) -> int:
    """Hash in a tight loop until this thread used ``seconds`` of CPU; return the rounds."""
    deadline = time.thread_time() + seconds
    digest = b"prodlab"
    rounds = 0
    while time.thread_time() < deadline:
        for _ in range(64):
            digest = hashlib.sha256(digest).digest()
        rounds += 64
    return rounds


class WorkLimiter:
    def __init__(
        self,
        *,
        mode: Literal["io", "cpu"],
        work_ms: float,
        concurrency: int,
        metrics: ApiMetrics,
        admission: Admission | None = None,
    ) -> None:
        self.mode = mode
        self.work_s = work_ms / 1000.0
        self.concurrency = concurrency
        self.metrics = metrics
        self._slots = asyncio.Semaphore(concurrency)
        self.admission = admission or Admission(queue_timeout_s=0, max_waiters=0)
        # requests past admission, holding a slot or waiting for one: counted here, at
        # once, because a semaphore taken through asyncio.wait_for is taken a tick later
        # (in a task of its own), and a burst inside that tick would all see it free
        self._inside = 0
        metrics.concurrency_limit.set(concurrency)
        metrics.work_seconds.set(self.work_s)
        for known in WORK_MODES:
            metrics.work_mode.labels(mode=known).set(1 if known == mode else 0)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a slot, do the simulated work, and run the caller's body in the slot."""
        start = time.perf_counter()
        waiting = self._inside - self.concurrency
        if waiting >= 0:  # a request that finds a free slot is never shed
            try:
                self.admission.admit(waiting, self.concurrency)
            except Shed as shed:
                self.metrics.shed.labels(reason=shed.reason).inc()
                raise
        self._inside += 1
        try:
            self.metrics.concurrency_waiting.inc()
            try:
                await self.admission.acquire(self._slots, self.concurrency)
            except Shed as shed:
                self.metrics.shed.labels(reason=shed.reason).inc()
                raise
            finally:
                self.metrics.concurrency_waiting.dec()
            self.metrics.concurrency_wait.observe(time.perf_counter() - start)
            try:
                await self._work()
                yield
            finally:
                self._slots.release()
        finally:
            self._inside -= 1

    async def _work(self) -> None:
        if self.work_s <= 0:
            return
        if self.mode == "io":
            await asyncio.sleep(self.work_s)
        else:
            burn_cpu(self.work_s)
