"""Shared fixtures: a lab home in a temp dir with free ports, and a running native lab.

Tests that need real binaries are marked ``procs`` and are never skipped: a missing
binary makes the lab's launcher raise, and the test fails with the install hint.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lab.lab import Lab
from lab.settings import Settings
from lab.wait import free_port

PROJECT = Path(__file__).resolve().parent.parent


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


def make_home() -> LabHome:
    # Under /tmp, world-traversable: PostgreSQL runs as the `postgres` user and must
    # reach its data dir (pytest's own tmp dirs are 0700 root).
    root = Path(tempfile.mkdtemp(prefix="prodlab-test-", dir="/tmp"))
    root.chmod(0o755)
    return LabHome(root / ".lab", root / "runs", free_port(), free_port(), free_port())


@contextlib.contextmanager
def private_home() -> Iterator[LabHome]:
    """A fresh lab home; whatever lab runs in it is brought down and the home removed."""
    home = make_home()
    try:
        yield home
    finally:
        Lab(home.settings()).runtime.down(volumes=True)
        shutil.rmtree(home.home.parent, ignore_errors=True)


@pytest.fixture
def lab_home() -> Iterator[LabHome]:
    with private_home() as home:
        yield home


@pytest.fixture(scope="session")
def shared_home() -> Iterator[LabHome]:
    with private_home() as home:
        yield home


@pytest.fixture(scope="session")
def running_lab(shared_home: LabHome) -> Iterator[Lab]:
    """One native lab for the session (2 API replicas, 2 workers, a small catalog)."""
    lab = Lab(shared_home.settings(seed_products=1000, worker_ack_wait_s=2.0))
    lab.up({"api": 2, "worker": 2})
    yield lab
    lab.close()


@pytest.fixture
def client(running_lab: Lab) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_lab.runtime.endpoint("lb").url, timeout=10) as c:
        yield c
