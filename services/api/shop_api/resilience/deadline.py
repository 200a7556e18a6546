"""A per-request deadline that every dependency call inherits.

``request_deadline(budget_s)`` is entered once per request (``RequestDeadline``); the deadline
lives in a context variable, so the calls a request makes (in its own task, or tasks it
starts) see it without passing it around. ``bounded(dependency)`` runs one call under
``asyncio.timeout`` of the time left and turns a miss into ``DeadlineExceeded`` (a 504).
Outside a request (the outbox relay, start-up) there is no deadline: ``remaining()`` is None.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import Context, ContextVar, copy_context

from starlette.types import ASGIApp, Receive, Scope, Send

from shop_api.errors import BackendUnavailable

_deadline: ContextVar[float | None] = ContextVar("shop_deadline", default=None)
_budget: ContextVar[float | None] = ContextVar("shop_budget", default=None)


class DeadlineExceeded(BackendUnavailable):
    """The request's budget ran out before (or while) ``dependency`` answered: a 504."""

    status = 504

    def __init__(self, dependency: str, budget_s: float | None) -> None:
        budget = f" (request budget {budget_s * 1000:g} ms)" if budget_s else ""
        super().__init__(dependency, f"no answer within the request's deadline{budget}")


@contextmanager
def request_deadline(budget_s: float) -> Iterator[None]:
    """Start the budget of one request; ``budget_s`` 0 means no deadline."""
    if budget_s <= 0:
        yield
        return
    deadline_token = _deadline.set(time.monotonic() + budget_s)
    budget_token = _budget.set(budget_s)
    try:
        yield
    finally:
        _deadline.reset(deadline_token)
        _budget.reset(budget_token)


def remaining() -> float | None:
    """Seconds left in this request's budget (may be ≤ 0), or None without a deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def check(dependency: str) -> None:
    """Raise ``DeadlineExceeded`` when the budget is already spent: do not even start."""
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded(dependency, _budget.get())


@asynccontextmanager
async def bounded(dependency: str) -> AsyncIterator[None]:
    """Run the block within the time left; a miss is ``DeadlineExceeded``, while a
    ``TimeoutError`` of the call's own (a socket timeout) passes through as it is."""
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded(dependency, _budget.get())
    timeout = asyncio.timeout(left)
    try:
        async with timeout:
            yield
    except TimeoutError as exc:
        if timeout.expired():
            raise DeadlineExceeded(dependency, _budget.get()) from exc
        raise


def detached(budget_s: float) -> Context:
    """A copy of the current context for work a request starts but does not wait for (the
    publish after a 202): a fresh budget of its own (none for 0) instead of what the
    request has left."""
    context = copy_context()
    deadline = time.monotonic() + budget_s if budget_s > 0 else None
    context.run(_deadline.set, deadline)
    context.run(_budget.set, budget_s if budget_s > 0 else None)
    return context


class RequestDeadline:
    """Pure ASGI middleware: each HTTP request runs under ``request_deadline(budget_s)``."""

    def __init__(self, app: ASGIApp, budget_s: float) -> None:
        self.app = app
        self.budget_s = budget_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.budget_s <= 0:
            await self.app(scope, receive, send)
            return
        with request_deadline(self.budget_s):
            await self.app(scope, receive, send)
