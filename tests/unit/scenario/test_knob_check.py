"""The knob check compares a running lab's gauges with the scenario's settings."""

from __future__ import annotations

from pathlib import Path

from lab.scenario.knobs import mismatches
from lab.settings import Settings
from tests.unit.scenario.scenario_fakes import FakeClock, FakeMetrics, World

SAME = {
    "max(shop_concurrency_limit)": 4.0,
    "max(shop_work_seconds)": 0.040,
    'max(shop_work_mode{mode="io"})': 1.0,
    "max(shop_cache_ttl_seconds)": 30.0,
    "max(shop_worker_work_seconds)": 0.020,
}


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(home=tmp_path, **overrides)  # type: ignore[arg-type]


def test_the_same_knobs_pass(tmp_path: Path) -> None:
    assert mismatches(FakeMetrics(World(FakeClock()), SAME), settings(tmp_path)) == []


def test_gauges_without_data_are_not_a_mismatch(tmp_path: Path) -> None:
    assert mismatches(FakeMetrics(World(FakeClock()), {}), settings(tmp_path)) == []


def test_every_knob_that_differs_is_named(tmp_path: Path) -> None:
    wanted = settings(
        tmp_path,
        api_concurrency=8,
        api_work_ms=20,
        api_work="cpu",
        cache_ttl_s=0,
        worker_work_ms=100,
    )
    found = mismatches(FakeMetrics(World(FakeClock()), SAME), wanted)
    assert found == [
        "an API concurrency of 4 (needs 8)",
        "API work mode io (needs cpu)",
        "40 ms of work per API request (needs 20)",
        "30 s of cache TTL (needs 0)",
        "20 ms of work per order (needs 100)",
    ]
