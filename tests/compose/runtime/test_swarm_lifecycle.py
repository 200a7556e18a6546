"""The swarm runtime's own lifecycle: `lab up` makes a single-node swarm when there is
none and `lab down` leaves it again; a swarm it found stays, and in both cases nothing of
the lab is left (service, network, secret, container, volume). Real Docker; marked
``compose`` (required in CI)."""

from __future__ import annotations

import shutil

import httpx
import pytest

from lab import proc
from lab.lab import Lab
from tests.labtools import compose_settings, make_home

NAMESPACE = "com.docker.stack.namespace"


def swarm_state() -> str:
    return proc.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout.strip()


def leftovers(stack: str) -> dict[str, list[str]]:
    label = f"label={NAMESPACE}={stack}"
    found = {
        "containers": proc.run(["docker", "ps", "-aq", "--filter", label]).stdout.split(),
        "volumes": proc.run(["docker", "volume", "ls", "-q", "--filter", label]).stdout.split(),
    }
    if swarm_state() == "active":
        for kind in ("service", "secret", "network"):
            cmd = ["docker", kind, "ls", "-q", "--filter", label]
            found[kind] = proc.run(cmd).stdout.split()
    return found


def boot_and_discard() -> str:
    home = make_home()
    lab = Lab(compose_settings(home).with_overrides(runtime="swarm"))
    try:
        lab.up({"api": 1, "worker": 1})
        assert (
            httpx.get(lab.runtime.endpoint("lb").url + "/products/1", timeout=5).status_code == 200
        )
        assert swarm_state() == "active"
    finally:
        lab.runtime.down(volumes=True)
        shutil.rmtree(home.home.parent, ignore_errors=True)
    return lab.settings.compose_project


@pytest.mark.compose
def test_a_swarm_the_lab_made_goes_with_it_and_one_it_found_stays() -> None:
    assert swarm_state() == "inactive", "another swarm is active on this engine"
    stack = boot_and_discard()
    assert swarm_state() == "inactive"  # it made the swarm, it left it
    assert not any(leftovers(stack).values())

    proc.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"])
    try:
        stack = boot_and_discard()
        assert swarm_state() == "active"  # not the lab's to leave
        assert not any(leftovers(stack).values()), leftovers(stack)
    finally:
        proc.run(["docker", "swarm", "leave", "--force"], check=False)
        proc.run(["docker", "network", "rm", "docker_gwbridge"], check=False)
