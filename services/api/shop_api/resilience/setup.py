"""The guards of one replica, built from its settings (``LAB_API_DEADLINE_MS``,
``LAB_API_RETRY*``, ``LAB_API_BREAKER*``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError

from shop_api.config import ApiSettings
from shop_api.errors import BackendUnavailable
from shop_api.resilience.breaker import BreakerConfig, CircuitBreaker
from shop_api.resilience.guard import Guard, InjectedFailure
from shop_api.resilience.metrics import ResilienceMetrics
from shop_api.resilience.retry import RetryBudget, RetryPolicy

# What counts as the dependency failing (retried, held against its breaker). Postgres'
# failures arrive already translated by ``errors.postgres_errors``.
POSTGRES_FAILURES: tuple[type[BaseException], ...] = (BackendUnavailable,)
REDIS_FAILURES: tuple[type[BaseException], ...] = (
    RedisError,
    OSError,
    TimeoutError,
    InjectedFailure,
)
NATS_FAILURES: tuple[type[BaseException], ...] = (Exception,)


@dataclass(frozen=True)
class Guards:
    postgres: Guard
    redis: Guard
    nats: Guard
    deadline_s: float


def build(
    settings: ApiSettings,
    registry: CollectorRegistry,
    inject: Callable[[str], bool] = lambda dependency: False,
) -> Guards:
    """``inject(dependency)``: whether an attempt fails by an injected fault."""
    metrics = ResilienceMetrics(registry)
    deadline_s = settings.api_deadline_ms / 1000
    metrics.configured(deadline_s=deadline_s, retry_mode=settings.api_retry)
    policy = RetryPolicy(mode=settings.api_retry, retries=settings.api_retries)
    config = BreakerConfig(cooldown_s=settings.api_breaker_cooldown_s)

    def guard(
        dependency: str, failures: tuple[type[BaseException], ...], *, defended: bool
    ) -> Guard:
        breaker = CircuitBreaker(config) if defended and settings.api_breaker else None
        return Guard(
            dependency,
            failures=failures,
            policy=policy if defended else RetryPolicy(mode="off", retries=0),
            budget=RetryBudget(settings.api_retry_budget),
            breaker=breaker,
            metrics=metrics,
            inject=inject if defended else (lambda dependency: False),
        )

    return Guards(
        postgres=guard("postgres", POSTGRES_FAILURES, defended=True),
        redis=guard("redis", REDIS_FAILURES, defended=True),
        # a publish is never retried here: the outbox relay is its retry
        nats=guard("nats", NATS_FAILURES, defended=False),
        deadline_s=deadline_s,
    )
