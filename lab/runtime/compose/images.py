"""Which optional images this machine can run (Grafana is one the lab cannot build)."""

from __future__ import annotations

import logging

from lab import proc
from lab.errors import LabCommandError

log = logging.getLogger(__name__)


def image_available(image: str, *, pull_timeout: float = 120.0) -> bool:
    """True when ``image`` is present locally or a pull succeeds (fails fast offline)."""
    try:
        proc.run(["docker", "image", "inspect", image], timeout=15)
        return True
    except LabCommandError:
        pass
    try:
        proc.run(["docker", "pull", "--quiet", image], timeout=pull_timeout)
        return True
    except LabCommandError as exc:
        log.info("%s cannot be pulled, running without it: %s", image, exc.message)
        return False
