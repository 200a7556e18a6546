"""``process_groups.wait_gone``: an exited process is gone while it is still a zombie
(one reparented to init stays a zombie until init reaps it, 1-2 s here), and one that
runs is reported alive when the time is up. And stopping a process stops what it started,
but not an instance it started in a process group of its own (the supervisor's respawns)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil

from lab.process_groups import ProcRecord, terminate_together, wait_gone


def test_an_exited_process_is_gone_while_still_a_zombie() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    process = psutil.Process(child.pid)
    try:
        started = time.monotonic()
        assert wait_gone([process], timeout=10) == []
        assert time.monotonic() - started < 5
        assert process.status() == psutil.STATUS_ZOMBIE  # not reaped: nobody waited for it
    finally:
        child.wait(timeout=5)


def test_a_running_process_is_still_alive_when_the_time_is_up() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        process = psutil.Process(child.pid)
        assert wait_gone([process], timeout=0.3) == [process]
    finally:
        child.kill()
        child.wait(timeout=5)
    assert wait_gone([process], timeout=1) == []


PARENT = """
import subprocess, sys, time
sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
helper = subprocess.Popen(sleep)  # its own, in its group
respawned = subprocess.Popen(sleep, start_new_session=True)  # another instance
print(helper.pid, respawned.pid, flush=True)
time.sleep(60)
"""


def test_stopping_a_supervisor_leaves_the_instance_it_respawned_to_its_own_tier() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert parent.stdout is not None
    helper_pid, respawned_pid = (int(pid) for pid in parent.stdout.readline().split())
    respawned = psutil.Process(respawned_pid)
    try:
        record = ProcRecord(
            "lab-supervisor-1",
            "lab-supervisor",
            1,
            parent.pid,
            psutil.Process(parent.pid).create_time(),
        )
        family = terminate_together([(record, signal.SIGTERM)], grace=5)
        assert {p.pid for p in family} == {parent.pid, helper_pid}
        assert wait_gone([psutil.Process(helper_pid)], timeout=5) == []
        assert respawned.is_running() and respawned.status() != psutil.STATUS_ZOMBIE
    finally:
        respawned.kill()
        parent.wait(timeout=5)
        parent.stdout.close()
