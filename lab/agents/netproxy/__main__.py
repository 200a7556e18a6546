"""``python -m lab.agents.netproxy [--host 127.0.0.1] [--port 8474] [--config proxies.json]``

Serves Toxiproxy's HTTP API until SIGTERM/SIGINT. ``--config`` creates proxies at start
from a JSON list, as ``toxiproxy-server -config`` does (the compose stand-in uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from lab.agents.netproxy.api import ToxiproxyApi
from lab.defaults import BIND_HOST, TOXIPROXY_PORT


async def serve(host: str, port: int, config: Path | None) -> None:
    api = ToxiproxyApi()
    if config is not None:
        status, reply = await api.handle("POST", "/populate", json.loads(config.read_text()))
        if status != 201:
            raise SystemExit(f"--config {config}: {reply}")
    server = await asyncio.start_server(api.serve_http, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.agents.netproxy")
    parser.add_argument("--host", default=BIND_HOST)
    parser.add_argument("--port", type=int, default=TOXIPROXY_PORT)
    parser.add_argument("--config", type=Path, help="a JSON list of proxies to create")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.config))


if __name__ == "__main__":
    main()
