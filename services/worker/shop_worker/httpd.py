"""A tiny HTTP server for ``/metrics`` and ``/healthz`` on the worker's event loop.

One request per connection, GET only: enough for Prometheus and health checks, with no
extra thread and no web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest

from shop_api.metrics import CONTENT_TYPE

READ_TIMEOUT_S = 5.0
MAX_HEADER_BYTES = 16 * 1024


class MetricsServer:
    def __init__(self, registry: CollectorRegistry, healthy: Callable[[], str | None]) -> None:
        """``healthy`` returns None when healthy, else the reason for a 503."""
        self.registry = registry
        self.healthy = healthy
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body for one request."""
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE, generate_latest(self.registry)
        if path == "/healthz":
            problem = self.healthy()
            if problem is None:
                return 200, "text/plain", b"ok\n"
            return 503, "text/plain", f"unhealthy: {problem}\n".encode()
        return 404, "text/plain", b"not found: try /metrics or /healthz\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            if len(head) > MAX_HEADER_BYTES:
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3:
                status, ctype, body = 400, "text/plain", b"bad request\n"
                method = "GET"
            else:
                method = parts[0]
                status, ctype, body = self.respond(method, parts[1])
            reason = {
                200: "OK",
                400: "Bad Request",
                404: "Not Found",
                405: "Method Not Allowed",
                503: "Service Unavailable",
            }[status]
            header = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(header if method == "HEAD" else header + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
