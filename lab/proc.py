"""The one place the lab runs subprocesses.

``run`` is for short commands whose output we want; ``spawn`` starts a long-lived
service process in its own session (so a signal to the lab's terminal does not reach
it directly, and the whole process group can be ended at once).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.errors import LabCommandError

log = logging.getLogger(__name__)


def run(
    command: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
    check: bool = True,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion; raise ``LabCommandError`` on failure."""
    argv = [str(part) for part in command]
    log.debug("run: %s", " ".join(argv))
    try:
        done = subprocess.run(
            argv,
            env=None if env is None else {**os.environ, **env},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabCommandError(argv, None, f"{argv[0]}: not found ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr if isinstance(exc.stderr, str) else ""
        raise LabCommandError(argv, None, f"timed out after {timeout:g} s. {stderr}") from exc
    if check and done.returncode != 0:
        raise LabCommandError(argv, done.returncode, done.stderr or done.stdout)
    return done


def spawn(
    command: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-lived process in a new session, stdout and stderr to ``log_path``.

    ``user`` runs it as another account (PostgreSQL refuses to run as root).
    """
    argv = [str(part) for part in command]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.debug("spawn: %s > %s", " ".join(argv), log_path)
    reap()
    with log_path.open("ab") as out:
        try:
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=None if env is None else {**os.environ, **env},
                cwd=cwd,
                start_new_session=True,
                user=user,
                group=_primary_group(user) if user else None,
                extra_groups=[] if user else None,
            )
        except OSError as exc:
            raise LabCommandError(argv, None, str(exc)) from exc
    _CHILDREN[child.pid] = child
    return child


# Long-lived children we started and still hold: kept so that each is reaped (no zombie,
# no "subprocess still running" warning when a Popen object is dropped while it runs).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def reap() -> None:
    """Collect the exit status of every finished child this process spawned."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


def exit_code(pid: int) -> int | None:
    """The exit code of a finished child this process spawned (128 + the signal that ended
    it, as Docker reports it); None while it runs, or when it is not our child."""
    child = _CHILDREN.get(pid)
    if child is None:
        return None
    code = child.poll()
    if code is not None and code < 0:
        return 128 - code  # as a shell and Docker report it: SIGKILL -> 137
    return code


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid
