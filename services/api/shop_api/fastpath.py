"""The hot path: ``GET /products/{id}`` without FastAPI's routing, dependencies and
validation.

A cached product read is the request a shop serves most, and on it FastAPI's machinery
(route matching over every route, dependency solving, parameter validation, a Request
object) cost more than the Redis round trip. This pure-ASGI layer answers exactly the
requests whose id FastAPI would accept (ASCII digits, 1..MAX_ID) with the same answers the
route in ``routes.py`` gives: 200 with the cached JSON bytes (never re-validated), 404, and
503/504 with the same ``ErrorBody``. Everything else (another route, another method, an id
FastAPI refuses with 422, a replica still starting) goes to the app, so the OpenAPI
document and its contract stay the route's. The request still holds one of the replica's
work slots and is counted under the route template, as any other request.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from shop_api import errors
from shop_api.models import MAX_ID

PREFIX = "/products/"
MAX_DIGITS = len(str(MAX_ID))
JSON = b"application/json"


def product_id(path: str) -> int | None:
    """The id in ``/products/{id}`` when FastAPI would accept it, else None."""
    if not path.startswith(PREFIX):
        return None
    digits = path[len(PREFIX) :]
    if not (0 < len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()):
        return None
    value = int(digits)
    return value if 1 <= value <= MAX_ID else None


class ProductReads:
    """Pure ASGI: answer ``GET /products/{id}`` itself, pass everything else to ``app``.

    ``route`` is the app's route for the same path; it is put in the scope, as Starlette's
    router does, so request metrics name the template.
    """

    def __init__(self, app: ASGIApp, route: Any) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        wanted = product_id(scope["path"])
        services = getattr(scope["app"].state, "services", None) if "app" in scope else None
        if wanted is None or services is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        try:
            async with services.limiter.slot():
                body = await services.products.read(wanted)
        except errors.BackendUnavailable as exc:
            await errors.unavailable_response(exc)(scope, receive, send)
            return
        if body is None:
            await errors.error_response(404, f"product {wanted} does not exist")(
                scope, receive, send
            )
            return
        headers = [(b"content-length", b"%d" % len(body)), (b"content-type", JSON)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
