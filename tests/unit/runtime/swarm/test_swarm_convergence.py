"""A stack that does not converge: the timeout names the service still behind and shows its
last log lines, read before anything takes the stack (and its logs) away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.errors import NotReadyError
from lab.runtime.base import Instance, InstanceState, LabStatus
from lab.runtime.swarm.runtime import SwarmRuntime
from lab.runtime.swarm.state import SwarmState
from lab.settings import Settings


def test_a_stack_that_never_converges_shows_the_laggards_last_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = SwarmRuntime(Settings().with_overrides(runtime="swarm"))
    starting = Instance("api-1", "api", 1, InstanceState.STARTING)
    asked: list[tuple[str, int]] = []

    def logs(service: str, *, follow: bool = False, tail: int = 100) -> Iterator[str]:
        asked.append((service, tail))
        yield "api-1 | waiting for postgres: password authentication failed for user lab"

    monkeypatch.setattr(
        runtime, "status", lambda service=None: LabStatus("swarm", True, [starting])
    )
    monkeypatch.setattr(runtime, "logs", logs)
    monkeypatch.setattr(runtime, "_up_timeout", lambda: 0.2)
    with pytest.raises(NotReadyError) as caught:
        runtime._wait_converged(SwarmState("prodlab", {"api": 1}), ["api"])
    message = caught.value.message
    assert "did not converge" in message and "api: 0 of 1 running (api-1 starting)" in message
    assert (
        "the last lines of api:\n  api-1 | waiting for postgres: password authentication" in message
    )
    assert asked == [("api", 8)]
    assert "docker stack ps" in (caught.value.hint or "")
