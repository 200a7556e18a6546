"""`lab scenario scale-out --profile quick` end to end, as a user runs it, on a native lab.

Real processes only (Postgres, Redis, NATS, HAProxy, Prometheus, Locust), in a private
LAB_HOME with free ports; the load targets 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.labtools import CAPACITY_CHECKS, RUN_FILES, LabHome, unexplained_failures

LAB = [sys.executable, "-c", "from lab.cli import main; main()"]


def lab(home: LabHome, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LAB, *args], env=home.env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def only_run(home: LabHome) -> Path:
    runs = sorted(home.runs.glob("*-scale-out"))
    assert len(runs) == 1, runs
    return runs[0]


def locust_processes(home: LabHome, since: float) -> list[psutil.Process]:
    """Locust processes started by this test's lab (its port or its home on the line)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "create_time", "cwd"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "locust" not in cmdline or (proc.info["create_time"] or 0) < since:
            continue
        mine = str(home.locust_port) in cmdline or str(home.home) in cmdline
        if mine or str(home.home) in (proc.info["cwd"] or ""):
            found.append(proc)
    return found


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_scale_out_quick_passes_and_writes_the_run_folder(lab_home: LabHome) -> None:
    started = time.time()
    done = lab(lab_home, "scenario", "scale-out", "--profile", "quick", timeout=540)
    output = done.stdout[-4000:] + done.stderr[-4000:]
    run = only_run(lab_home)
    verdict = json.loads((run / "verdict.json").read_text())
    assert not unexplained_failures(verdict, CAPACITY_CHECKS), output
    if verdict["passed"]:
        assert done.returncode == 0 and "PASSED" in done.stdout, output
    for name in RUN_FILES:
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert f"report: {run / 'report.html'}" in done.stdout.replace("\n", "")
    assert verdict["profile"] == "quick"
    assert verdict["knee"]["users"] > 0
    by_name = {p["name"]: p for p in verdict["phases"]}
    assert [by_name[n]["replicas"]["api"] for n in ("find-knee", "scale-2", "scale-4")] == [1, 2, 4]
    assert by_name["scale-4"]["rps"] >= 3 * by_name["find-knee"]["rps"]

    kinds = [json.loads(line)["kind"] for line in (run / "events.jsonl").read_text().splitlines()]
    assert {"phase", "load", "scale", "check", "knee"} <= set(kinds)
    header = (run / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "t" and "api_requests_rate10s" in header

    html = (run / "report.html").read_text()
    plots = list((run / "plots").glob("*.png"))
    assert plots and html.count("data:image/png;base64,") >= len(plots)

    status = json.loads(lab(lab_home, "status", "--json").stdout)
    api = [i for i in status["instances"] if i["service"] == "api"]
    assert len(api) == 1, "replica counts are restored to the scenario's start"
    assert not locust_processes(lab_home, started)


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_sigint_mid_run_restores_replicas_and_stops_locust(lab_home: LabHome) -> None:
    up = lab(lab_home, "up", "--scale", "api=2", "--scale", "worker=1", timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    started = time.time()
    proc = subprocess.Popen(
        [*LAB, "scenario", "scale-out", "--profile", "quick"],
        env=lab_home.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not _knee_started(lab_home):  # the scenario has changed the lab and loads it
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the knee search never started"
            time.sleep(0.5)
        assert locust_processes(lab_home, started), "Locust should run mid-scenario"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "interrupted" in output

    status = json.loads(lab(lab_home, "status", "--json").stdout)
    running = [i for i in status["instances"] if i["state"] == "running"]
    assert sum(1 for i in running if i["service"] == "api") == 2, status
    assert sum(1 for i in running if i["service"] == "worker") == 1, status
    assert not locust_processes(lab_home, started)

    verdict = json.loads((only_run(lab_home) / "verdict.json").read_text())
    assert verdict["passed"] is False
    assert verdict["aborted"] == "interrupted (Ctrl-C)"


def _knee_started(home: LabHome) -> bool:
    runs = sorted(home.runs.glob("*-scale-out"))
    if not runs or not (runs[0] / "events.jsonl").exists():
        return False
    return '"kind": "knee_step"' in (runs[0] / "events.jsonl").read_text()
