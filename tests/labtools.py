"""Helpers for tests that look at a running lab from outside: SQL, processes, traffic."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil

from lab import proc
from lab.lab import Lab
from lab.runtime.native.context import pg_binary
from lab.settings import Settings
from lab.wait import reserved_port

# Every file of a run folder (docs/contracts.md), as the runner and render_run write them.
RUN_FILES = (
    "scenario.yaml",
    "events.jsonl",
    "timeseries.csv",
    "locust_stats.csv",
    "locust_stats_history.csv",
    "locust_failures.csv",
    "verdict.json",
    "junit.xml",
    "summary.md",
    "report.html",
)

PROJECT = Path(__file__).resolve().parent.parent
"""The repository root."""


def sql(lab: Lab, query: str) -> list[list[str]]:
    """Run ``query`` on the lab's shop database through psql; rows of text columns."""
    home = lab.settings.state_dir
    state = lab.runtime.status()
    assert state.up
    port = lab.runtime.endpoint("postgres").port
    psql = pg_binary("psql")
    assert psql is not None, "psql not found: apt-get install -y postgresql"
    done = proc.run(
        [
            psql,
            "-h",
            str(home / "run" / "postgres"),
            "-p",
            str(port),
            "-U",
            "lab",
            "-d",
            "shop",
            "-tA",
            "-F",
            "\t",
            "-c",
            query,
        ],
    )
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def lab_processes(home: Path) -> list[psutil.Process]:
    """Every live process started by the lab in ``home`` (by its PRODLAB_HOME marker)."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            marked = process.environ().get("PRODLAB_HOME") == str(home)
            if marked and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def wait_until(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@dataclass
class Traffic:
    """Light, bounded background traffic through the LB, recording every outcome."""

    base_url: str
    path: str = "/products/1"
    max_seconds: float = 60.0
    replicas: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    ok: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    response = client.get(self.path)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                else:
                    self.ok += 1
                    self.replicas[response.headers.get("x-replica", "?")] += 1
                time.sleep(0.005)

    def reset(self) -> None:
        """Start counting answers afresh (failures are kept: they count for the whole run)."""
        self.replicas.clear()
        self.ok = 0


# -- private lab homes -------------------------------------------------------------------


@dataclass(frozen=True)
class LabHome:
    """A private lab: its own state dir, runs dir and user-facing ports."""

    home: Path
    runs: Path
    lb_port: int
    prometheus_port: int
    locust_port: int

    def settings(self, **overrides: object) -> Settings:
        return Settings.load(
            home=self.home,
            runs_dir=self.runs,
            runtime="native",
            lb_port=self.lb_port,
            prometheus_port=self.prometheus_port,
            locust_port=self.locust_port,
            **overrides,
        )

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for `lab` run as a subprocess against this home."""
        return {
            **os.environ,
            "LAB_HOME": str(self.home),
            "LAB_RUNS_DIR": str(self.runs),
            "LAB_RUNTIME": "native",
            "LAB_LB_PORT": str(self.lb_port),
            "LAB_PROMETHEUS_PORT": str(self.prometheus_port),
            "LAB_LOCUST_PORT": str(self.locust_port),
            **extra,
        }


def lab_cli(home: LabHome, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`lab ARGS` through a subprocess against ``home`` (a small catalogue), as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        env=home.env(LAB_SEED_PRODUCTS="100"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def make_home() -> LabHome:
    # Under /tmp, world-traversable: PostgreSQL runs as the `postgres` user and must
    # reach its data dir (pytest's own tmp dirs are 0700 root).
    root = Path(tempfile.mkdtemp(prefix="prodlab-test-", dir="/tmp"))
    root.chmod(0o755)
    ports: list[int] = []
    for _ in range(3):  # three distinct ports: two draws may pick the same free number
        ports.append(reserved_port(taken=ports))
    return LabHome(root / ".lab", root / "runs", *ports)


@contextlib.contextmanager
def private_home() -> Iterator[LabHome]:
    """A fresh lab home; whatever lab runs in it is brought down and the home removed."""
    home = make_home()
    try:
        yield home
    finally:
        discard_home(home)


def discard_home(home: LabHome) -> None:
    """Bring down whatever lab runs in ``home`` and remove the home."""
    Lab(home.settings()).runtime.down(volumes=True)
    shutil.rmtree(home.home.parent, ignore_errors=True)


# -- compose labs ----------------------------------------------------------------------------


def compose_settings(home: LabHome) -> Settings:
    return home.settings(seed_products=200).with_overrides(
        runtime="compose",
        compose_project=f"prodlab-test-{home.lb_port}",
        grafana_port=reserved_port(),
    )


def project_leftovers(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    found = {}
    for kind, cmd in (
        ("containers", ["docker", "ps", "-aq", "--filter", label]),
        ("networks", ["docker", "network", "ls", "-q", "--filter", label]),
        ("volumes", ["docker", "volume", "ls", "-q", "--filter", label]),
    ):
        found[kind] = proc.run(cmd).stdout.split()
    return found


STACK_NAMESPACE = "com.docker.stack.namespace"


def swarm_state() -> str:
    """This engine's swarm: ``inactive``, ``active``, ..."""
    return proc.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout.strip()


def stack_leftovers(stack: str) -> dict[str, list[str]]:
    """What is left of the swarm stack ``stack``: containers, volumes, and (in a swarm)
    services, secrets and networks."""
    label = f"label={STACK_NAMESPACE}={stack}"
    found = {
        "containers": proc.run(["docker", "ps", "-aq", "--filter", label]).stdout.split(),
        "volumes": proc.run(["docker", "volume", "ls", "-q", "--filter", label]).stdout.split(),
    }
    if swarm_state() == "active":
        for kind in ("service", "secret", "network"):
            cmd = ["docker", kind, "ls", "-q", "--filter", label]
            found[kind] = proc.run(cmd).stdout.split()
    return found


def leave_swarm() -> None:
    proc.run(["docker", "swarm", "leave", "--force"], check=False)
    proc.run(["docker", "network", "rm", "docker_gwbridge"], check=False)


@contextlib.contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on a free loopback port, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# Checks that measure capacity against the knobs' prediction (4 slots / 40 ms per replica):
# on a shared 2-core VM whose CPU is stolen by its host, the event loop's delays stretch
# every request's time in a slot and the knee lands below the band. Such a check may fail
# in a test only when the run itself measured the machine's CPU saturated and named it.
CAPACITY_CHECKS = frozenset(
    {
        "throughput scales with replicas",
        "find-knee: 1 replica: 4 slots / 40 ms = 100 req/s at the knee",
        "scale-2: 2 replicas carry 2 × the knee's rate",
        "scale-4: 4 replicas carry 4 × the knee's rate",
        "knee throughput within 15% of the prediction",
        "the knee held when confirmed",
        # a saturated machine makes the generator's arrivals leave late: the client's p95,
        # from each arrival's intended send time, then holds a wait the server never saw
        "find-knee: server p95 (API histogram) = client p95 (HDR, intended send time) within 10 %",
    }
)


# What makes a measurement doubtful (scenario.checks.RESOURCES): on a shared 2-core
# machine, a capacity check measured while either ran full says more about the machine.
DOUBTFUL = frozenset({"machine CPU", "load generator CPU"})


def unexplained_failures(verdict: dict[str, Any], capacity: frozenset[str]) -> list[str]:
    """The verdict's failed checks, less the ``capacity`` ones (names, or fnmatch
    patterns such as ``knee-*: the knee at least*``) measured while a doubtful resource
    ran full: in the check's own phase (the text before its first ':'), or named by the
    run as its saturated resource."""

    def excused(name: str) -> bool:
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in capacity):
            return False
        return machine_bound(verdict, name.split(":", 1)[0])

    return [
        f"{c['name']}: {c['detail']}"
        for c in verdict["checks"]
        if not c["passed"] and not excused(c["name"])
    ]


def doubtful_phases(verdict: dict[str, Any]) -> set[str]:
    """The phases in which the machine's CPU or the load generator ran full."""
    return {p["name"] for p in verdict["phases"] if p.get("saturated") in DOUBTFUL}


def machine_bound(verdict: dict[str, Any], phase: str) -> bool:
    """Whether the run, or its ``phase``, names a doubtful resource as saturated."""
    saturation = verdict.get("saturation") or {}
    return saturation.get("resource") in DOUBTFUL or phase in doubtful_phases(verdict)


LAB_CLI = [sys.executable, "-c", "from lab.cli import main; main()"]


@dataclass(frozen=True)
class ScenarioRun:
    """One finished `lab scenario run`: its folder, verdict and the tail of its output."""

    folder: Path
    verdict: dict[str, Any]
    output: str

    def phases(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.verdict["phases"]}

    def checks(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.verdict["checks"]}

    def events(self) -> list[dict[str, Any]]:
        lines = (self.folder / "events.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def assert_no_unexplained_failure(self, capacity: frozenset[str] = frozenset()) -> None:
        failed = unexplained_failures(self.verdict, capacity)
        assert not failed, "\n".join(failed)


def run_scenario(
    home: LabHome, scenario: str, profile: str = "quick", *, timeout: float = 540
) -> ScenarioRun:
    """`lab scenario run SCENARIO --profile PROFILE --down` as a user runs it. What holds
    for every run: one new folder holding every run file, an exit code that is the
    verdict's (0 passed, 1 failed) and an integrity audit that passed."""
    before = set(home.runs.glob(f"*-{scenario}"))
    done = subprocess.run(
        [*LAB_CLI, "scenario", "run", scenario, "--profile", profile, "--down"],
        env=home.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout[-6000:] + done.stderr[-3000:]
    new = set(home.runs.glob(f"*-{scenario}")) - before
    assert len(new) == 1, output
    (folder,) = new
    verdict = json.loads((folder / "verdict.json").read_text())
    assert done.returncode == (0 if verdict["passed"] else 1), output
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    assert not missing, missing
    assert verdict["audit"]["passed"], verdict["audit"]["detail"]
    return ScenarioRun(folder, verdict, output)
