"""Roll back: put back what a scenario changed (chaostoolkit's rollback), at its end,
on an error or on Ctrl-C. Each repair is tried even if another fails."""

from __future__ import annotations

import logging

from lab.errors import LabError
from lab.scenario.context import Changes
from lab.scenario.ports import Lab

log = logging.getLogger(__name__)


def restore(lab: Lab, changes: Changes) -> list[str]:
    """Resume paused instances, start stopped or killed ones, scale services back, put
    changed knobs back (a rolling restart); returns what was done (and forgets it: a
    second call does nothing)."""
    restored: list[str] = []
    for instance in list(changes.down):
        try:
            if changes.down[instance] == "pause":
                lab.resume(instance)
                restored.append(f"resumed {instance}")
            else:
                lab.start(instance)
                restored.append(f"started {instance}")
            del changes.down[instance]
        except LabError as exc:
            log.warning("could not start %s again: %s", instance, exc)
    for service, count in list(changes.replicas.items()):
        try:
            if lab.replicas().get(service) != count:
                lab.scale(service, count)
                restored.append(f"{service}={count}")
            del changes.replicas[service]
        except LabError as exc:
            log.warning("could not scale %s back to %d: %s", service, count, exc)
    if changes.knobs:
        try:
            lab.set(changes.knobs)
            restored += [f"{name}={value}" for name, value in changes.knobs.items()]
            changes.knobs.clear()
        except LabError as exc:
            log.warning("could not put knobs back to %s: %s", changes.knobs, exc)
    if restored:
        lab.events.emit("restore", "restored " + ", ".join(restored), tags=("restore",))
    return restored
