"""One dependency's defences together: breaker, deadline, retries, and their metrics.

``attempt()`` is one try (for a block that is not safe to repeat, such as a transaction
that inserts an order); ``call(op, idempotent=...)`` retries ``op`` per the policy when it
is idempotent. Only the dependency's own failures (``failures``: unreachable, timed out)
count against the breaker and are retried; any other exception (a 404, a constraint)
means the dependency answered, and passes through untouched.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from shop_api.errors import BackendUnavailable
from shop_api.resilience import deadline
from shop_api.resilience.breaker import CircuitBreaker, State
from shop_api.resilience.metrics import ResilienceMetrics
from shop_api.resilience.retry import RetryBudget, RetryPolicy

T = TypeVar("T")


class BreakerOpen(BackendUnavailable):
    """The dependency's breaker is open: answered at once, 503 with the cool-down left."""

    def __init__(self, dependency: str, retry_after_s: float) -> None:
        super().__init__(dependency, "circuit breaker open after repeated failures")
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class InjectedFailure(BackendUnavailable):
    """An attempt failed by an ``errors`` fault on the dependency (``lab fault app errors
    --dependency``): the dependency did the work, the answer was lost on the way back.
    Only ``call()`` injects it (reads and other single calls), never ``attempt()``: a
    transaction that stored an order is not reported failed."""

    def __init__(self, dependency: str) -> None:
        super().__init__(dependency, "injected fault: the answer was lost")


class Guard:
    def __init__(
        self,
        dependency: str,
        *,
        failures: tuple[type[BaseException], ...],
        policy: RetryPolicy,
        budget: RetryBudget,
        breaker: CircuitBreaker | None,
        metrics: ResilienceMetrics,
        uniform: Callable[[float, float], float] = random.uniform,
        inject: Callable[[str], bool] = lambda dependency: False,
    ) -> None:
        self.dependency = dependency
        self.inject = inject  # an injected fault: whether this attempt fails after the work
        self.failures = failures
        self.policy = policy
        self.budget = budget
        self.breaker = breaker
        self.uniform = uniform
        self._calls, self._attempts, self._failures, self._retries = (
            counter.labels(dependency)
            for counter in (metrics.calls, metrics.attempts, metrics.failures, metrics.retries)
        )
        self._exhausted = metrics.budget_exhausted.labels(dependency)
        self._late = metrics.deadline_exceeded.labels(dependency)
        self._rejected = metrics.breaker_rejected.labels(dependency)
        if breaker is not None:
            state = metrics.breaker_state.labels(dependency)
            transitions = metrics.breaker_transitions

            def moved(old: State, new: State) -> None:
                state.set(new)
                transitions.labels(dependency, new.name.lower()).inc()

            breaker.on_transition = moved

    def _admit(self) -> None:
        """Refuse a try when the deadline is spent or the breaker open; else count it."""
        try:
            deadline.check(self.dependency)
        except deadline.DeadlineExceeded:
            self._late.inc()
            raise
        breaker = self.breaker
        if breaker is not None and not breaker.allow():
            self._rejected.inc()
            raise BreakerOpen(self.dependency, breaker.retry_after_s())
        self._attempts.inc()

    def _settle(self, error: BaseException | None) -> None:
        """Record a try's outcome: answered (no error, or an error that is the caller's),
        failed (the dependency's failure or a missed deadline), or unknown (cancelled)."""
        failed: bool | None = False
        if isinstance(error, deadline.DeadlineExceeded):
            self._late.inc()
            failed = True
        elif isinstance(error, self.failures):
            failed = True
        elif error is not None and not isinstance(error, Exception):
            failed = None  # CancelledError: the caller went away, nothing was learnt
        if failed:
            self._failures.inc()
        if self.breaker is not None:
            if failed is None:
                self.breaker.release()
            else:
                self.breaker.record(failed=failed)

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """The block as one call of one try, never retried (a transaction that inserts):
        refused if the deadline is spent or the breaker open, bounded by the deadline,
        its outcome recorded."""
        self._calls.inc()
        self._admit()
        try:
            async with deadline.bounded(self.dependency):
                yield
        except BaseException as exc:
            self._settle(exc)
            raise
        self._settle(None)

    async def _once(self, op: Callable[[], Awaitable[T]]) -> T:
        """One try of ``op``: ``attempt()`` without its context managers, as this is the
        hot path of every cached read."""
        self._admit()
        try:
            if deadline.remaining() is None:
                result = await op()
            else:
                async with deadline.bounded(self.dependency):
                    result = await op()
            if self.inject(self.dependency):
                raise InjectedFailure(self.dependency)
        except BaseException as exc:
            self._settle(exc)
            raise
        self._settle(None)
        return result

    async def call(self, op: Callable[[], Awaitable[T]], *, idempotent: bool = True) -> T:
        """``op()`` as one call; retried per the policy when ``idempotent``."""
        self._calls.inc()
        self.budget.deposit()
        retry = 0
        while True:
            try:
                return await self._once(op)
            except (deadline.DeadlineExceeded, BreakerOpen):
                raise
            except self.failures:
                retry += 1
                if not idempotent or retry >= self.policy.max_attempts:
                    raise
                pause = self.policy.delay(retry, self.uniform)
                left = deadline.remaining()
                if left is not None and pause >= left:
                    raise  # the retry could not finish in time
                if self.policy.mode == "budgeted" and not self.budget.withdraw():
                    self._exhausted.inc()
                    raise
            self._retries.inc()
            if pause > 0:
                await asyncio.sleep(pause)
