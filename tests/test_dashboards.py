"""Dashboards and Grafana provisioning, checked statically (no Grafana needed).

Every panel must read the provisioned Prometheus datasource, every ``lab:`` name must be
a real recording rule, every raw metric must be one docs/contracts.md names (or an
exporter's), and promtool must accept every expression as PromQL. Whether each query
actually has data is tests/test_observability_live.py's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import proc

PROJECT = Path(__file__).resolve().parent.parent
BOARDS = sorted((PROJECT / "dashboards").glob("*.json"))
PROVISIONING = PROJECT / "services" / "grafana" / "provisioning"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
UIDS = {"lab-overview", "lab-api", "lab-queue", "lab-data", "lab-lb"}
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"
# what tests/test_observability_live.py substitutes before running a query
GRAFANA_VARS = {"$__rate_interval": "10s", "${__rate_interval}": "10s", "$__interval": "2s"}
EXPORTER_PREFIXES = ("pg_", "redis_", "haproxy_")

Board = dict[str, Any]


def load(path: Path) -> Board:
    board = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(board, dict)
    return board


def panels(items: list[Board]) -> Iterator[Board]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels") or [])


def exprs() -> list[tuple[str, str]]:
    return [
        (f"{path.stem} / {panel['title']}", target["expr"])
        for path in BOARDS
        for panel in panels(load(path)["panels"])
        for target in panel.get("targets", [])
    ]


def concrete(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?[a-zA-Z_]+\}?", ".*", expr)


def recording_rules() -> set[str]:
    rules = yaml.safe_load((PROJECT / "services/prometheus/rules.yml").read_text())
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def test_the_five_dashboards_exist_with_fixed_unique_uids() -> None:
    uids = [load(path)["uid"] for path in BOARDS]
    assert sorted(uids) == sorted(UIDS)
    for path in BOARDS:
        board = load(path)
        assert path.stem == board["uid"], "file name and uid must agree"
        assert board["schemaVersion"] >= 39
        assert "prodlab" in board["tags"]


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_every_panel_and_target_reads_the_provisioned_prometheus(path: Path) -> None:
    board = load(path)
    ids = []
    for panel in panels(board["panels"]):
        ids.append(panel["id"])
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            assert not panel.get("targets"), f"row {panel['title']!r} has queries"
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
    assert len(ids) == len(set(ids)), "panel ids must be unique within a dashboard"
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_every_dashboard_shows_the_lab_annotations(path: Path) -> None:
    queries = load(path)["annotations"]["list"]
    tagged = [
        q
        for q in queries
        if q["enable"] and q["target"]["type"] == "tags" and "prodlab" in q["target"]["tags"]
    ]
    assert tagged, "the lab posts annotations tagged `prodlab`; show them"
    assert tagged[0]["datasource"]["uid"] == "-- Grafana --"


def test_every_lab_name_is_a_recording_rule() -> None:
    known = recording_rules()
    used = {name for _, expr in exprs() for name in re.findall(r"lab:[a-z0-9_:]+", expr)}
    assert used, "the dashboards should use the recording rules"
    assert used - known == set()
    assert {"lab:api_requests:rate10s", "lab:api_latency_seconds:p95_10s"} <= used


def test_every_raw_metric_is_in_the_contract_or_an_exporter() -> None:
    contract = (PROJECT / "docs" / "contracts.md").read_text(encoding="utf-8")
    unknown = set()
    for where, expr in exprs():
        for name in re.findall(r"\b(?:shop|lab|locust)_[a-z_]+", expr):
            base = re.sub(r"_(bucket|count|sum|total)$", "", name)
            if base not in contract:
                unknown.add(f"{where}: {name}")
    assert unknown == set()
    exporters = {
        name
        for _, expr in exprs()
        for name in re.findall(r"\b[a-z_]+(?=[{\[)])", expr)
        if name.startswith(EXPORTER_PREFIXES)
    }
    assert {p for p in EXPORTER_PREFIXES if any(n.startswith(p) for n in exporters)} == set(
        EXPORTER_PREFIXES
    ), "the drill-downs cover Postgres, Redis and HAProxy"


def test_promtool_parses_every_expression(tmp_path: Path) -> None:
    queries = exprs()
    assert len(queries) >= 40
    rules = {
        "groups": [
            {
                "name": "dashboard-panels",
                "rules": [
                    {"record": f"panel:query_{i}", "expr": concrete(expr)}
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    done = proc.run(["promtool", "check", "rules", str(path)], check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout


def test_datasource_provisioning_matches_the_panels() -> None:
    config = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = config["datasources"]
    assert source["uid"] == DATASOURCE["uid"]
    assert source["type"] == DATASOURCE["type"]
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True


def test_dashboard_provider_reads_the_mounted_dashboards() -> None:
    config = yaml.safe_load((PROVISIONING / "dashboards" / "prodlab.yml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARDS_MOUNT
    compose = yaml.safe_load((PROJECT / "compose.yaml").read_text())
    grafana = compose["services"].get("grafana")
    if grafana is None:
        return  # compose.yaml gains its grafana service separately; the path above is the contract
    mounts = {m.split(":")[1]: m.split(":")[0] for m in grafana["volumes"] if ":" in m}
    assert mounts[DASHBOARDS_MOUNT] == "./dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./services/grafana/provisioning"
