"""The native per-process exporter as its own process, checked with promtool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from lab import proc
from lab.process_groups import ProcRecord
from lab.runtime.native.state import NativeState, StateStore
from lab.wait import free_port, wait_for


@pytest.mark.procs
def test_exporter_serves_every_recorded_instance(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        created = psutil.Process(sleeper.pid).create_time()
        state = NativeState(
            instances={
                "api-1": ProcRecord("api-1", "api", 1, pid=sleeper.pid, create_time=created),
                "api-2": ProcRecord("api-2", "api", 2, pid=None),  # recorded but not running
            }
        )
        StateStore(tmp_path).save(state)
        port = free_port()
        exporter = subprocess.Popen(
            [sys.executable, "-m", "lab.agents.process_exporter", "--state-file",
             str(tmp_path / "state.json"), "--port", str(port)]
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_for("exporter", lambda: httpx.get(url).status_code == 200, timeout=10)
            text = httpx.get(url).text
            assert 'lab_process_cpu_seconds_total{instance="api-1",service="api"}' in text
            assert 'lab_process_resident_memory_bytes{instance="api-1",service="api"}' in text
            assert 'lab_process_tree_processes{instance="api-2",service="api"} 0.0' in text
            checked = proc.run(["promtool", "check", "metrics"], input_text=text, check=False)
            assert checked.returncode == 0, checked.stdout + checked.stderr
            exporter.terminate()
            assert exporter.wait(timeout=10) == 0
        finally:
            exporter.kill()
            exporter.wait()
    finally:
        sleeper.kill()
        sleeper.wait()
