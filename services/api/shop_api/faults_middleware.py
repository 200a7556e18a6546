"""Pure ASGI middleware that applies the replica's route faults (``shop_api.faults``).

It sits inside ``ObserveRequests``, so an injected error or delay is measured like any
other answer, and outside the product fast path, so that path is faulted too. With no
fault active it costs one attribute read per request.
"""

from __future__ import annotations

import asyncio
import json

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from shop_api import errors
from shop_api.faults import FaultBoard


class InjectFaults:
    def __init__(self, app: ASGIApp, board: FaultBoard, routes: list[BaseRoute]) -> None:
        self.app = app
        self.board = board
        self.routes = routes

    def _route(self, scope: Scope) -> BaseRoute | None:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.board.active():
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
        template = getattr(route, "path", None)
        if template is None:
            await self.app(scope, receive, send)
            return
        delay, error = self.board.for_route(template)
        if delay > 0:
            await asyncio.sleep(delay)
        if error is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # the router never runs: label the answer's metrics
        reason = (
            f"injected fault: {error.percent:g}% of {template} answer {error.status}"
            " (lab fault app errors)"
        )
        body = json.dumps(errors.error_body(error.status, reason)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
