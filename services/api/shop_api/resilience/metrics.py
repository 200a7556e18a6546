"""The defences' metrics, registered in the replica's registry (docs/contracts.md).

Every series exists from the first scrape for each dependency, so rates and the
amplification ratio (attempts / calls, ``lab:dependency_amplification:ratio10s``) are
never "no data".
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from shop_api.resilience.breaker import State
from shop_api.resilience.retry import RETRY_MODES, RetryMode

DEPENDENCIES = ("postgres", "redis", "nats")


class ResilienceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.calls = Counter(
            "shop_dependency_calls",
            "Dependency calls the API made (one per call, however many attempts it took)",
            ["dependency"],
            registry=r,
        )
        self.attempts = Counter(
            "shop_dependency_attempts",
            "Attempts sent to a dependency (first tries and retries)",
            ["dependency"],
            registry=r,
        )
        self.failures = Counter(
            "shop_dependency_failures",
            "Attempts that failed (unreachable, timed out, past the deadline)",
            ["dependency"],
            registry=r,
        )
        self.retries = Counter(
            "shop_dependency_retries", "Retries sent to a dependency", ["dependency"], registry=r
        )
        self.budget_exhausted = Counter(
            "shop_retry_budget_exhausted",
            "Retries refused because the retry budget was empty (LAB_API_RETRY=budgeted)",
            ["dependency"],
            registry=r,
        )
        self.deadline_exceeded = Counter(
            "shop_deadline_exceeded",
            "Dependency calls cut off by the request's deadline (LAB_API_DEADLINE_MS)",
            ["dependency"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "shop_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open",
            ["dependency"],
            registry=r,
        )
        self.breaker_transitions = Counter(
            "shop_breaker_transitions",
            "Circuit breaker state changes, by the state entered",
            ["dependency", "state"],
            registry=r,
        )
        self.breaker_rejected = Counter(
            "shop_breaker_rejected",
            "Calls not sent because the dependency's breaker was open",
            ["dependency"],
            registry=r,
        )
        self.deadline_seconds = Gauge(
            "shop_deadline_seconds",
            "The per-request budget for dependency calls (LAB_API_DEADLINE_MS); 0: none",
            registry=r,
        )
        self.retry_mode = Gauge(
            "shop_retry_mode",
            "Active retry mode (LAB_API_RETRY): 1, others 0",
            ["mode"],
            registry=r,
        )
        for dependency in DEPENDENCIES:
            for counter in (
                self.calls,
                self.attempts,
                self.failures,
                self.retries,
                self.budget_exhausted,
                self.deadline_exceeded,
                self.breaker_rejected,
            ):
                counter.labels(dependency)
            self.breaker_state.labels(dependency).set(State.CLOSED)
            for state in State:
                self.breaker_transitions.labels(dependency, state.name.lower())

    def configured(self, *, deadline_s: float, retry_mode: RetryMode) -> None:
        self.deadline_seconds.set(deadline_s)
        for mode in RETRY_MODES:
            self.retry_mode.labels(mode).set(1 if mode == retry_mode else 0)
