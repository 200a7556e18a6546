"""slow-database's two variants are one file and two profiles: the same phases, steps
and checks, and only the defences differ, so `lab compare` lines the runs up."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.scenario.loader import load_scenario
from lab.scenario.model import Scenario
from lab.scenario.step_model import NetFaultStep, SetStep

PATH = Path(__file__).resolve().parents[3] / "scenarios" / "slow-database.yaml"
DEFENDED = ("quick", "full")
UNDEFENDED = ("quick-undefended", "undefended")


def loaded(profile: str) -> Scenario:
    return load_scenario(PATH, profile=profile).scenario


def defences(scenario: Scenario) -> dict[str, object]:
    (step,) = [s for s in scenario.phases[0].steps if isinstance(s, SetStep)]
    return dict(step.knobs)


def check_names(scenario: Scenario) -> list[str]:
    inline = [s.name for p in scenario.phases for s in p.steps if getattr(s, "name", None)]
    return [str(n) for n in inline] + [c.name for c in scenario.checks]


@pytest.mark.parametrize(("on", "off"), list(zip(DEFENDED, UNDEFENDED, strict=True)))
def test_the_variants_differ_only_in_their_defences(on: str, off: str) -> None:
    guarded, bare = loaded(on), loaded(off)
    assert guarded.phase_names() == bare.phase_names()
    assert check_names(guarded) == check_names(bare)
    assert guarded.planned_seconds() == bare.planned_seconds()
    assert defences(bare) == {
        "api_deadline_ms": 0.0,
        "api_breaker": False,
        "api_breaker_cooldown_s": 3.0,
        "api_queue_timeout_ms": 0.0,
        "api_max_waiters": 0,
    }
    on_knobs = defences(guarded)
    assert on_knobs["api_breaker"] is True
    assert on_knobs["api_queue_timeout_ms"] == 100.0
    # the lesson's arithmetic: a connection use is two round trips (query + reset), so a
    # deadline under 2 x the added latency cuts every database call during the fault
    (fault,) = [s for p in guarded.phases for s in p.steps if isinstance(s, NetFaultStep)]
    assert fault.to == "postgres" and fault.fault == "latency"
    assert 0 < float(str(on_knobs["api_deadline_ms"])) < 2 * fault.ms


def test_the_quick_variants_fit_the_test_budget() -> None:
    # both quick runs, boot and reports included, must stay near 150 s in `make test`
    assert loaded("quick").planned_seconds() <= 40
