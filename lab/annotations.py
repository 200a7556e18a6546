"""Lab events as Grafana annotations, so dashboards mark every phase, scale and fault.

``GrafanaAnnotator(access).on_event`` is subscribed to the lab's ``EventLog``. Each event
becomes an organisation-wide annotation (no dashboard or panel: every prodlab dashboard
shows it through its ``prodlab`` tag query), tagged ``prodlab``, its kind and its own
tags. An event that starts something with an end (a phase, a scenario, an instance
stopped or killed) becomes a region once the end arrives in the same process (a scenario
run): the next phase, the scenario's result, the instance started again, ``lab down``. A
``lab kill`` and a later ``lab start`` from two shells stay two markers.

Grafana runs only under the compose runtime; everywhere else (native, lab down, Grafana
still booting, a wrong password) the annotator finds no Grafana, remembers that for
``RETRY_AFTER_S``, and does nothing. It never raises and never holds the lab up for more
than about a second: a dashboard marker is nice to have, the scale-out it marks is not
allowed to wait for it.

Credentials: Grafana's admin password is a generated secret (``grafana_password`` in the
compose ``secrets`` volume). A runtime that can read its secrets implements
``SecretReader``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lab.errors import LabError

if TYPE_CHECKING:
    from grafana_client.api import GrafanaApi

    from lab.events import Event
    from lab.runtime.base import Runtime

log = logging.getLogger(__name__)

GRAFANA_USER = "admin"
GRAFANA_PASSWORD_SECRET = "grafana_password"  # noqa: S105 (a file name, not a password)
ANNOTATION_TAG = "prodlab"  # every dashboard's annotation query filters on it
TIMEOUT = (0.3, 0.7)  # connect, read (seconds): at most ~1 s per event
RETRY_AFTER_S = 15.0  # how long "no Grafana here" is believed
ALL_SPANS = "*"


@runtime_checkable
class SecretReader(Protocol):
    """A runtime that can read one of the lab's generated secrets by name."""

    def read_secret(self, name: str) -> str: ...


@dataclass(frozen=True)
class GrafanaAccess:
    url: str
    user: str
    password: str


def grafana_password(runtime: Runtime) -> str:
    """Grafana's generated admin password; ``LabError`` when the runtime cannot read it."""
    if not isinstance(runtime, SecretReader):
        raise LabError(
            f"the {runtime.name} runtime has no Grafana and no Grafana password",
            hint="Grafana runs under Docker: `lab up --runtime compose`",
        )
    return runtime.read_secret(GRAFANA_PASSWORD_SECRET).strip()


def grafana_access(runtime: Runtime) -> GrafanaAccess:
    """Where Grafana answers and how to log in; raises ``LabError`` when it does not run
    (native runtime, lab down, no Grafana image) or its password cannot be read."""
    url = runtime.endpoint("grafana").url  # first: the cheap answer when Grafana is absent
    return GrafanaAccess(url, GRAFANA_USER, grafana_password(runtime))


@dataclass(frozen=True)
class Span:
    """What an event begins and ends, as keys of the regions the annotator keeps open."""

    begins: str | None = None
    ends: tuple[str, ...] = ()


def span(event: Event) -> Span:
    """Which region ``event`` opens (a phase, a scenario, an instance down) or closes."""
    instance = str(event.data.get("instance", ""))
    if event.kind == "phase":
        return Span(begins="phase", ends=("phase",))
    if event.kind in ("kill", "stop") and instance:
        return Span(begins=f"down:{instance}")
    if event.kind == "start" and instance:
        return Span(ends=(f"down:{instance}",))
    if event.kind == "scenario":
        finished = "passed" in event.data
        return Span(begins=None if finished else "scenario", ends=("phase", "scenario"))
    if event.kind == "down":
        return Span(ends=(ALL_SPANS,))
    return Span()


@dataclass(frozen=True)
class _Region:
    id: int
    start_ms: int
    tags: list[str]
    text: str


class GrafanaAnnotator:
    """Posts each lab event to Grafana; ``access`` says where and how to log in."""

    def __init__(self, access: Callable[[], GrafanaAccess]) -> None:
        self.access = access
        self._api: GrafanaApi | None = None
        self._open: dict[str, _Region] = {}
        self._unavailable_until = 0.0
        self._warned = False

    def on_event(self, event: Event) -> None:
        try:
            api = self._client()
            if api is None:
                return
            this = span(event)
            for key in this.ends:
                self._close(api, key, event.t)
            tags = list(dict.fromkeys([ANNOTATION_TAG, event.kind, *event.tags]))  # once each
            at = _ms(event.t)
            add: Callable[..., Any] = api.annotations.add_annotation  # untyped upstream
            added = add(time_from=at, tags=tags, text=event.message)
            if this.begins is not None and isinstance(added, dict) and "id" in added:
                self._open[this.begins] = _Region(int(added["id"]), at, tags, event.message)
        except Exception as exc:  # a listener must never fail the lab
            self._api = None
            self._unavailable_until = time.monotonic() + RETRY_AFTER_S
            self._report(f"could not post a Grafana annotation for {event.kind!r}: {_why(exc)}")

    def _close(self, api: GrafanaApi, key: str, t: float) -> None:
        keys = list(self._open) if key == ALL_SPANS else [key]
        for one in keys:
            region = self._open.pop(one, None)
            if region is None:
                continue
            patch: Callable[..., Any] = api.annotations.partial_update_annotation
            # tags and text again: Grafana's PATCH replaces the tags with whatever is sent
            patch(
                region.id,
                time_from=region.start_ms,
                time_to=_ms(t),
                tags=region.tags,
                text=region.text,
            )

    def _client(self) -> GrafanaApi | None:
        if self._api is not None:
            return self._api
        if time.monotonic() < self._unavailable_until:
            return None
        try:
            access = self.access()
        except LabError as exc:
            self._unavailable_until = time.monotonic() + RETRY_AFTER_S
            log.debug("no Grafana annotations: %s", exc.message)
            return None
        from grafana_client.api import GrafanaApi

        self._api = GrafanaApi.from_url(
            access.url, credential=(access.user, access.password), timeout=TIMEOUT
        )
        return self._api

    def _report(self, message: str) -> None:
        if self._warned:
            log.debug(message)
        else:
            self._warned = True
            log.warning(
                "%s (retrying in %.0f s; later failures are logged at debug)",
                message,
                RETRY_AFTER_S,
            )


def _why(exc: Exception) -> str:
    """grafana-client's error with what Grafana said (its 401 says only "Unauthorized")."""
    said = getattr(exc, "response", None)
    if isinstance(said, dict) and "message" in said:
        status = getattr(exc, "status_code", "?")
        hint = f" (is it {GRAFANA_PASSWORD_SECRET}?)" if status == 401 else ""
        return f"Grafana answered {status}: {said['message']}{hint}"
    return str(exc) or type(exc).__name__


def _ms(t: float) -> int:
    return round(t * 1000)
