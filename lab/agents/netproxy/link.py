"""One proxied connection (a Toxiproxy "link"): client ⇄ proxy ⇄ upstream.

Each direction is a pump: a reader that stamps every chunk with its arrival time and a
writer that forwards it once its toxics allow. Toxics are read live from the proxy, so
one added while a pooled connection is open applies to it at once; whether a toxic
applies to this link is drawn once (its ``toxicity``) when the link first meets it.

- latency: a chunk leaves at arrival + latency ± jitter (order kept);
- bandwidth: a chunk waits its size / rate before it leaves;
- timeout: data is dropped; the link is closed ``timeout`` ms later (0: never);
- reset_peer: ``timeout`` ms later the client gets a TCP RST;
- slow_close: the close is passed on ``delay`` ms late;
- limit_data: the link is closed once ``bytes`` have passed in that stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections.abc import Callable, Mapping

from lab.agents.netproxy.toxics import Toxic

CHUNK = 32 * 1024
TICK_S = 0.01  # how often timeout/reset_peer deadlines are checked

Toxics = Callable[[], Mapping[str, Toxic]]


class Link:
    def __init__(
        self,
        toxics: Toxics,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        rng: random.Random,
    ) -> None:
        self._toxics = toxics
        self.client_reader, self.client_writer = client
        self._rng = rng
        self._drawn: dict[str, tuple[Toxic, bool]] = {}
        self._since: dict[str, tuple[Toxic, float]] = {}
        self._sent = {"upstream": 0, "downstream": 0}
        self._task: asyncio.Task[None] | None = None

    def active(self, stream: str | None = None, kind: str | None = None) -> list[Toxic]:
        """The proxy's toxics that apply to this link now (optionally one stream/type)."""
        found = []
        for name, toxic in self._toxics().items():
            if (stream and toxic.stream != stream) or (kind and toxic.type != kind):
                continue
            seen = self._drawn.get(name)
            if seen is None or seen[0] is not toxic:
                seen = (toxic, toxic.draw(self._rng))
                self._drawn[name] = seen
            if seen[1]:
                found.append(toxic)
        return found

    async def run(self, upstream: tuple[str, int]) -> None:
        self._task = asyncio.current_task()
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            self.client_writer.close()
            return
        pumps = [
            asyncio.create_task(self._pump(self.client_reader, up_writer, "upstream")),
            asyncio.create_task(self._pump(up_reader, self.client_writer, "downstream")),
            asyncio.create_task(self._watch()),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            up_writer.close()
            self.client_writer.close()

    def close(self) -> None:
        """End the link (the proxy was disabled or deleted)."""
        if self._task is not None:
            self._task.cancel()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: str
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        feeder = asyncio.create_task(self._read(reader, queue, stream))
        try:
            while True:
                arrived, data = await queue.get()
                if not data:
                    for toxic in self.active(stream, "slow_close"):
                        await asyncio.sleep(toxic.attributes["delay"] / 1000)
                    return
                for toxic in self.active(stream, "latency"):
                    await _sleep_until(arrived + toxic.delay_s(self._rng))
                data, done = self._limit(stream, data)
                for toxic in self.active(stream, "bandwidth"):
                    await asyncio.sleep(toxic.transfer_s(len(data)))
                writer.write(data)
                await writer.drain()
                if done:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            feeder.cancel()

    async def _read(
        self, reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]], stream: str
    ) -> None:
        while True:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            if data and self.active(stream, "timeout"):
                continue  # a black hole: the bytes vanish
            await queue.put((time.monotonic(), data))
            if not data:
                return

    def _limit(self, stream: str, data: bytes) -> tuple[bytes, bool]:
        limits = [t.attributes["bytes"] for t in self.active(stream, "limit_data")]
        if not limits:
            return data, False
        left = max(0, min(limits) - self._sent[stream])
        data = data[:left]
        self._sent[stream] += len(data)
        return data, self._sent[stream] >= min(limits)

    async def _watch(self) -> None:
        """Close (timeout) or reset (reset_peer) the link when their time has come."""
        while True:
            now = time.monotonic()
            for toxic in self.active(kind="timeout") + self.active(kind="reset_peer"):
                seen = self._since.get(toxic.name)
                if seen is None or seen[0] is not toxic:
                    seen = self._since[toxic.name] = (toxic, now)
                wait_ms = toxic.attributes["timeout"]
                if toxic.type == "timeout" and wait_ms == 0:
                    continue
                if (now - seen[1]) * 1000 >= wait_ms:
                    if toxic.type == "reset_peer":
                        _reset(self.client_writer)
                    return
            await asyncio.sleep(TICK_S)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST instead of a FIN (SO_LINGER 0, then abort)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
