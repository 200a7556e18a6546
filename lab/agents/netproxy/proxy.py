"""One proxy: a listening address, an upstream, its toxics and its open links.

JSON shape (Toxiproxy's)::

    {"name": "postgres", "listen": "127.0.0.1:25432", "upstream": "127.0.0.1:5432",
     "enabled": true, "toxics": [...]}

Disabling a proxy (Toxiproxy's way to take a link "down") closes its listener, so new
connections are refused, and ends every open link.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping

from lab.agents.netproxy.link import Link
from lab.agents.netproxy.toxics import Toxic, ToxicError


def split_address(value: object, field: str) -> tuple[str, int]:
    """``host:port`` → (host, port); ``ToxicError`` names ``field`` when it is not one."""
    if not isinstance(value, str) or ":" not in value:
        raise ToxicError(f"{field}: must be host:port, not {value!r}")
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ToxicError(f"{field}: port must be 0-65535, not {port!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random) -> None:
        self.name = name
        self.listen_at = split_address(listen, "listen")
        self.upstream = split_address(upstream, "upstream")
        self.toxics: dict[str, Toxic] = {}
        self.enabled = False
        self._rng = rng
        self._server: asyncio.Server | None = None
        self._links: set[Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def to_json(self) -> dict[str, object]:
        host, port = self.listen_at
        return {
            "name": self.name,
            "listen": f"{host}:{port}",
            "upstream": "{}:{}".format(*self.upstream),
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxics.values()],
        }

    async def start(self) -> None:
        """Listen (port 0 picks a free one, reported in ``listen``)."""
        if self.enabled:
            return
        try:
            self._server = await asyncio.start_server(self._accept, *self.listen_at)
        except OSError as exc:
            raise ToxicError(f"listen: cannot listen on {self.listen_at}: {exc}") from exc
        bound = self._server.sockets[0].getsockname()
        self.listen_at = (self.listen_at[0], int(bound[1]))
        self.enabled = True

    async def stop(self) -> None:
        """Stop listening and end every open link."""
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self._links):
            link.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def update(self, body: Mapping[str, object]) -> None:
        """Toxiproxy's POST /proxies/{proxy}: ``enabled``, ``listen``, ``upstream``."""
        enabled = body.get("enabled", self.enabled)
        if not isinstance(enabled, bool):
            raise ToxicError(f"enabled: must be true or false, not {enabled!r}")
        listen = split_address(body["listen"], "listen") if "listen" in body else None
        if "upstream" in body:
            self.upstream = split_address(body["upstream"], "upstream")
        if listen is not None and listen != self.listen_at:
            await self.stop()
            self.listen_at = listen
        if enabled and not self.enabled:
            await self.start()
        elif not enabled and self.enabled:
            await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = Link(lambda: self.toxics, (reader, writer), self._rng)
        self._links.add(link)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await link.run(self.upstream)
        except asyncio.CancelledError:
            writer.close()
        finally:
            self._links.discard(link)
            self._tasks.discard(task)
