"""Every phase's `watch:` names a recording rule the lab has and a panel a dashboard has."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import rules
from lab.dashboards import rendered
from lab.scenario.loader import load_scenario

PROJECT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((PROJECT / "scenarios").glob("*.yaml"))


def panel_titles() -> set[str]:
    titles: set[str] = set()

    def walk(panels: list[dict[str, object]]) -> None:
        for panel in panels:
            titles.add(str(panel.get("title")))
            walk(panel.get("panels") or [])  # type: ignore[arg-type]

    for text in rendered().values():
        walk(json.loads(text)["panels"])
    return titles


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_watched_rules_and_panels_exist(path: Path) -> None:
    titles = panel_titles()
    for phase in load_scenario(path).scenario.phases:
        if phase.watch is not None:
            assert phase.watch.rule in rules.ALL
            assert phase.watch.panel in titles, (phase.name, phase.watch.panel)


def test_the_new_lessons_narrate_their_phases() -> None:
    for name in ("scale-out", "latency-vs-load"):
        scenario = load_scenario(PROJECT / "scenarios" / f"{name}.yaml").scenario
        taught = [p for p in scenario.phases if p.predict]
        assert len(taught) >= 4, name
        assert all(p.concept and p.watch and p.miss for p in taught), name
