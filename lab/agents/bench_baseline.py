"""Baseline servers for `lab bench`: what the same machine does with (almost) no code.

``python -m lab.agents.bench_baseline asgi PORT`` serves a bare ASGI callable;
``python -m lab.agents.bench_baseline fastapi PORT`` a FastAPI hello-world. Both run on uvicorn
with the same flags as an API replica (uvloop, httptools, no access log), so the ratio
between them and a replica is the cost of the replica's own work.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from fastapi import FastAPI

BODY = b'{"id":1,"name":"Product 1","price_cents":100,"stock":10}'

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def bare_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def hello_fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/products/{product_id}")
    async def product(product_id: int) -> dict[str, object]:
        return {"id": product_id, "name": "Product 1", "price_cents": 100, "stock": 10}

    return app


def main(argv: list[str]) -> None:
    kind, port = argv[0], int(argv[1])
    app: Any = bare_asgi if kind == "asgi" else hello_fastapi()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
