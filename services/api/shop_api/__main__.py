"""``python -m shop_api``: one API replica on uvicorn (uvloop, httptools, no access log)."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from shop_api.app import create_app
from shop_api.config import ApiSettings, ConfigError


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
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
