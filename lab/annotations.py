"""Lab events as Grafana annotations, so dashboards mark every scale, fault and phase.

``GrafanaAnnotator(lab).on_event`` is subscribed to the lab's ``EventLog``. Grafana runs
only under the compose runtime; everywhere else (native, lab down, Grafana still booting)
the annotator finds no Grafana, remembers that for a short while, and does nothing.

It never raises and never holds the lab up for more than about a second: a dashboard
marker is nice to have, the scale-out it marks is not allowed to wait for it.

Credentials: Grafana's admin password is a generated secret (``grafana_password`` in the
compose ``secrets`` volume). A runtime that can read its secrets implements
``SecretReader``; the annotator asks it for that one file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from lab.errors import LabError

if TYPE_CHECKING:
    from grafana_client.api import GrafanaApi

    from lab.events import Event
    from lab.lab import Lab

log = logging.getLogger(__name__)

GRAFANA_USER = "admin"
GRAFANA_PASSWORD_SECRET = "grafana_password"  # noqa: S105 (a file name, not a password)
ANNOTATION_TAG = "prodlab"  # every dashboard's annotation query filters on it
TIMEOUT = (0.3, 0.7)  # connect, read (seconds): at most ~1 s per event
RETRY_AFTER_S = 15.0  # how long "no Grafana here" is believed


@runtime_checkable
class SecretReader(Protocol):
    """A runtime that can read one of the lab's generated secrets by name."""

    def read_secret(self, name: str) -> str: ...


@dataclass(frozen=True)
class GrafanaAccess:
    url: str
    user: str
    password: str


def grafana_access(lab: Lab) -> GrafanaAccess:
    """Where Grafana answers and how to log in; raises ``LabError`` when it does not exist
    (native runtime, lab down) or its password cannot be read."""
    endpoint = lab.runtime.endpoint("grafana")
    runtime = lab.runtime
    if not isinstance(runtime, SecretReader):
        raise LabError(
            f"the {runtime.name} runtime cannot read the Grafana password",
            hint=f"it is in the `{GRAFANA_PASSWORD_SECRET}` file of the secrets volume",
        )
    password = runtime.read_secret(GRAFANA_PASSWORD_SECRET).strip()
    return GrafanaAccess(endpoint.url, GRAFANA_USER, password)


class GrafanaAnnotator:
    """Posts each lab event to Grafana as an annotation tagged ``prodlab`` and its kind."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._api: GrafanaApi | None = None
        self._unavailable_until = 0.0
        self._warned = False

    def on_event(self, event: Event) -> None:
        try:
            api = self._client()
            if api is None:
                return
            add: Callable[..., object] = api.annotations.add_annotation  # untyped upstream
            add(
                time_from=int(event.t * 1000),
                tags=[ANNOTATION_TAG, event.kind, *event.tags],
                text=event.message,
            )
        except Exception as exc:  # a listener must never fail the lab
            self._api = None
            self._unavailable_until = time.monotonic() + RETRY_AFTER_S
            self._report(f"could not post a Grafana annotation for {event.kind!r}: {exc}")

    def _client(self) -> GrafanaApi | None:
        if self._api is not None:
            return self._api
        if time.monotonic() < self._unavailable_until:
            return None
        try:
            access = grafana_access(self.lab)
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
