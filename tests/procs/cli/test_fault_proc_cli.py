"""`lab fault proc ...` as a user runs it: a held fault is undone when its time is up,
and on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from lab.lab import Lab
from lab.runtime.base import InstanceState
from tests.labtools import LabHome, private_home, wait_until

pytestmark = [pytest.mark.procs, pytest.mark.e2e]

LAB = [sys.executable, "-m", "lab.cli"]


@pytest.fixture(scope="module")
def booted() -> Iterator[tuple[LabHome, Lab]]:
    with private_home() as home:
        lab = Lab(home.settings(seed_products=100, api_replicas=1, worker_replicas=1))
        lab.up()
        yield home, lab
        lab.close()


def fault(home: LabHome, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*LAB, "fault", "proc", *args],
        env=home.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def state_of(lab: Lab, name: str) -> tuple[InstanceState, str | None]:
    found = next(i for i in lab.runtime.status().instances if i.name == name)
    try:
        status = psutil.Process(found.pid).status() if found.pid else None
    except psutil.Error:
        status = None
    return found.state, status


def test_pause_for_a_while_then_resumed(booted: tuple[LabHome, Lab]) -> None:
    home, lab = booted
    with fault(home, "pause", "api-1", "--for", "2") as cli:
        assert wait_until(lambda: state_of(lab, "api-1")[1] == psutil.STATUS_STOPPED, 15)
        out, err = cli.communicate(timeout=30)
    assert cli.returncode == 0, err
    assert "paused api-1" in out and "resumed api-1" in out
    assert state_of(lab, "api-1")[1] != psutil.STATUS_STOPPED


def test_ctrl_c_ends_a_held_stop_and_starts_it_again(booted: tuple[LabHome, Lab]) -> None:
    home, lab = booted
    with fault(home, "stop", "worker-1", "--for", "600") as cli:
        assert wait_until(lambda: state_of(lab, "worker-1")[0] is InstanceState.STOPPED, 30)
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=60)
    assert cli.returncode == 130 and "Traceback" not in err
    assert state_of(lab, "worker-1")[0] is InstanceState.RUNNING


def test_restart_and_a_bad_instance(booted: tuple[LabHome, Lab]) -> None:
    home, lab = booted
    before = next(i.pid for i in lab.runtime.status().instances if i.name == "worker-1")
    with fault(home, "restart", "worker-1") as cli:
        _, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    after = next(i for i in lab.runtime.status().instances if i.name == "worker-1")
    assert after.state is InstanceState.RUNNING and after.pid != before
    with fault(home, "kill", "worker-9") as cli:
        _, err = cli.communicate(timeout=60)
    assert cli.returncode == 1 and "no instance 'worker-9'" in err
