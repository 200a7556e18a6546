"""Roll back: put back what a scenario changed (chaostoolkit's rollback), at its end,
on an error or on Ctrl-C. Each repair is tried even if another fails."""

from __future__ import annotations

import logging

from lab.errors import AlreadyRunning, LabError
from lab.scenario.context import Changes
from lab.scenario.ports import Lab

log = logging.getLogger(__name__)


def restore(lab: Lab, changes: Changes, *, going_down: bool = False) -> list[str]:
    """End network faults, resume paused instances, start stopped or killed ones (a killed
    one its restart policy brought back already is left as it is), scale services back,
    clear application faults, put changed knobs back (a rolling restart); returns what was
    done (and forgets it: a second call does nothing).

    ``going_down``: the lab is stopped right after (a run that booted it, with ``--down``),
    so its knobs are not rolled back first: a rolling restart of every API replica
    (6–10 s) for processes about to exit. Everything else is still put back, since the
    integrity audit runs in between and needs the workers and the network as they were."""
    restored: list[str] = []
    if changes.autoscaler is not None:  # first: it would scale against the repairs
        changes.autoscaler.stop()
        changes.autoscaler = None
        restored.append("autoscaler off")
    for fault in list(changes.net_faults):
        try:
            lab.end_net_fault(fault)
            restored.append(f"ended {fault.describe()}")
            changes.net_faults.remove(fault)
        except LabError as exc:
            log.warning("could not end the fault %s: %s", fault.describe(), exc)
    for instance in list(changes.down):
        try:
            if changes.down[instance] == "pause":
                lab.resume(instance)
                restored.append(f"resumed {instance}")
            else:
                try:
                    lab.start(instance)
                    restored.append(f"started {instance}")
                except AlreadyRunning:
                    pass
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
    for replica in sorted(changes.app_faults):
        try:
            if lab.clear_app_faults([replica]):
                restored.append(f"app faults cleared on {replica}")
        except LabError as exc:  # a replica that is gone took its faults with it
            log.warning("could not clear the app faults on %s: %s", replica, exc)
    changes.app_faults.clear()
    if changes.knobs and going_down:
        left = ", ".join(f"{name}={value}" for name, value in changes.knobs.items())
        lab.events.emit("restore", f"knobs not rolled back, the lab goes down: {left}",
                        tags=("restore",))  # fmt: skip
        changes.knobs.clear()
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
