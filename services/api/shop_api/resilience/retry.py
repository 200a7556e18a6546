"""Retries: exponential backoff with full jitter, and a retry budget.

Full jitter (AWS Builders' Library, "Timeouts, retries and backoff with jitter"): before
retry ``n`` (1, 2, ...) sleep a uniform time in ``[0, min(cap, base × 2^(n-1))]``, so the
retries of many clients that failed together spread out instead of arriving in waves.

The budget (Finagle's ``RetryBudget``, gRPC's retry throttling): every first attempt
deposits ``ratio`` tokens, every retry withdraws one, and the bucket holds at most
``burst``. Over any stretch, retries ≤ ``ratio`` × calls + ``burst``: with 10 % a dependency
that fails every call sees at most 1.1× its calls, not (1 + retries)×.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

RetryMode = Literal["off", "naive", "budgeted"]
RETRY_MODES: tuple[RetryMode, ...] = ("off", "naive", "budgeted")

BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 0.2
BUDGET_BURST = 10.0
"""Retries the budget allows before any call has paid for them (a cold start)."""


def full_jitter(
    retry: int,
    *,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """The sleep before retry number ``retry`` (1 for the first retry)."""
    if retry < 1:
        raise ValueError(f"retry must be >= 1, got {retry}")
    ceiling = min(cap_s, base_s * 2 ** (retry - 1))
    return uniform(0.0, ceiling)


class RetryBudget:
    """A token bucket: ``deposit()`` per call, ``withdraw()`` per retry."""

    def __init__(self, ratio: float, burst: float = BUDGET_BURST) -> None:
        if not 0 <= ratio <= 1:
            raise ValueError(f"ratio must be within 0..1, got {ratio}")
        self.ratio = ratio
        self.burst = burst
        self.tokens = burst

    def deposit(self) -> None:
        self.tokens = min(self.burst, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        """True (and one token spent) when a retry is allowed now."""
        if self.tokens < 1 - 1e-9:  # ten deposits of 0.1 make 0.999...
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class RetryPolicy:
    """How one dependency's idempotent calls are retried."""

    mode: RetryMode
    retries: int  # after the first attempt
    base_s: float = BACKOFF_BASE_S
    cap_s: float = BACKOFF_CAP_S

    @property
    def max_attempts(self) -> int:
        return 1 if self.mode == "off" else 1 + self.retries

    def delay(self, retry: int, uniform: Callable[[float, float], float] = random.uniform) -> float:
        """Naive retries go at once; budgeted ones back off with full jitter."""
        if self.mode != "budgeted":
            return 0.0
        return full_jitter(retry, base_s=self.base_s, cap_s=self.cap_s, uniform=uniform)
