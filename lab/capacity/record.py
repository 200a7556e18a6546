"""A capacity run's record (``lab.run.capacity``) back to a fit and a plan.

    planned = from_record(verdict.capacity)               # the user model it ran with
    planned = from_record(verdict.capacity, other_model)  # `lab capacity plan RUN --users F`
    planned.fit, planned.validation, planned.plan

The record holds what was measured; everything here is derived from it, deterministically,
so the report, the CLI and a test rebuilding a row by hand agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.capacity.model import Measured, UserModel, parse_user_model
from lab.capacity.plan import Plan, plan
from lab.capacity.usl import MIN_POINTS, UslFit, Validation, fit, validate
from lab.run.capacity import CapacityRecord


@dataclass(frozen=True)
class Planned:
    record: CapacityRecord
    model: UserModel
    measured: Measured
    fit: UslFit
    validation: Validation | None  # None: too few points besides the held-out one
    plan: Plan

    @property
    def held_out_within(self) -> bool:
        return self.validation is not None and self.validation.within(self.record.tolerance)


def from_record(record: CapacityRecord, model: UserModel | None = None) -> Planned:
    """The fit, the held-out check and the plan; ``ValueError`` when the points cannot be
    fitted (fewer than ``MIN_POINTS``)."""
    fitted = fit(record.points)
    rest = [p for p in record.points if p[0] != record.held_out]
    held = any(p[0] == record.held_out for p in record.points)
    validation = (
        validate(record.points, record.held_out) if held and len(rest) >= MIN_POINTS else None
    )
    measured = Measured(usl=fitted, **record.measured)
    used = model or parse_user_model(record.user_model, source=record.users_source)
    return Planned(record, used, measured, fitted, validation, plan(used, measured))
