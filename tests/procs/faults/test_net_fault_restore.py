"""Network faults are taken away when their time is up and on Ctrl-C: `lab fault net
... --for` and `lab scenario` as subprocesses, interrupted with SIGINT, against a real
native lab (its Toxiproxy asked afterwards through the same client)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lab.lab import Lab
from tests.labtools import PROJECT, LabHome, private_home, wait_until

pytestmark = [pytest.mark.procs, pytest.mark.e2e]
SCENARIO = PROJECT / "tests" / "data" / "scenarios" / "net-faults.yaml"


@pytest.fixture(scope="module")
def home() -> Iterator[LabHome]:
    """A lab up with the scenario's topology (so the scenario runs on it as it is)."""
    with private_home() as found:
        lab = Lab(found.settings(net_proxy=True, api_work_ms=10, seed_products=200))
        lab.up({"api": 1, "worker": 1})
        lab.close()
        yield found


def lab_cli(home: LabHome, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lab.cli", *args],
        env=home.env(),  # no LAB_NET_PROXY: the running lab recorded it at `up`
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def faults(home: LabHome) -> list[str]:
    return Lab(home.settings(net_proxy=True)).net_faults()


def events(home: LabHome) -> str:
    path = home.home / "events.jsonl"
    return path.read_text() if path.exists() else ""


def interrupt(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out
    return out


def test_ctrl_c_in_a_scenario_takes_its_faults_away(home: LabHome) -> None:
    process = lab_cli(home, "scenario", "run", str(SCENARIO), "--profile", "quick")
    try:
        assert wait_until(lambda: "redis timeout" in events(home), timeout=180), events(home)
        assert faults(home) == [
            "redis: lab_timeout_downstream timeout downstream toxicity=0.5 timeout=0"
        ]
    finally:
        out = interrupt(process)
    assert "lab was restored" in out
    assert faults(home) == []
    # the step with a duration had already ended its own fault
    assert events(home).count('"kind": "net_fault_end"') == 2


def test_lab_fault_for_ends_the_fault_by_itself_and_on_ctrl_c(home: LabHome) -> None:
    done = lab_cli(
        home, "fault", "net", "latency", "--to", "postgres", "--ms", "200", "--for", "1s"
    )
    out, _ = done.communicate(timeout=60)
    assert done.returncode == 0, out
    assert "fault off: postgres latency" in out and faults(home) == []

    process = lab_cli(home, "fault", "net", "down", "--to", "redis", "--for", "5m")
    try:
        assert wait_until(lambda: faults(home) == ["redis: down (proxy disabled)"], timeout=30)
    finally:
        interrupt(process)
    assert faults(home) == []


def test_a_bad_fault_is_refused_naming_the_field(home: LabHome) -> None:
    bad = lab_cli(home, "fault", "net", "latency", "--to", "mysql", "--ms", "5")
    out, _ = bad.communicate(timeout=60)
    assert bad.returncode == 1 and "to: must be one of postgres, redis, nats" in out


def test_clear_removes_a_fault_left_in_place(home: LabHome) -> None:
    left = lab_cli(home, "fault", "net", "bandwidth", "--to", "nats", "--rate", "10")
    out, _ = left.communicate(timeout=60)
    assert left.returncode == 0 and "until `lab fault clear`" in out
    assert len(faults(home)) == 1
    cleared = lab_cli(home, "fault", "clear")
    out, _ = cleared.communicate(timeout=60)
    assert cleared.returncode == 0, out
    assert faults(home) == []
