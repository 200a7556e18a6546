"""What the users send, besides how many there are: the Locust ``/swarm`` form fields.

Every field is sent on every ``/swarm`` (Locust keeps a custom option's last value, so a
step that leaves one out would inherit the previous step's). The names are the option
dests of loadtests/shop.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lab import defaults


@dataclass(frozen=True)
class Traffic:
    think_time: float = 0.0  # closed loop: seconds between a user's requests
    mix: Mapping[str, int] = field(default_factory=lambda: dict(defaults.LOAD_MIX))
    skew: float = defaults.LOAD_SKEW  # Zipf exponent of product popularity
    ramp_s: float = 0.0  # open loop: seconds to reach a new rate linearly
    arrivals: str = "constant"  # open loop: "constant" gaps or "poisson"

    def form(self) -> dict[str, str]:
        fields = {
            "think_time": repr(float(self.think_time)),
            "zipf_exponent": repr(float(self.skew)),
            "rate_ramp_seconds": repr(float(self.ramp_s)),
            "arrival_spacing": self.arrivals,
        }
        for action in defaults.LOAD_MIX:
            fields[f"weight_{action}"] = str(int(self.mix.get(action, 0)))
        return fields


@dataclass(frozen=True)
class Percentiles:
    """Exact (HDR) client latency quantiles over a range of seconds: ``{0.95: s}``."""

    count: int
    quantiles: Mapping[float, float]
