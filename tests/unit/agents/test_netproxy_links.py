"""The lab's Toxiproxy on real sockets, in process: an echo server behind one proxy."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import pytest

from lab.agents.netproxy.api import ToxiproxyApi

Test = Callable[[ToxiproxyApi, int], Awaitable[None]]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


def run(test: Test) -> None:
    """Run ``test(api, proxy_port)`` with proxy ``echo`` in front of an echo server."""

    async def main() -> None:
        echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
        api = ToxiproxyApi(random.Random(3))
        upstream = f"127.0.0.1:{echo.sockets[0].getsockname()[1]}"
        status, proxy = await api.handle(
            "POST", "/proxies", {"name": "echo", "listen": "127.0.0.1:0", "upstream": upstream}
        )
        assert status == 201 and isinstance(proxy, dict)
        try:
            await asyncio.wait_for(test(api, int(proxy["listen"].rsplit(":", 1)[1])), 10)
        finally:
            await api.close()
            echo.close()

    asyncio.run(main())


async def round_trip(port: int, payload: bytes = b"ping") -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        began = time.monotonic()
        writer.write(payload)
        await writer.drain()
        assert await reader.readexactly(len(payload)) == payload
        return time.monotonic() - began
    finally:
        writer.close()


async def add(api: ToxiproxyApi, toxic: dict[str, object]) -> None:
    status, reply = await api.handle("POST", "/proxies/echo/toxics", toxic)
    assert status == 200, reply


def test_latency_delays_each_direction_on_an_open_link() -> None:
    async def test(api: ToxiproxyApi, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await add(api, {"type": "latency", "attributes": {"latency": 100}})
        await add(api, {"type": "latency", "stream": "upstream", "attributes": {"latency": 50}})
        began = time.monotonic()
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        assert time.monotonic() - began >= 0.150  # the link was open before the toxics
        writer.close()

    run(test)


def test_timeout_black_holes_then_closes() -> None:
    async def test(api: ToxiproxyApi, port: int) -> None:
        await add(api, {"type": "timeout", "attributes": {"timeout": 300}})
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"lost")
        began = time.monotonic()
        assert await reader.read(10) == b""  # nothing came back, then the close
        assert time.monotonic() - began >= 0.3
        writer.close()
        await api.handle("DELETE", "/proxies/echo/toxics/timeout_downstream", {})
        assert await round_trip(port) >= 0

    run(test)


def test_down_refuses_connections_and_reset_brings_it_back() -> None:
    async def test(api: ToxiproxyApi, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, proxy = await api.handle("POST", "/proxies/echo", {"enabled": False})
        assert status == 200 and isinstance(proxy, dict) and proxy["enabled"] is False
        assert await reader.read(10) == b""  # open links end too
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        assert (await api.handle("POST", "/reset", {}))[0] == 204
        assert await round_trip(port) >= 0

    run(test)


def test_reset_peer_sends_a_reset() -> None:
    async def test(api: ToxiproxyApi, port: int) -> None:
        await add(api, {"type": "reset_peer", "attributes": {"timeout": 0}})
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises(ConnectionResetError):
            writer.write(b"x")
            await reader.read(10)
            await asyncio.sleep(0.05)
            writer.write(b"x")
            await writer.drain()
            await reader.read(10)
        writer.close()

    run(test)


def test_limit_data_closes_after_that_many_bytes() -> None:
    async def test(api: ToxiproxyApi, port: int) -> None:
        await add(api, {"type": "limit_data", "attributes": {"bytes": 5}})
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"0123456789")
        assert await reader.read() == b"01234"
        writer.close()

    run(test)


def test_bandwidth_and_slow_close_slow_the_link() -> None:
    async def test(api: ToxiproxyApi, port: int) -> None:
        await add(api, {"type": "bandwidth", "attributes": {"rate": 100}})
        assert await round_trip(port, b"x" * 30_000) >= 0.3  # 30 KB at 100 KB/s
        await add(api, {"type": "slow_close", "stream": "upstream", "attributes": {"delay": 200}})
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write_eof()
        began = time.monotonic()
        assert await reader.read() == b""
        assert time.monotonic() - began >= 0.2
        writer.close()

    run(test)


def test_toxicity_half_hits_about_half_the_links() -> None:
    async def test(api: ToxiproxyApi, port: int) -> None:
        toxic = {"type": "latency", "toxicity": 0.5, "attributes": {"latency": 200}}
        await add(api, toxic)
        slow = [await round_trip(port) >= 0.2 for _ in range(40)]
        assert 10 <= sum(slow) <= 30

    run(test)
