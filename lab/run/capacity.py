"""What a capacity run measured, kept in ``verdict.json`` for the plan to be rebuilt from.

The record holds inputs only: the knees by replica count, the figures measured beside
them, the configured knobs, and the user model as it was read. The fit and the plan are
derived (``lab.capacity.record``), so a report, ``lab capacity plan RUN --users FILE``
and the unit test that recomputes a row by hand all start from the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CapacityRecord:
    points: tuple[tuple[int, float], ...]  # (API replicas, knee req/s), as measured
    held_out: int  # the replica count the fit without it must predict
    tolerance: float  # ... within this relative error
    work: str  # the API's work mode: "io" (the design's curve) or "cpu" (the machine's)
    measured: dict[str, Any]  # lab.capacity.Measured's fields but the fit (numbers, source)
    user_model: dict[str, Any]  # the user model, as validated
    users_source: str  # where the user model came from
    basis: dict[str, str] = field(default_factory=dict)  # figure -> how it was measured
    design_rps_per_replica: float = 0.0  # the knobs' capacity of one replica (the prediction)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["points"] = [list(p) for p in self.points]
        return data

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CapacityRecord:
        return cls(
            points=tuple((int(n), float(x)) for n, x in raw["points"]),
            held_out=int(raw["held_out"]),
            tolerance=float(raw["tolerance"]),
            work=str(raw.get("work") or "io"),
            measured=dict(raw["measured"]),
            user_model=dict(raw["user_model"]),
            users_source=str(raw.get("users_source") or ""),
            basis={str(k): str(v) for k, v in (raw.get("basis") or {}).items()},
            design_rps_per_replica=float(raw.get("design_rps_per_replica") or 0.0),
        )
