"""The defences' pure logic (shop_api.resilience): the breaker's state machine on an
injected clock, backoff with full jitter, the retry budget, and the guard that combines
them, driven by a fake dependency call (a coroutine that fails on command).

Against real Postgres and Redis: tests/procs/shop_api/test_resilience.py.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from prometheus_client import CollectorRegistry

from shop_api.config import ApiSettings, ConfigError
from shop_api.errors import BackendUnavailable
from shop_api.resilience import deadline, setup
from shop_api.resilience.breaker import BreakerConfig, CircuitBreaker, State
from shop_api.resilience.guard import BreakerOpen, Guard
from shop_api.resilience.metrics import ResilienceMetrics
from shop_api.resilience.retry import RetryBudget, RetryMode, RetryPolicy, full_jitter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **config: float) -> tuple[CircuitBreaker, list[tuple[State, State]]]:
    moves: list[tuple[State, State]] = []
    cb = CircuitBreaker(
        BreakerConfig(**config),  # type: ignore[arg-type]
        clock=clock,
        on_transition=lambda old, new: moves.append((old, new)),
    )
    return cb, moves


# -- the breaker --------------------------------------------------------------------------


def test_breaker_opens_after_n_failures_in_a_row_and_a_success_resets_the_count() -> None:
    clock = Clock()
    cb, moves = breaker(clock, consecutive_failures=3, min_calls=100)
    for failed in (True, True, False, True, True):
        assert cb.allow()
        cb.record(failed=failed)
    assert cb.state is State.CLOSED
    cb.record(failed=True)
    assert cb.state is State.OPEN
    assert moves == [(State.CLOSED, State.OPEN)]
    assert not cb.allow()


def test_breaker_opens_on_the_failure_ratio_in_its_window_only() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=100, failure_ratio=0.5, min_calls=10, window_s=10)
    for failed in (True, False, True, False, False) * 2:  # 4 of 10 calls: under the ratio
        cb.record(failed=failed)
    assert cb.state is State.CLOSED
    clock.now += 11  # those calls leave the window
    for failed in (True, False) * 4:
        cb.record(failed=failed)
    assert cb.state is State.CLOSED  # 8 calls in the window: fewer than min_calls
    cb.record(failed=True)
    cb.record(failed=True)  # 6 of 10
    assert cb.state is State.OPEN


def test_open_breaker_probes_once_after_the_cooldown_and_closes_on_success() -> None:
    clock = Clock()
    cb, moves = breaker(clock, consecutive_failures=1, cooldown_s=5)
    cb.record(failed=True)
    clock.now += 4.5
    assert not cb.allow()
    assert cb.retry_after_s() == pytest.approx(0.5)
    clock.now += 0.5
    assert cb.allow()  # the probe
    assert cb.state is State.HALF_OPEN
    assert not cb.allow()  # one probe at a time
    cb.record(failed=False)
    assert cb.state is State.CLOSED
    assert cb.allow() and cb.allow()
    assert moves == [
        (State.CLOSED, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.CLOSED),
    ]


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=1, cooldown_s=5)
    cb.record(failed=True)
    clock.now += 6
    assert cb.allow()
    cb.record(failed=True)
    assert cb.state is State.OPEN
    assert cb.retry_after_s() == pytest.approx(5)
    assert not cb.allow()


def test_a_probe_that_never_reports_is_replaced() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive_failures=1, cooldown_s=5)
    cb.record(failed=True)
    clock.now += 5
    assert cb.allow()
    cb.release()  # the probe's caller was cancelled: another may probe at once
    assert cb.allow()
    clock.now += 4
    assert not cb.allow()
    clock.now += 1  # a probe lost without release() expires after a cool-down
    assert cb.allow()


# -- backoff and budget -------------------------------------------------------------------


def test_full_jitter_ceiling_doubles_up_to_the_cap() -> None:
    top = [full_jitter(n, base_s=0.01, cap_s=0.2, uniform=lambda lo, hi: hi) for n in range(1, 8)]
    assert top == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.16, 0.2, 0.2])
    assert full_jitter(3, uniform=lambda lo, hi: lo) == 0.0
    with pytest.raises(ValueError, match="retry must be >= 1"):
        full_jitter(0)


def test_full_jitter_spreads_over_the_whole_range() -> None:
    rng = random.Random(7)
    draws = [full_jitter(4, base_s=0.01, cap_s=1, uniform=rng.uniform) for _ in range(2000)]
    assert all(0 <= d <= 0.08 for d in draws)
    assert min(draws) < 0.008 and max(draws) > 0.072  # not bunched at one end
    assert sum(draws) / len(draws) == pytest.approx(0.04, rel=0.1)


@pytest.mark.parametrize("calls", [10, 100, 1000])
def test_retry_budget_keeps_retries_under_its_ratio_of_calls(calls: int) -> None:
    budget = RetryBudget(0.1, burst=10)
    retries = 0
    for _ in range(calls):
        budget.deposit()
        while budget.withdraw():  # a caller that would retry forever
            retries += 1
    assert retries <= 0.1 * calls + 10
    assert retries >= 0.1 * calls - 1  # and it does get its share


def test_retry_policy_modes() -> None:
    assert RetryPolicy(mode="off", retries=3).max_attempts == 1
    assert RetryPolicy(mode="naive", retries=3).max_attempts == 4
    assert RetryPolicy(mode="naive", retries=3).delay(2) == 0
    assert RetryPolicy(mode="budgeted", retries=3).delay(2, lambda lo, hi: hi) == 0.02
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(1.5)


# -- the guard ----------------------------------------------------------------------------


class Flaky:
    """A dependency call that fails ``failing`` times, then answers (or sleeps)."""

    def __init__(self, failing: int, *, sleep_s: float = 0.0) -> None:
        self.failing = failing
        self.sleep_s = sleep_s
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failing:
            raise BackendUnavailable("postgres", "connection refused")
        await asyncio.sleep(self.sleep_s)
        return "row"


def make_guard(
    mode: RetryMode, *, ratio: float = 0.1, breaker: CircuitBreaker | None = None
) -> tuple[Guard, CollectorRegistry]:
    registry = CollectorRegistry()
    guard = Guard(
        "postgres",
        failures=(BackendUnavailable,),
        policy=RetryPolicy(mode=mode, retries=3, base_s=0.001, cap_s=0.002),
        budget=RetryBudget(ratio, burst=2),
        breaker=breaker,
        metrics=ResilienceMetrics(registry),
    )
    return guard, registry


def counted(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, {"dependency": "postgres", **labels})
    assert value is not None, name
    return value


def run_calls(guard: Guard, op: Flaky, n: int, *, idempotent: bool = True) -> int:
    async def main() -> int:
        failed = 0
        for _ in range(n):
            try:
                await guard.call(op, idempotent=idempotent)
            except BackendUnavailable:
                failed += 1
        return failed

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("mode", "attempts"),
    # budgeted: the burst (2 retries) on the first call, then one per 10 calls' deposits
    [("off", 20), ("naive", 80), ("budgeted", 20 + 2 + 1)],
)
def test_attempts_against_a_dependency_that_always_fails(mode: RetryMode, attempts: int) -> None:
    guard, registry = make_guard(mode)
    op = Flaky(failing=10**6)
    assert run_calls(guard, op, 20) == 20
    assert op.calls == attempts
    assert counted(registry, "shop_dependency_attempts_total") == attempts
    assert counted(registry, "shop_dependency_calls_total") == 20
    assert counted(registry, "shop_dependency_retries_total") == attempts - 20
    exhausted = counted(registry, "shop_retry_budget_exhausted_total")
    assert exhausted == (20 if mode == "budgeted" else 0)  # every call ended on an empty bucket


@pytest.mark.parametrize("mode", ["naive", "budgeted"])
def test_an_injected_failure_comes_after_the_work_and_is_retried(mode: RetryMode) -> None:
    """Every attempt fails after the dependency answered: naive retries send 1 + 3
    attempts per call (the dependency does the work 4 times), a budget about 1.1."""
    guard, registry = make_guard(mode)
    guard.inject = lambda dependency: dependency == "postgres"
    op = Flaky(failing=0)
    assert run_calls(guard, op, 20) == 20
    attempts = counted(registry, "shop_dependency_attempts_total")
    assert op.calls == attempts == (80 if mode == "naive" else 20 + 2 + 1)
    assert counted(registry, "shop_dependency_failures_total") == attempts


def test_a_retry_rides_out_a_blip_but_never_repeats_a_non_idempotent_call() -> None:
    guard, _ = make_guard("naive")
    assert run_calls(guard, Flaky(failing=2), 1) == 0
    once = Flaky(failing=2)
    assert run_calls(guard, once, 1, idempotent=False) == 1
    assert once.calls == 1


def test_an_open_breaker_answers_at_once_without_an_attempt() -> None:
    clock = Clock()
    cb = CircuitBreaker(BreakerConfig(consecutive_failures=3, cooldown_s=5), clock=clock)
    guard, registry = make_guard("off", breaker=cb)
    op = Flaky(failing=10**6)
    run_calls(guard, op, 3)
    assert counted(registry, "shop_breaker_state") == State.OPEN

    async def refused() -> BreakerOpen:
        with pytest.raises(BreakerOpen) as caught:
            await guard.call(op)
        return caught.value

    clock.now += 1.2
    error = asyncio.run(refused())
    assert op.calls == 3
    assert error.status == 503 and error.retry_after_s == 4  # ceil(3.8 s)
    assert counted(registry, "shop_breaker_rejected_total") == 1
    assert counted(registry, "shop_breaker_transitions_total", state="open") == 1
    clock.now += 4
    op.failing = 0  # the dependency is back: the probe closes the breaker
    run_calls(guard, op, 1)
    assert counted(registry, "shop_breaker_state") == State.CLOSED


def test_other_errors_pass_through_and_count_as_the_dependency_answering() -> None:
    clock = Clock()
    cb = CircuitBreaker(BreakerConfig(consecutive_failures=1), clock=clock)
    guard, registry = make_guard("naive", breaker=cb)

    async def not_found() -> None:
        raise LookupError("no such row")

    async def main() -> None:
        with pytest.raises(LookupError):
            await guard.call(not_found)

    asyncio.run(main())
    assert cb.state is State.CLOSED
    assert counted(registry, "shop_dependency_attempts_total") == 1


def test_the_deadline_bounds_a_slow_call_and_refuses_one_with_no_budget_left() -> None:
    guard, registry = make_guard("naive")
    slow = Flaky(failing=0, sleep_s=5)

    async def main() -> float:
        with deadline.request_deadline(0.05):
            start = time.monotonic()
            with pytest.raises(deadline.DeadlineExceeded) as caught:
                await guard.call(slow)
            took = time.monotonic() - start
            assert caught.value.status == 504
            assert "50 ms" in str(caught.value)
            with pytest.raises(deadline.DeadlineExceeded):
                await guard.call(slow)  # nothing left: not even attempted
        return took

    took = asyncio.run(main())
    assert took < 1  # cut at the deadline, not after the 5 s call
    assert slow.calls == 1  # a missed deadline is not retried
    assert counted(registry, "shop_deadline_exceeded_total") == 2
    assert counted(registry, "shop_dependency_attempts_total") == 1


def test_a_detached_context_carries_a_fresh_budget() -> None:
    async def main() -> tuple[float | None, float | None]:
        with deadline.request_deadline(0.01):
            await asyncio.sleep(0.02)
            spent = deadline.remaining()
            own = asyncio.get_running_loop().create_task(
                _remaining(), context=deadline.detached(10)
            )
            return spent, await own

    spent, own = asyncio.run(main())
    assert spent is not None and spent < 0
    assert own is not None and own > 9

    async def unbounded() -> float | None:
        with deadline.request_deadline(0.01):
            return await asyncio.create_task(_remaining(), context=deadline.detached(0))

    assert asyncio.run(unbounded()) is None  # budget 0: no deadline, not the request's
    assert deadline.remaining() is None  # outside any request


async def _remaining() -> float | None:
    return deadline.remaining()


def test_a_timeout_of_the_call_itself_is_not_a_missed_deadline() -> None:
    async def socket_timeout() -> None:
        raise TimeoutError("read timed out")

    async def main() -> None:
        # DeadlineExceeded is a BackendUnavailable, not a TimeoutError
        with deadline.request_deadline(5), pytest.raises(TimeoutError, match="read timed out"):
            async with deadline.bounded("redis"):
                await socket_timeout()

    asyncio.run(main())


def test_the_knobs_build_the_guards() -> None:
    registry = CollectorRegistry()
    bare = setup.build(ApiSettings(replica="t"), registry)
    assert bare.deadline_s == 0
    assert bare.postgres.breaker is None and bare.redis.breaker is None
    assert bare.postgres.policy.max_attempts == 1
    assert registry.get_sample_value("shop_retry_mode", {"mode": "off"}) == 1
    assert registry.get_sample_value("shop_breaker_state", {"dependency": "redis"}) == 0

    knobs = ApiSettings(
        replica="t",
        api_deadline_ms=250,
        api_retry="budgeted",
        api_retries=2,
        api_retry_budget=0.2,
        api_breaker=True,
        api_breaker_cooldown_s=7,
    )
    registry = CollectorRegistry()
    defended = setup.build(knobs, registry)
    assert defended.deadline_s == 0.25
    assert registry.get_sample_value("shop_deadline_seconds") == 0.25
    assert registry.get_sample_value("shop_retry_mode", {"mode": "budgeted"}) == 1
    for guard in (defended.postgres, defended.redis):
        assert guard.policy.max_attempts == 3 and guard.budget.ratio == 0.2
        assert guard.breaker is not None and guard.breaker.config.cooldown_s == 7
    # a publish is never retried and has no breaker: the outbox relay is its retry
    assert defended.nats.policy.max_attempts == 1 and defended.nats.breaker is None


def test_bad_knobs_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="LAB_API_RETRY:"):
        ApiSettings.from_env({"LAB_API_RETRY": "sometimes"})
    with pytest.raises(ConfigError, match="LAB_API_RETRY_BUDGET:"):
        ApiSettings.from_env({"LAB_API_RETRY_BUDGET": "2"})
