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
    "max(shop_db_pool_max_size)": 8.0,
    "max(shop_pg_max_connections)": 300.0,
    "max(shop_cache_single_flight)": 0.0,
    'max(shop_db_work_mode{mode="io"})': 1.0,
    "max(shop_db_query_cost_seconds)": 0.002,
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
        db_pool_size=2,
        pg_max_connections=20,
        cache_single_flight=True,
        db_work="cpu",
        db_query_ms=50,
    )
    found = mismatches(FakeMetrics(World(FakeClock()), SAME), wanted)
    assert found == [
        "an API concurrency of 4 (needs 8)",
        "a DB pool of 8 per replica (needs 2)",
        "a Postgres max_connections of 300 (needs 20)",
        "cache single-flight off (needs on)",
        "API work mode io (needs cpu)",
        "DB work mode io (needs cpu)",
        "40 ms of work per API request (needs 20)",
        "2 ms of DB cost per miss (needs 50)",
        "30 s of cache TTL (needs 0)",
        "20 ms of work per order (needs 100)",
    ]


def test_a_pool_size_of_0_means_the_services_default(tmp_path: Path) -> None:
    """0 asks for concurrency + 4 (at most 40): a replica with 8 connections and 4 slots
    matches it, one with 8 connections and 16 slots does not."""
    metrics = FakeMetrics(World(FakeClock()), SAME)
    assert mismatches(metrics, settings(tmp_path, db_pool_size=0)) == []
    wanted = settings(tmp_path, api_concurrency=16, db_pool_size=0)
    assert "a DB pool of 8 per replica (needs 20)" in mismatches(metrics, wanted)
    wanted = settings(tmp_path, api_concurrency=100, db_pool_size=0)
    assert "a DB pool of 8 per replica (needs 40)" in mismatches(metrics, wanted)
