"""``Launcher``: how one kind of service (``x-lab.kind`` of compose.yaml) runs as a local
process. The runtime calls ``prepare`` once per ``lab up``, ``command``/``env`` for every
instance, and polls ``ready`` until true. The kinds are in ``datastores`` and
``services``; ``kinds`` maps each ``x-lab.kind`` to its launcher.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import ClassVar

from lab import local_http
from lab.errors import RuntimeUnavailable
from lab.process_groups import ProcRecord
from lab.runtime.native.context import NativeContext, find_binary, pg_binary
from lab.topology import ServiceSpec


class Launcher:
    kind: ClassVar[str]
    binaries: ClassVar[tuple[str, ...]] = ()
    packages: ClassVar[tuple[str, ...]] = ()  # Debian packages providing the binaries
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    per_instance_port: ClassVar[bool] = False
    admin_port: ClassVar[bool] = False  # one more port per instance: its admin endpoint

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec

    def binary(self, name: str) -> str:
        found = find_binary(name) if name != "postgres" else pg_binary(name)
        if found is None:
            raise RuntimeUnavailable(
                f"`{name}` not found (needed by {self.spec.name})",
                hint=f"apt-get install -y {' '.join(self.packages)}  (or `make setup`)",
            )
        return found

    def prepare(self, ctx: NativeContext) -> None:
        """One-time setup before the first instance starts (configs, data dirs)."""

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        raise NotImplementedError

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        return {}

    def user(self, ctx: NativeContext) -> str | None:
        return None

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        raise NotImplementedError

    def after_ready(self, ctx: NativeContext, rec: ProcRecord) -> None:
        """Runs once the first instance is ready (e.g. create the database)."""


def http_ok(url: str) -> bool:
    return local_http.get(url, timeout=1.0).status_code == 200


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
