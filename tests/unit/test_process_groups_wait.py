"""``process_groups.wait_gone``: an exited process is gone while it is still a zombie
(one reparented to init stays a zombie until init reaps it, 1-2 s here), and one that
runs is reported alive when the time is up."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from lab.process_groups import wait_gone


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
