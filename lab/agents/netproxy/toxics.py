"""Toxiproxy's toxic model: a toxic is a named fault on one direction of a proxy's links.

JSON shape (Toxiproxy's)::

    {"name": "latency_downstream", "type": "latency", "stream": "downstream",
     "toxicity": 1.0, "attributes": {"latency": 200, "jitter": 20}}

``stream``: ``upstream`` is client → server, ``downstream`` server → client (the default).
``toxicity``: the probability that the toxic applies to a link, drawn once per link and
toxic, as Toxiproxy does. Times are milliseconds, ``rate`` is KB/s (1 KB = 1000 bytes).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

STREAMS: Final = ("upstream", "downstream")

# type → attribute → default; every attribute is a non-negative integer
TOXIC_TYPES: Final[dict[str, dict[str, int]]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "limit_data": {"bytes": 0},
}


class ToxicError(ValueError):
    """A toxic (or proxy) request that does not validate; the message names the field."""


@dataclass
class Toxic:
    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

    def draw(self, rng: random.Random) -> bool:
        """Whether this toxic applies to a new link (``toxicity`` is its probability)."""
        return self.toxicity >= 1.0 or rng.random() < self.toxicity

    def delay_s(self, rng: random.Random) -> float:
        """A latency toxic's delay for one chunk: latency ± uniform jitter, never < 0."""
        latency, jitter = self.attributes["latency"], self.attributes["jitter"]
        return max(0.0, latency + rng.uniform(-jitter, jitter)) / 1000

    def transfer_s(self, size: int) -> float:
        """How long ``size`` bytes take at a bandwidth toxic's rate."""
        return size / (self.attributes["rate"] * 1000)


def parse_toxic(raw: object) -> Toxic:
    """A new toxic from a request body; ``ToxicError`` names the bad field."""
    body = _mapping(raw)
    kind = body.get("type")
    if kind not in TOXIC_TYPES:
        raise ToxicError(f"type: must be one of {', '.join(TOXIC_TYPES)}, not {kind!r}")
    stream = body.get("stream", "downstream")
    if stream not in STREAMS:
        raise ToxicError(f"stream: must be upstream or downstream, not {stream!r}")
    name = body.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        raise ToxicError(f"name: must be a string, not {name!r}")
    toxic = Toxic(name=name, type=str(kind), stream=str(stream))
    toxic.attributes = dict(TOXIC_TYPES[toxic.type])
    update_toxic(toxic, body)
    return toxic


def update_toxic(toxic: Toxic, raw: object) -> None:
    """Apply ``toxicity`` and ``attributes`` of a request body to an existing toxic
    (Toxiproxy's POST /proxies/{proxy}/toxics/{toxic}); all or nothing."""
    body = _mapping(raw)
    toxicity = body.get("toxicity", toxic.toxicity)
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
        raise ToxicError(f"toxicity: must be a number between 0 and 1, not {toxicity!r}")
    if not math.isfinite(toxicity) or not 0.0 <= toxicity <= 1.0:
        raise ToxicError(f"toxicity: must be between 0 and 1, not {toxicity}")
    attributes = dict(toxic.attributes)
    for key, value in _mapping(body.get("attributes", {}), "attributes").items():
        if key not in TOXIC_TYPES[toxic.type]:
            known = ", ".join(TOXIC_TYPES[toxic.type])
            raise ToxicError(f"attributes.{key}: a {toxic.type} toxic has only {known}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ToxicError(f"attributes.{key}: must be a non-negative integer, not {value!r}")
        attributes[key] = value
    if toxic.type == "bandwidth" and attributes["rate"] < 1:
        raise ToxicError("attributes.rate: must be at least 1 (KB/s)")
    toxic.toxicity = float(toxicity)
    toxic.attributes = attributes


def _mapping(raw: object, what: str = "body") -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise ToxicError(f"{what}: must be a JSON object")
    return raw
