"""The native Prometheus config, the recording rules' meaning, and the process exporter.

``promtool`` (from Debian's prometheus package) checks the config and rules for real, and
``promtool test rules`` evaluates the rules on synthetic series: a rule whose PromQL is
valid but means the wrong thing fails here, not in a dashboard.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

from lab.agents.process_exporter import tree_cpu
from lab.agents.usage import MonotonicTotal
from lab.metrics.promconfig import JOBS, render_native_config, write_targets
from tests.labtools import PROJECT

RULES = PROJECT / "services" / "prometheus" / "rules.yml"
CONTRACT = PROJECT / "docs" / "contracts.md"


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=60
    )


def test_rendered_native_config_passes_promtool(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    for job in JOBS:
        write_targets(targets, job, [])
    config = tmp_path / "prometheus.yml"
    config.write_text(
        render_native_config(scrape_interval_s=1.0, targets_dir=targets, rules_file=RULES)
    )
    done = promtool("check", "config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    parsed = yaml.safe_load(config.read_text())
    assert [job["job_name"] for job in parsed["scrape_configs"]] == list(JOBS)
    assert parsed["global"]["scrape_interval"] == "1s"


def test_rules_pass_promtool_and_match_the_contract() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    records = {r["record"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    documented = set(re.findall(r"`(lab:[a-z0-9_:]+)`", CONTRACT.read_text()))
    documented |= {f"lab:api_latency_seconds:{q}_10s" for q in ("p95", "p99")}  # "p95_10s / ..."
    assert documented == records


def test_rules_mean_what_the_contract_says() -> None:
    done = promtool("test", "rules", "rules_test.yml", cwd=PROJECT / "tests" / "data")
    assert done.returncode == 0, done.stdout + done.stderr


def test_targets_are_rewritten_atomically_and_only_on_change(tmp_path: Path) -> None:
    write_targets(tmp_path, "api", [("127.0.0.1:1", {"service": "api", "instance": "api-1"})])
    path = tmp_path / "api.json"
    first = path.stat().st_mtime_ns
    assert json.loads(path.read_text()) == [
        {"targets": ["127.0.0.1:1"], "labels": {"service": "api", "instance": "api-1"}}
    ]
    time.sleep(0.01)  # mtime resolution: an unchanged write must not touch the file
    write_targets(tmp_path, "api", [("127.0.0.1:1", {"service": "api", "instance": "api-1"})])
    assert path.stat().st_mtime_ns == first
    write_targets(tmp_path, "api", [])
    assert json.loads(path.read_text()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["api.json"]  # no temp files left


BURNER = """
import os, sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        burn(0.3)
        os._exit(0)
    os.waitpid(pid, 0)
open(sys.argv[1], "w").close()
time.sleep(60)
"""


def test_cpu_counter_counts_children_and_never_goes_down(tmp_path: Path) -> None:
    marker = tmp_path / "done"
    parent = subprocess.Popen([sys.executable, "-c", BURNER, str(marker)])
    try:
        cpu = MonotonicTotal()
        root = psutil.Process(parent.pid)
        readings = []
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            readings.append(cpu.update(tree_cpu([root, *root.children(recursive=True)])))
            time.sleep(0.02)
        readings.append(cpu.update(tree_cpu([root, *root.children(recursive=True)])))
        assert marker.exists()
        assert readings == sorted(readings), "the counter went down"
        # three children burned 0.3 s each and exited; each was seen while alive
        assert readings[-1] >= 0.6, readings[-1]
    finally:
        parent.kill()
        parent.wait()


def test_monotonic_total_survives_replaced_and_restarted_sources() -> None:
    cpu = MonotonicTotal()
    assert cpu.update({"container-a": 2.0}) == 2.0
    assert cpu.update({"container-a": 3.5}) == 3.5
    assert cpu.update({"container-b": 1.0}) == 4.5  # a new container counts from zero
    assert cpu.update({"container-b": 0.25}) == 4.75  # a restarted cgroup starts over
    assert cpu.update({}) == 4.75  # everything gone: the total stays
