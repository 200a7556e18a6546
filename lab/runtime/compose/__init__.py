"""The compose runtime: compose.yaml's services as Docker containers (python-on-whales).

``runtime`` holds ``ComposeRuntime``; ``state`` what a compose lab records under
``.lab/``; ``lb`` reads HAProxy's stats; ``images`` decides optional profiles.
``exporter`` and ``replica`` run *inside* the app image (the per-container CPU/memory
exporter, and the entrypoint that names a replica ``api-2`` after its container), where
python-on-whales is not installed: so ``ComposeRuntime`` is imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.runtime.compose.runtime import ComposeRuntime

__all__ = ["ComposeRuntime"]


def __getattr__(name: str) -> Any:
    if name == "ComposeRuntime":
        from lab.runtime.compose.runtime import ComposeRuntime

        return ComposeRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
