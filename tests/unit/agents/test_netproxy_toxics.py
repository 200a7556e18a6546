"""The toxic model of the lab's Toxiproxy: validation, defaults, draws."""

from __future__ import annotations

import random

import pytest

from lab.agents.netproxy.toxics import ToxicError, parse_toxic, update_toxic


def test_defaults_follow_toxiproxy() -> None:
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 200}})
    assert toxic.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 200, "jitter": 0},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "lag"}, "type"),
        ({"type": "latency", "stream": "sideways"}, "stream"),
        ({"type": "latency", "toxicity": 1.5}, "toxicity"),
        ({"type": "latency", "toxicity": "half"}, "toxicity"),
        ({"type": "latency", "attributes": {"latency": -1}}, "attributes.latency"),
        ({"type": "latency", "attributes": {"rate": 5}}, "attributes.rate"),
        ({"type": "bandwidth", "attributes": {"rate": 0}}, "attributes.rate"),
        ({"type": "latency", "name": 3}, "name"),
        ([], "body"),
    ],
)
def test_a_bad_toxic_names_its_field(body: object, field: str) -> None:
    with pytest.raises(ToxicError, match=f"^{field}:"):
        parse_toxic(body)


def test_a_failed_update_changes_nothing() -> None:
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 10}})
    with pytest.raises(ToxicError):
        update_toxic(toxic, {"toxicity": 0.5, "attributes": {"latency": 50, "jitter": -1}})
    assert (toxic.toxicity, toxic.attributes["latency"]) == (1.0, 10)


def test_toxicity_is_the_share_of_links_hit() -> None:
    toxic = parse_toxic({"type": "timeout", "toxicity": 0.3})
    rng = random.Random(7)
    hits = sum(toxic.draw(rng) for _ in range(10_000))
    assert 2_700 < hits < 3_300
    assert not any(parse_toxic({"type": "timeout", "toxicity": 0}).draw(rng) for _ in range(100))


def test_latency_stays_within_its_jitter() -> None:
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 100, "jitter": 20}})
    rng = random.Random(1)
    delays = [toxic.delay_s(rng) for _ in range(2_000)]
    assert 0.080 <= min(delays) < 0.085 and 0.115 < max(delays) <= 0.120
    assert parse_toxic({"type": "latency", "attributes": {"jitter": 50}}).delay_s(rng) >= 0


def test_bandwidth_time_is_size_over_rate() -> None:
    toxic = parse_toxic({"type": "bandwidth", "attributes": {"rate": 100}})
    assert toxic.transfer_s(50_000) == pytest.approx(0.5)
