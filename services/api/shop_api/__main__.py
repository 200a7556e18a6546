"""``python -m shop_api``: one API replica on uvicorn (uvloop, httptools, no access log).

SIGTERM or SIGINT: uvicorn stops accepting, finishes open requests (up to
``GRACEFUL_TIMEOUT_S``), then the app's lifespan stops the outbox relay and closes its
connections; the process exits 0. A signal during start-up (a dependency not up yet)
abandons the start-up instead of waiting it out. Exit 3 is uvicorn's "start-up failed".
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

import uvicorn

from shop_api.app import create_app
from shop_api.config import ApiSettings, ConfigError

GRACEFUL_TIMEOUT_S = 4  # open requests; then the lifespan closes (a few s at worst)


def _stopped_by(sig: int, frame: FrameType | None) -> None:
    """Receives the signal uvicorn re-raises after its graceful shutdown.

    uvicorn restores the handlers it found and raises the signal again so that they run;
    with the default handler the process would die of SIGTERM (exit 143) after a clean
    shutdown. The shutdown is already done here, so there is nothing left to do.
    """
    logging.getLogger(__name__).info("stopped by %s", signal.Signals(sig).name)


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = ApiSettings.from_env(os.environ)
    except ConfigError as exc:
        print(f"shop_api: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("starting with %s", settings.redacted())
    server: uvicorn.Server | None = None

    def stop_requested() -> bool:
        return server is not None and server.should_exit

    config = uvicorn.Config(
        create_app(settings, stop_requested=stop_requested),
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_TIMEOUT_S,
    )
    server = uvicorn.Server(config)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped_by)
    server.run()  # raises SystemExit(3) if the start-up failed
    return 0


if __name__ == "__main__":
    sys.exit(main())
