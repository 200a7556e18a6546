"""Runtimes: where the lab's services run (local processes, Docker Compose, Docker Swarm).

``base`` declares the ``Runtime`` protocol; ``native``, ``compose`` and ``swarm`` implement it
and never import each other; what both need sits beside them (``common``, ``home``).
"""

from __future__ import annotations

from lab.runtime.base import Endpoint, Instance, InstanceState, LabStatus, Runtime
from lab.settings import Settings

__all__ = ["Endpoint", "Instance", "InstanceState", "LabStatus", "Runtime", "open_runtime"]


def open_runtime(name: str, settings: Settings) -> Runtime:
    """The runtime called ``name`` (``native``, ``compose`` or ``swarm``) for ``settings``; each is
    imported only when chosen (the compose one needs python-on-whales)."""
    if name == "native":
        from lab.runtime.native.runtime import NativeRuntime

        return NativeRuntime(settings)
    if name == "compose":
        from lab.runtime.compose import ComposeRuntime

        return ComposeRuntime(settings)
    if name == "swarm":
        from lab.runtime.swarm.runtime import SwarmRuntime

        return SwarmRuntime(settings)
    from lab.errors import ConfigError

    raise ConfigError(f"unknown runtime {name!r}", hint="use native, compose or swarm")
