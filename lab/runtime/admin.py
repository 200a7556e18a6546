"""Calls to an API replica's admin endpoint (``shop_api.admin``), shared by both runtimes.

The endpoint listens on the replica's own loopback only and wants the lab's generated
token. Natively the lab is on that loopback and calls it over HTTP; under Compose the
loopback is the container's, so the lab runs ``python -m shop_api.admin_call`` inside the
container (``docker exec``): nothing is published, not even on the host's 127.0.0.1, and
scaled replicas need no port each. Both hand the answer to ``admin_answer``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from lab.errors import ConfigError, LabError

AdminMethod = Literal["GET", "POST", "DELETE"]
ADMIN_HOST = "127.0.0.1"  # where a replica's admin endpoint listens, always
# the generated secret's file name, in both runtimes (a name, not the secret)
TOKEN_SECRET = "api_admin_token"  # noqa: S105
ADMIN_TIMEOUT_S = 5.0
MAX_FAULT_S = 3600.0  # shop_api.faults.MAX_FAULT_S: the replica refuses longer faults


class AdminCallError(LabError):
    """An admin call was answered with an error, or not at all."""


def admin_answer(
    instance: str, method: str, path: str, status: int, text: str
) -> dict[str, object]:
    """The JSON object of a 2xx answer; ``AdminCallError`` with the reason otherwise."""
    try:
        body = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        body = {"reason": text.strip()[:300]}
    if not isinstance(body, dict):
        body = {"reason": str(body)[:300]}
    if not 200 <= status < 300:
        reason = body.get("reason", f"HTTP {status}")
        raise AdminCallError(
            f"{instance}: {method} {path} answered {status}: {reason}",
            hint="is it an API replica that is up? (`lab status`)",
        )
    return body


def encode_body(body: Mapping[str, object] | None) -> str:
    return "" if body is None else json.dumps(dict(body))


FAULTABLE_DEPENDENCIES = ("postgres", "redis")  # shop_api.faults.Dependency
AppFaultKind = Literal["errors", "latency", "cpu-hog", "unready"]
APP_FAULT_KINDS: tuple[AppFaultKind, ...] = ("errors", "latency", "cpu-hog", "unready")


@dataclass(frozen=True)
class AppFault:
    """One application fault as the lab asks a replica for it (``shop_api.faults`` checks
    it again and answers 422 naming the field).

    ``errors`` needs ``percent`` and ``route`` (requests to it fail) or ``dependency``
    (``postgres`` or ``redis``: that share of the API's calls to it fail after the work,
    and its retries see a failing dependency); ``latency`` ``route`` and ``fixed_ms``;
    ``cpu-hog`` ``percent``; ``unready`` nothing. ``for_s`` bounds it on the replica.
    """

    kind: AppFaultKind
    for_s: float
    route: str | None = None
    percent: float | None = None
    status: int | None = None
    fixed_ms: float | None = None
    jitter_ms: float | None = None
    dependency: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "errors" and (self.route is None) == (self.dependency is None):
            raise ConfigError("an errors fault needs route or dependency (one of them)")
        if self.dependency is not None and self.dependency not in FAULTABLE_DEPENDENCIES:
            raise ConfigError(
                f"dependency: {self.dependency!r} is not one of {', '.join(FAULTABLE_DEPENDENCIES)}"
            )
        if self.dependency is not None and self.kind != "errors":
            raise ConfigError("dependency: only an errors fault targets a dependency")
        needed = {
            "errors": ("percent",),
            "latency": ("route", "fixed_ms"),
            "cpu-hog": ("percent",),
            "unready": (),
        }[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"a {self.kind} fault needs {', '.join(missing)}")
        if not 0 < self.for_s <= MAX_FAULT_S:
            raise ConfigError(f"for_s: {self.for_s:g} is not in (0, {MAX_FAULT_S:g}] seconds")

    def body(self) -> dict[str, object]:
        fields = asdict(self)
        return {k: v for k, v in fields.items() if v is not None}

    def describe(self) -> str:
        if self.kind == "errors" and self.dependency is not None:
            what = f"{self.percent:g}% of the calls to {self.dependency} fail"
        elif self.kind == "errors":
            what = f"{self.percent:g}% errors ({self.status or 500}) on {self.route}"
        elif self.kind == "latency":
            what = f"+{self.fixed_ms:g} ms (jitter {self.jitter_ms or 0:g} ms) on {self.route}"
        elif self.kind == "cpu-hog":
            what = f"cpu hog {self.percent:g}% of a core"
        else:
            what = "unready"
        return f"{what} for {self.for_s:g} s"
