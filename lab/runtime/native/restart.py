"""When to bring a dead instance back: Docker's restart manager, in Python.

The same rules as moby's ``restartmanager``: the delay before a restart starts at
100 ms and doubles after each exit, up to one minute; an instance that ran for 10 s
or more before it exited starts again from 100 ms. ``no`` never restarts; ``always``
and ``unless-stopped`` always do (a manual stop is handled before this: the native
runtime marks the instance ``desired = "stopped"`` and the supervisor leaves it alone,
as Docker cancels the restart manager of a stopped container); ``on-failure[:N]``
restarts on a non-zero exit code, at most N times (0: no limit).

Natively the exit code is known only for a process the supervisor started itself (its
child); a process that ``lab up`` started and that vanished counts as a failure
(``exit_code=None``): nothing but a crash ends a server the lab did not stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.topology import RestartPolicy

FIRST_DELAY_S = 0.1
MAX_DELAY_S = 60.0
BACKOFF_MULTIPLIER = 2.0
RESET_AFTER_S = 10.0  # an instance that ran this long starts again from FIRST_DELAY_S


@dataclass
class RestartManager:
    """One instance's restart decisions (moby ``restartManager``, without its timer)."""

    policy: RestartPolicy
    restart_count: int = 0
    delay_s: float = 0.0

    def should_restart(self, exit_code: int | None, ran_s: float) -> float | None:
        """The delay before restarting an instance that exited with ``exit_code``
        (None: unknown, a failure) after running ``ran_s`` seconds; None: stay down."""
        if self.policy.name == "no":
            return None
        if ran_s >= RESET_AFTER_S:
            self.delay_s = 0.0
        if self.delay_s == 0.0:
            self.delay_s = FIRST_DELAY_S
        elif self.delay_s < MAX_DELAY_S:
            self.delay_s = min(self.delay_s * BACKOFF_MULTIPLIER, MAX_DELAY_S)
        if self.policy.name in ("always", "unless-stopped"):
            restart = True
        else:  # on-failure
            limit = self.policy.max_retries
            restart = (limit == 0 or self.restart_count < limit) and exit_code != 0
        if not restart:
            return None
        self.restart_count += 1
        return self.delay_s
