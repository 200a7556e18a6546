"""Serve the admin app (``shop_api.admin``) on 127.0.0.1 from a thread of its own.

uvicorn serves one app per server; a second server on the replica's event loop would
install its own signal handlers over the main one's. In a thread (its own loop) uvicorn
leaves signals alone, the admin endpoint still answers when the main loop is saturated
(or hogged), and the fault board is the only thing the two share (see ``faults``).
"""

from __future__ import annotations

import asyncio
import logging
import threading

import uvicorn
from fastapi import FastAPI

from shop_api.lifecycle import retrying

log = logging.getLogger(__name__)

ADMIN_HOST = "127.0.0.1"  # loopback only, always: not a knob
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 3.0


class AdminServer:
    def __init__(self, app: FastAPI, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=ADMIN_HOST,
            port=port,
            loop="none",
            http="h11",
            lifespan="off",
            access_log=False,
            server_header=False,
            log_level="warning",
        )
        self.port = port
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="admin-server", daemon=True)
        self.failed: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve())
        except BaseException as exc:  # SystemExit when the port is taken
            self.failed = exc

    async def start(self) -> None:
        """Start serving; raise ``ConnectionError`` if it is not listening in time."""
        self.thread.start()

        async def listening() -> None:
            if self.failed is not None or not self.thread.is_alive():
                raise ConnectionError(f"admin server stopped: {self.failed!r}")
            if not self.server.started:
                raise ConnectionError("not listening yet")

        where = f"admin endpoint on {ADMIN_HOST}:{self.port}"
        await retrying(where, listening, timeout=START_TIMEOUT_S)
        log.info("admin endpoint on %s:%d", ADMIN_HOST, self.port)

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.to_thread(self.thread.join, STOP_TIMEOUT_S)
