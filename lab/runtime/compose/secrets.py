"""Reading the lab's generated secrets back out of the Compose project's ``secrets`` volume.

compose.yaml's one-shot ``secrets`` service writes random passwords (``pg_password``,
``grafana_password``, ...) into a named volume that the services mount read-only at
``/run/lab-secrets``. The lab reads one with ``docker cp`` from any container of the
project that mounts the volume, running or exited (the ``secrets`` container itself stays,
exited, for as long as the project exists), so it works on a remote Docker engine too and
starts no container.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from lab.errors import ConfigError, LabStateError

MOUNT = "/run/lab-secrets"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def read_secret(docker: DockerClient, containers: Iterable[Container], name: str) -> str:
    """The content of secret ``name``; raises ``LabError`` when no container can tell."""
    if not NAME.match(name):
        raise ConfigError(f"{name!r} is not a secret's name", hint="e.g. grafana_password")
    holders = [c for c in containers if any(m.destination == MOUNT for m in c.mounts or [])]
    if not holders:
        raise LabStateError(
            f"no container of the lab mounts its secrets volume at {MOUNT}",
            hint="start the lab with `lab up --runtime compose`",
        )
    errors = []
    with tempfile.TemporaryDirectory(prefix="lab-secret-") as folder:
        local = Path(folder) / name
        for container in holders:
            try:
                docker.container.copy((container.name, f"{MOUNT}/{name}"), local)
                return local.read_text(encoding="utf-8").strip()
            except (DockerException, OSError) as exc:
                errors.append(f"{container.name}: {_first_line(exc)}")
    raise LabStateError(
        f"could not read the secret {name!r}: " + "; ".join(errors),
        hint=f"docker compose logs secrets (it writes {MOUNT}/{name})",
    )


def _first_line(exc: Exception) -> str:
    text = (exc.stderr if isinstance(exc, DockerException) else None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
