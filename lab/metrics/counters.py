"""A counter that never goes down although the things it sums come and go.

Both process exporters (native process trees, compose containers) report CPU seconds per
instance. The sources behind an instance change: Postgres backends exit, a container is
replaced, a cgroup restarts at zero. Prometheus reads any decrease as a counter reset and
would count the whole total again, so each exporter adds only what every source used since
it was last seen.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Source = TypeVar("Source", bound=Hashable)  # (pid, start time), a container id, ...


@dataclass
class MonotonicTotal(Generic[Source]):
    total: float = 0.0
    seen: dict[Source, float] = field(default_factory=dict)

    def update(self, readings: Mapping[Source, float]) -> float:
        """Add each source's growth since the last reading; a new or restarted source
        (no earlier reading, or a smaller one) adds all it has used. Returns the total."""
        for key, value in readings.items():
            before = self.seen.get(key, 0.0)
            self.total += value - before if value >= before else value
        self.seen = dict(readings)
        return self.total
