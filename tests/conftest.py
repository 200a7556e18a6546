"""Shared fixtures: a lab home in a temp dir with free ports, and a running native lab.

Tests that need real binaries are marked ``procs`` and are never skipped: a missing
binary makes the lab's launcher raise, and the test fails with the install hint.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lab.lab import Lab
from tests.labtools import LabHome, private_home


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
