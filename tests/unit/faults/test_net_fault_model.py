"""``NetFault``: each kind becomes Toxiproxy's toxic, and a bad one names its field."""

from __future__ import annotations

import pytest

from lab.errors import ConfigError
from lab.faults.net import parse_fault


@pytest.mark.parametrize(
    ("fields", "toxic_type", "attributes"),
    [
        ({"kind": "latency", "ms": 200, "jitter": 20}, "latency", {"latency": 200, "jitter": 20}),
        ({"kind": "bandwidth", "rate": 50}, "bandwidth", {"rate": 50}),
        ({"kind": "timeout"}, "timeout", {"timeout": 0}),
        ({"kind": "reset", "ms": 100}, "reset_peer", {"timeout": 100}),
        ({"kind": "slow_close", "ms": 300}, "slow_close", {"delay": 300}),
        ({"kind": "limit_data", "bytes": 10}, "limit_data", {"bytes": 10}),
    ],
)
def test_each_kind_is_one_toxiproxy_toxic(
    fields: dict[str, object], toxic_type: str, attributes: dict[str, int]
) -> None:
    fault = parse_fault(to="postgres", toxicity=0.5, **fields)
    assert fault.toxic() == {
        "name": f"lab_{fields['kind']}_downstream",
        "type": toxic_type,
        "stream": "downstream",
        "toxicity": 0.5,
        "attributes": attributes,
    }


def test_down_is_no_toxic_and_takes_the_whole_link() -> None:
    assert parse_fault(kind="down", to="redis").describe() == "redis down: down (downstream)"
    with pytest.raises(ConfigError, match="toxicity: down takes the whole link"):
        parse_fault(kind="down", to="redis", toxicity=0.5)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "latency", "to": "mysql", "ms": 5}, "to: must be one of postgres, redis, nats"),
        ({"kind": "latency", "to": "redis"}, "ms: a latency fault needs ms > 0"),
        ({"kind": "bandwidth", "to": "redis"}, "rate: a bandwidth fault needs rate >= 1"),
        ({"kind": "timeout", "to": "redis", "jitter": 5}, "jitter: only a latency fault"),
        ({"kind": "latency", "to": "redis", "ms": 5, "toxicity": 2}, "toxicity:"),
        ({"kind": "lag", "to": "redis"}, "kind:"),
        ({"kind": "latency", "to": "redis", "ms": 5, "stream": "both"}, "stream:"),
    ],
)
def test_a_bad_fault_names_its_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=f"bad network fault: .*{message}"):
        parse_fault(**fields)


def test_describe_says_what_and_how_often() -> None:
    fault = parse_fault(kind="latency", to="postgres", ms=200, jitter=20, toxicity=0.25)
    assert fault.describe() == "postgres latency: +200±20 ms (downstream, toxicity 0.25)"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("2m", 120.0), ("500ms", 0.5)])
def test_for_takes_a_duration(text: str, seconds: float) -> None:
    from lab.cli.fault import parse_for

    assert parse_for(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0s", "-3s"])
def test_a_bad_for_names_the_flag(text: str) -> None:
    from lab.cli.fault import parse_for

    with pytest.raises(ConfigError, match=r"^--for: not a duration"):
        parse_for(text)
