"""`lab` through a subprocess, as a user runs it: output, exit codes, and no orphans."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.runtime.native.state import StateStore
from lab.wait import port_free
from tests.labtools import LabHome, lab_cli, lab_processes, wait_until

pytestmark = [pytest.mark.procs, pytest.mark.e2e]

LAB = [sys.executable, "-m", "lab.cli"]


def start_up(home: LabHome) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*LAB, "up", "--scale", "api=2", "--scale", "worker=1"],
        env=home.env(LAB_SEED_PRODUCTS="100"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started_something(home: LabHome) -> bool:
    state = StateStore(home.home).load()
    return state is not None and any(r.service == "api" for r in state.instances.values())


def assert_nothing_left(home: LabHome) -> None:
    assert wait_until(lambda: lab_processes(home.home) == [], timeout=10), [
        p.cmdline() for p in lab_processes(home.home)
    ]
    assert port_free("127.0.0.1", home.lb_port)
    assert port_free("127.0.0.1", home.prometheus_port)


def test_up_status_down(lab_home: LabHome) -> None:
    up = lab_cli(lab_home, "up", "--scale", "api=1", "--scale", "worker=1")
    assert up.returncode == 0, up.stderr
    assert "ready in" in up.stdout
    assert f"127.0.0.1:{lab_home.lb_port}" in up.stdout

    again = lab_cli(lab_home, "up")
    assert again.returncode == 1
    assert "already up" in again.stderr

    status = lab_cli(lab_home, "status", "--json")
    assert status.returncode == 0, status.stderr
    payload = json.loads(status.stdout)
    assert payload["up"] is True
    names = {i["name"]: i["state"] for i in payload["instances"]}
    assert names["api-1"] == "running"
    assert names["postgres-1"] == "running"

    scaled = lab_cli(lab_home, "scale", "api=2")
    assert scaled.returncode == 0, scaled.stderr
    assert "api: 2 ready" in scaled.stdout

    logs = lab_cli(lab_home, "logs", "api", "--tail", "5")
    assert logs.returncode == 0
    assert "api-1 |" in logs.stdout

    down = lab_cli(lab_home, "down")
    assert down.returncode == 0, down.stderr
    assert_nothing_left(lab_home)


def test_bad_arguments_are_one_clear_line(lab_home: LabHome) -> None:
    bad = lab_cli(lab_home, "scale", "api=lots")
    assert bad.returncode == 1
    assert "bad scale 'api=lots'" in bad.stderr
    assert "Traceback" not in bad.stderr
    not_up = lab_cli(lab_home, "scale", "api=2")
    assert not_up.returncode == 1
    assert "not up" in not_up.stderr


def test_ctrl_c_during_up_leaves_nothing(lab_home: LabHome) -> None:
    with start_up(lab_home) as orchestrator:  # the with block closes its pipes
        try:
            assert wait_until(lambda: started_something(lab_home), timeout=30)
            orchestrator.send_signal(signal.SIGINT)
            _, stderr = orchestrator.communicate(timeout=60)
        finally:
            if orchestrator.poll() is None:
                orchestrator.kill()
    assert orchestrator.returncode != 0
    assert "Traceback" not in stderr
    assert_nothing_left(lab_home)
    # and it can be brought up again
    again = lab_cli(lab_home, "up", "--scale", "api=1", "--scale", "worker=1")
    assert again.returncode == 0, again.stderr
    assert lab_cli(lab_home, "down").returncode == 0
    assert_nothing_left(lab_home)


def test_sigkill_of_the_orchestrator_then_down(lab_home: LabHome) -> None:
    with start_up(lab_home) as orchestrator:
        try:
            assert wait_until(lambda: started_something(lab_home), timeout=30)
            time.sleep(0.3)  # let a few more processes start: the point is to leave some behind
            orchestrator.kill()
            orchestrator.communicate(timeout=10)
        finally:
            if orchestrator.poll() is None:
                orchestrator.kill()
    assert lab_processes(lab_home.home), "the killed orchestrator left its services running"
    down = lab_cli(lab_home, "down")
    assert down.returncode == 0, down.stderr
    assert_nothing_left(lab_home)


def test_doctor_lists_binaries(lab_home: LabHome) -> None:
    done = lab_cli(lab_home, "doctor")
    assert "haproxy" in done.stdout
    assert "native" in done.stdout
    assert done.returncode == 0, done.stdout


def test_package_entry_point_exists() -> None:
    assert (Path(sys.executable).parent / "lab").exists()
