"""Against a running lab: every dashboard panel and every recording rule has data.

A short burst of mixed traffic from real Locust (browse, list, order, check) runs
first, so client-side series exist too. No panel may refer to a metric that does not
exist: a query that returns nothing fails the test with its dashboard and panel title.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
import yaml

from lab import proc
from lab.lab import Lab
from lab.load.driver import LoadDriver
from tests.labtools import PROJECT, wait_until

pytestmark = pytest.mark.procs

GRAFANA_VARS = {
    "$__rate_interval": "10s",
    "$__interval": "2s",
    "${__rate_interval}": "10s",
    "$__range": "1m",
}


def panel_queries() -> list[tuple[str, str]]:
    found = []
    for path in sorted((PROJECT / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if expr:
                    found.append((f"{path.stem} / {panel.get('title')}", expr))
    return found


def _panels(panels: list[dict[str, object]]) -> Iterator[dict[str, object]]:
    for panel in panels:
        yield panel
        inner = panel.get("panels")
        if isinstance(inner, list):
            yield from _panels(inner)


def recording_rules() -> list[str]:
    rules = yaml.safe_load((PROJECT / "services/prometheus/rules.yml").read_text())
    return [r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r]


def concrete(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?[a-zA-Z_]+\}?", ".*", expr)  # template variables match everything


@pytest.fixture(scope="module")
def after_traffic(running_lab: Lab) -> Iterator[Lab]:
    with LoadDriver(
        running_lab.settings,
        host_url=running_lab.runtime.endpoint("lb").url,
        targets=running_lab.runtime,
        processes=1,
    ) as driver:
        driver.start()
        driver.swarm(20, 20)
        prom = running_lab.prometheus
        assert wait_until(lambda: (prom.scalar("lab:locust_requests:rate10s") or 0) > 0, 30)
        # let every rate window fill; the tests below then say which series stayed empty
        wait_until(lambda: all(prom.query(rule) for rule in recording_rules()), timeout=30)
        driver.stop_load()
        assert wait_until(lambda: prom.scalar("lab:queue_depth") is not None, 10)
        # Locust stays up (idle) while the tests read: its target and series stay live
        yield running_lab


def test_every_recording_rule_has_data(after_traffic: Lab) -> None:
    prom = after_traffic.prometheus
    empty = [rule for rule in recording_rules() if not prom.query(rule)]
    assert empty == []


def test_every_panel_query_has_data(after_traffic: Lab) -> None:
    prom = after_traffic.prometheus
    queries = panel_queries()
    assert len(queries) >= 20
    empty = [(where, expr) for where, expr in queries if not prom.query(concrete(expr))]
    assert empty == [], "\n".join(f"{w}: {e}" for w, e in empty)


def test_promtool_accepts_every_service_metrics(after_traffic: Lab) -> None:
    status = after_traffic.runtime.status()
    urls = [
        f"{i.endpoint.url}/metrics"
        for i in status.instances
        if i.service in ("api", "worker") and i.endpoint
    ]
    assert len(urls) >= 4
    for url in urls:
        text = httpx.get(url, timeout=5).text
        done = proc.run(["promtool", "check", "metrics"], input_text=text, check=False)
        problems = [ln for ln in (done.stdout + done.stderr).splitlines() if "error" in ln.lower()]
        assert problems == [], f"{url}: {problems}"


def test_scaled_instances_become_targets_without_restart(after_traffic: Lab) -> None:
    prom = after_traffic.prometheus
    started = prom.scalar("process_start_time_seconds{job='prometheus'}")
    after_traffic.scale("api", 3)
    try:
        assert wait_until(lambda: prom.scalar('count(up{job="api"} == 1)') == 3, timeout=10)
    finally:
        after_traffic.scale("api", 2)
    assert wait_until(lambda: prom.scalar('count(up{job="api"})') == 2, timeout=10)
    assert prom.scalar("process_start_time_seconds{job='prometheus'}") == started
