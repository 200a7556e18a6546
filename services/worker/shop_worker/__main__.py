"""``python -m shop_worker``: one queue worker (serves /metrics and /healthz)."""

from __future__ import annotations

import logging
import os
import sys

import uvloop

from shop_api.config import ConfigError
from shop_worker.config import WorkerSettings
from shop_worker.service import Worker


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = WorkerSettings.from_env(os.environ)
    except ConfigError as exc:
        print(f"shop_worker: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("starting with %s", settings.redacted())
    try:
        uvloop.run(Worker(settings).run())
    except ConnectionError as exc:  # a dependency never came up
        print(f"shop_worker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
