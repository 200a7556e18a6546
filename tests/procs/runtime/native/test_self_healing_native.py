"""Restart policies natively: the supervisor brings a crashed replica back and HAProxy
takes it back; a stop or a pause is never undone; the supervisor killed itself leaves
nothing behind `lab down` cannot find."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from lab.lab import Lab
from lab.runtime.base import InstanceState
from tests.labtools import LabHome, Traffic, lab_processes, private_home, wait_until

pytestmark = pytest.mark.procs


@pytest.fixture(scope="module")
def healing() -> Iterator[Lab]:
    with private_home() as home:
        lab = Lab(home.settings(seed_products=200))
        lab.up({"api": 2, "worker": 1})
        yield lab
        lab.close()


def instance(lab: Lab, name: str) -> tuple[InstanceState, int | None]:
    found = next(i for i in lab.runtime.status().instances if i.name == name)
    return found.state, found.pid


def test_a_killed_replica_comes_back_and_serves_through_the_lb(healing: Lab) -> None:
    lab = healing
    _, old_pid = instance(lab, "api-2")
    with Traffic(lab.runtime.endpoint("lb").url) as traffic:
        assert wait_until(lambda: traffic.replicas["api-2"] > 5, timeout=10), traffic.replicas
        lab.kill("api-2")
        killed = time.monotonic()
        traffic.reset()
        back = wait_until(lambda: traffic.replicas["api-2"] > 0, timeout=30, interval=0.02)
        took = time.monotonic() - killed
    assert back, f"api-2 did not serve again through the LB: {traffic.replicas}"
    print(f"\nkill api-2 -> first 200 from it through the LB: {took:.2f} s")
    state, pid = instance(lab, "api-2")
    assert state is InstanceState.RUNNING and pid != old_pid
    assert traffic.failures == []  # HAProxy retried the GETs the dead replica dropped
    events = [json.loads(line) for line in lab.events.path.read_text().splitlines()]
    healed = [e for e in events if e["kind"] == "restarted" and e["data"]["instance"] == "api-2"]
    assert healed, "the supervisor journals the restart (the run's timeline shows it)"


def test_a_stopped_instance_stays_stopped(healing: Lab) -> None:
    lab = healing
    lab.stop("worker-1")
    try:
        time.sleep(2.0)  # twenty supervisor polls, far beyond the first 100 ms backoff
        assert instance(lab, "worker-1")[0] is InstanceState.STOPPED
    finally:
        lab.start("worker-1")
    assert instance(lab, "worker-1")[0] is InstanceState.RUNNING


def test_a_paused_instance_is_not_restarted(healing: Lab) -> None:
    lab = healing
    _, pid = instance(lab, "api-1")
    lab.pause("api-1")
    try:
        time.sleep(2.0)
        assert instance(lab, "api-1")[1] == pid
    finally:
        lab.resume("api-1")
    assert wait_until(lambda: instance(lab, "api-1")[0] is InstanceState.RUNNING, timeout=10)
    assert instance(lab, "api-1")[1] == pid


def test_restart_is_a_stop_and_a_start(healing: Lab) -> None:
    lab = healing
    _, pid = instance(lab, "worker-1")
    lab.restart("worker-1")
    state, new_pid = instance(lab, "worker-1")
    assert state is InstanceState.RUNNING and new_pid != pid


def test_a_killed_supervisor_leaves_no_orphans(lab_home: LabHome) -> None:
    lab = Lab(lab_home.settings(seed_products=200, api_replicas=1, worker_replicas=1))
    lab.up()
    _, supervisor = instance(lab, "lab-supervisor-1")
    assert supervisor is not None
    lab.kill("api-1")
    # the supervisor dies while it brings api-1 back (or just after): whatever it
    # started is in state.json, so `lab down` ends it
    time.sleep(0.3)
    os.kill(supervisor, signal.SIGKILL)
    assert instance(lab, "lab-supervisor-1")[0] is InstanceState.EXITED or wait_until(
        lambda: instance(lab, "lab-supervisor-1")[0] is InstanceState.EXITED, timeout=5
    )
    lab.down()
    assert lab_processes(lab.settings.state_dir) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{lab.settings.bind_host}:{lab.settings.lb_port}/healthz", timeout=2)
