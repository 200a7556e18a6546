"""Every error answer has one body shape, ``ErrorBody``: bad input is 4xx, an outage 503.

``{"error": "invalid_request", "reason": "body.quantity: Input should be ...",
"problems": [...]}``: ``error`` names the kind (one per status, ``ERROR_CODES``),
``reason`` says why in one line. ``responses()`` documents them on each route, so the
OpenAPI document lists every status a route answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shop_api.models import ErrorBody, ErrorCode

# What "Postgres is unreachable" looks like from asyncpg: refused or reset sockets,
# timeouts, a server shutting down, a pool closing or out of connections.
POSTGRES_DOWN: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
)

MAX_REASONS = 3

ERROR_CODES: dict[int, ErrorCode] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
    504: "deadline_exceeded",
}

# What each documented error status means, per route (``responses``).
DESCRIPTIONS = {
    400: "The body could not be parsed (e.g. JSON nested too deeply)",
    404: "No such resource",
    415: "The body was not sent as application/json",
    422: "Invalid input: the reason names the field (problems lists each)",
    503: "A dependency (postgres, nats) is unavailable; retry after Retry-After seconds",
    504: "A dependency did not answer within the request's deadline (LAB_API_DEADLINE_MS)",
}
RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer ``statuses`` with an ``ErrorBody``."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": DESCRIPTIONS[status]}
        if status in (503, 504):
            entry["headers"] = RETRY_AFTER
        documented[status] = entry
    return documented


def error_code(status: int) -> ErrorCode:
    return ERROR_CODES.get(status, "internal_error" if status >= 500 else "bad_request")


def error_body(status: int, reason: str, **extra: object) -> dict[str, Any]:
    """An ``ErrorBody`` as JSON-ready data (fields that do not apply are left out)."""
    body = ErrorBody.model_validate({"error": error_code(status), "reason": reason, **extra})
    return body.model_dump(mode="json", exclude_none=True)


class BackendUnavailable(Exception):
    """A dependency (postgres, redis, nats) did not answer; the request gets a 503
    (``status``; a missed deadline is a 504) and ``Retry-After: retry_after_s``."""

    status = 503

    def __init__(self, dependency: str, detail: str) -> None:
        self.dependency = dependency
        self.detail = detail
        self.retry_after_s = 1
        super().__init__(f"{dependency} unavailable: {detail}")


@asynccontextmanager
async def postgres_errors() -> AsyncIterator[None]:
    """Turn asyncpg's connection failures into ``BackendUnavailable("postgres", ...)``."""
    try:
        yield
    except POSTGRES_DOWN as exc:
        raise BackendUnavailable("postgres", f"{type(exc).__name__}: {exc}") from exc


def describe_validation(errors: list[dict[str, Any]]) -> str:
    """One line from pydantic's error list: ``body.quantity: Input should be ...``."""
    parts = []
    for error in errors[:MAX_REASONS]:
        location = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            where = error.get("loc", ("body", "?"))[-1]
            why = error.get("ctx", {}).get("error", "cannot parse")
            parts.append(f"malformed JSON body at character {where}: {why}")
            continue
        parts.append(f"{location}: {message}" if location else message)
    if len(errors) > MAX_REASONS:
        parts.append(f"and {len(errors) - MAX_REASONS} more")
    return "; ".join(parts) or "invalid request"


def error_response(status: int, reason: str, **extra: object) -> JSONResponse:
    return JSONResponse(error_body(status, reason, **extra), status_code=status)


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if request.method in ("POST", "PUT", "PATCH") and not _is_json(request):
        # FastAPI does not parse a body sent without a JSON content type at all.
        reason = "send the body as JSON with Content-Type: application/json"
        return error_response(415, reason)
    # The offending input can be huge or binary; the reason and location are enough.
    problems = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e["type"])}
        for e in errors
    ]
    return error_response(422, describe_validation(errors), problems=problems)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = error_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def unavailable_response(exc: BackendUnavailable) -> JSONResponse:
    """The answer to a dependency outage: 503 (or 504), a reason, ``Retry-After``."""
    response = error_response(exc.status, str(exc))
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BackendUnavailable)
    return unavailable_response(exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(BackendUnavailable, _unavailable)
