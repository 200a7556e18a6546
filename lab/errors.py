"""Every error the lab raises on purpose.

The CLI catches ``LabError`` only, prints one line (what failed and what to do) and
exits non-zero. Library code never calls ``sys.exit``.

    LabError
    ├── ConfigError            bad settings, bad compose.yaml, bad flags
    │   └── ScenarioError      a scenario file that does not validate (file, field, line)
    ├── LabCommandError        a subprocess failed (command, exit code, stderr)
    ├── NotReadyError          something did not become ready in time (with a hint)
    ├── RuntimeUnavailable     the chosen runtime cannot run here (why, and the fix)
    ├── LabStateError          the lab is not in the state the command needs (up/down)
    ├── PrometheusError        Prometheus unreachable or a query failed
    └── LoadDriverError        Locust could not be started or driven
"""

from __future__ import annotations

from collections.abc import Sequence


class LabError(Exception):
    """Base of every error the lab raises on purpose."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class ConfigError(LabError):
    """Settings, flags or compose.yaml are wrong."""


class ScenarioError(ConfigError):
    """A scenario file does not validate; names the file, field and line."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        body = "; ".join(self.problems)
        super().__init__(f"{path}: {body}", hint="fix the file; nothing was started")


class LabCommandError(LabError):
    """A subprocess run through ``lab.proc.run`` exited non-zero or could not start."""

    def __init__(self, command: Sequence[str], returncode: int | None, stderr: str) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-3:] if stderr.strip() else []
        detail = " | ".join(tail) if tail else "no output on stderr"
        code = "could not start" if returncode is None else f"exited {returncode}"
        super().__init__(f"`{' '.join(self.command)}` {code}: {detail}")


class NotReadyError(LabError):
    """Something did not become ready within its timeout."""


class RuntimeUnavailable(LabError):
    """The requested runtime cannot run on this machine."""


class LabStateError(LabError):
    """The lab is not in the state the command needs."""


class AlreadyRunning(LabStateError):
    """``start`` of an instance that runs (e.g. its restart policy brought it back)."""


class PrometheusError(LabError):
    """Prometheus is unreachable or answered a query with an error."""


class LoadDriverError(LabError):
    """The load generator (Locust) could not be started or driven."""
