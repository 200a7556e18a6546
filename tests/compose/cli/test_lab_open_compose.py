"""`lab open` under Compose prints Grafana's generated admin password (a real Docker engine).

The password is read back independently of the lab's own code path: with ``docker exec``
from a running service that mounts the ``secrets`` volume. Grafana itself need not run
(its image cannot be fetched on the machines prodlab is developed on): the password
lives in the volume from the first ``lab up``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import proc
from lab.lab import Lab
from lab.wait import reserved_port
from tests.labtools import LabHome, make_home

pytestmark = [pytest.mark.compose, pytest.mark.e2e]

LAB = str(Path(sys.executable).parent / "lab")


@pytest.fixture(scope="module")
def compose_lab() -> Iterator[tuple[LabHome, dict[str, str], Lab]]:
    home = make_home()
    env = home.env(
        LAB_RUNTIME="compose",
        LAB_COMPOSE_PROJECT=f"prodlab-open-{home.lb_port}",
        LAB_GRAFANA_PORT=str(reserved_port()),
        LAB_SEED_PRODUCTS="100",
    )
    lab = Lab(
        home.settings(seed_products=100).with_overrides(
            runtime="compose",
            compose_project=env["LAB_COMPOSE_PROJECT"],
            grafana_port=int(env["LAB_GRAFANA_PORT"]),
        )
    )
    try:
        lab.up({"api": 1, "worker": 0})
        yield home, env, lab
    finally:
        lab.runtime.down(volumes=True)
        shutil.rmtree(home.home.parent, ignore_errors=True)


def generated_secret(project: str) -> str:
    done = proc.run(
        ["docker", "exec", f"{project}-redis-1", "cat", "/run/lab-secrets/grafana_password"]
    )
    secret = done.stdout.strip()
    assert len(secret) >= 24, "lab.agents.secrets writes 24 random bytes, URL-safe"
    return secret


def lab_open(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAB, "open", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_lab_open_prints_the_generated_grafana_password(
    compose_lab: tuple[LabHome, dict[str, str], Lab],
) -> None:
    _, env, _ = compose_lab
    secret = generated_secret(env["LAB_COMPOSE_PROJECT"])

    done = lab_open(env, "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["runtime"] == "compose"
    grafana = found["grafana"]
    assert grafana["password"] == secret
    assert grafana["user"] == "admin"
    assert grafana["url"] == f"http://127.0.0.1:{env['LAB_GRAFANA_PORT']}"

    shown = lab_open(env)
    assert shown.returncode == 0, shown.stderr
    assert f"login admin / {secret}" in shown.stdout
