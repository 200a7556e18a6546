"""A circuit breaker: stop calling a dependency that is failing, probe it after a pause.

::

    CLOSED --(failures: N in a row, or ≥ ratio of ≥ min_calls in the window)--> OPEN
    OPEN --(cool-down passed: the next call is let through as a probe)--> HALF_OPEN
    HALF_OPEN --(probe succeeds)--> CLOSED      HALF_OPEN --(probe fails)--> OPEN

While open, ``allow()`` is False at once: a caller answers fast (503 with ``Retry-After``
the cool-down left) or degrades (the cache is skipped) instead of waiting on a dependency
that is down, and the dependency gets room to recover. Half-open lets one probe through at
a time (one that never reports expires after a cool-down). The clock is injected, so the
state machine is tested without sleeping.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum


class State(IntEnum):
    """The value of the ``shop_breaker_state`` gauge: higher is worse."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True)
class BreakerConfig:
    consecutive_failures: int = 5
    failure_ratio: float = 0.5
    min_calls: int = 10
    window_s: float = 10.0
    cooldown_s: float = 5.0


class CircuitBreaker:
    """One dependency's breaker; ``on_transition(old, new)`` feeds the metrics."""

    def __init__(
        self,
        config: BreakerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: Callable[[State, State], None] = lambda old, new: None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.on_transition = on_transition
        self.state = State.CLOSED
        self.opened_at = 0.0
        self.consecutive = 0
        self.outcomes: deque[tuple[float, bool]] = deque()  # (when, failed)
        self.probing_since: float | None = None

    def _move(self, new: State) -> None:
        old, self.state = self.state, new
        if new is State.OPEN:
            self.opened_at = self.clock()
        if new is State.CLOSED:
            self.consecutive = 0
            self.outcomes.clear()
        self.probing_since = None
        if old is not new:
            self.on_transition(old, new)

    def retry_after_s(self) -> float:
        """Seconds until the breaker lets a probe through (0 unless open)."""
        if self.state is not State.OPEN:
            return 0.0
        return max(0.0, self.opened_at + self.config.cooldown_s - self.clock())

    def allow(self) -> bool:
        """May a call go to the dependency now? (An allowed half-open call is the probe.)"""
        if self.state is State.OPEN:
            if self.retry_after_s() > 0:
                return False
            self._move(State.HALF_OPEN)
        if self.state is State.HALF_OPEN:
            now = self.clock()
            # a probe that never reported (its caller was cancelled) expires after a cool-down
            since = self.probing_since
            if since is not None and now - since < self.config.cooldown_s:
                return False
            self.probing_since = now
        return True

    def release(self) -> None:
        """A call ``allow()`` let through ended without telling anything about the
        dependency (cancelled): a half-open breaker may send another probe."""
        if self.state is State.HALF_OPEN:
            self.probing_since = None

    def record(self, *, failed: bool) -> None:
        """The outcome of a call ``allow()`` let through."""
        if self.state is State.HALF_OPEN:
            self._move(State.OPEN if failed else State.CLOSED)
            return
        if self.state is State.OPEN:  # a call started before the breaker opened
            return
        now = self.clock()
        self.outcomes.append((now, failed))
        while self.outcomes and self.outcomes[0][0] < now - self.config.window_s:
            self.outcomes.popleft()
        self.consecutive = self.consecutive + 1 if failed else 0
        if self.consecutive >= self.config.consecutive_failures or self._ratio_tripped():
            self._move(State.OPEN)

    def _ratio_tripped(self) -> bool:
        calls = len(self.outcomes)
        if calls < self.config.min_calls:
            return False
        failures = sum(1 for _, failed in self.outcomes if failed)
        return failures / calls >= self.config.failure_ratio
