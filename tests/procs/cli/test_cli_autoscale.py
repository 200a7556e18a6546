"""`lab autoscale on | status | off` through a subprocess on a native lab: the background
autoscaler scales on real traffic, explains itself, refuses a second copy and a bad
policy, and `lab down` leaves nothing of it behind."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import pytest

from lab.autoscale import daemon
from tests.labtools import LabHome, lab_cli, lab_processes, wait_until

pytestmark = [pytest.mark.procs, pytest.mark.e2e]

POLICY = """\
api:
  metric: rps
  target: 2            # req/s per replica: ~15 req/s ask for ceil(15 / 2) = 8, capped at 2
  max_replicas: 2
  sync_s: 1
  window_s: 2
"""


def traffic(url: str, stop: threading.Event) -> None:
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            client.get(f"{url}/products/1")
            time.sleep(0.05)


def test_background_autoscaler_scales_explains_and_goes_with_the_lab(
    lab_home: LabHome, tmp_path: Path
) -> None:
    assert lab_cli(lab_home, "up", "--scale", "api=1", "--scale", "worker=1").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("api: {sync_s: 0}\n")
    refused = lab_cli(lab_home, "autoscale", "on", "--policy", str(bad))
    assert refused.returncode == 1 and "api.sync_s" in refused.stderr, refused.stderr

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    on = lab_cli(lab_home, "autoscale", "on", "--policy", str(policy))
    assert on.returncode == 0, on.stderr
    assert "api HPA on rps (target 2)" in on.stdout
    again = lab_cli(lab_home, "autoscale", "on")
    assert again.returncode == 1 and "already runs" in again.stderr

    stop = threading.Event()
    sender = threading.Thread(
        target=traffic, args=(f"http://127.0.0.1:{lab_home.lb_port}", stop), daemon=True
    )
    sender.start()
    try:
        scaled = wait_until(
            lambda: "api 1 → 2" in lab_cli(lab_home, "autoscale", "status").stdout, timeout=40
        )
    finally:
        stop.set()
        sender.join(10)
    status = lab_cli(lab_home, "autoscale", "status")
    assert scaled, status.stdout
    assert "running, pid" in status.stdout
    assert "ceil(" in status.stdout and "limited by max 2" in status.stdout, status.stdout
    assert "breach → serving" in status.stdout, status.stdout

    pid = daemon.running(lab_home.home / "autoscale")
    assert pid is not None
    down = lab_cli(lab_home, "down")
    assert down.returncode == 0, down.stderr
    assert wait_until(lambda: lab_processes(lab_home.home) == [], timeout=10)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # the journal stays for reading after the lab is gone
    assert "not running" in lab_cli(lab_home, "autoscale", "status").stdout
