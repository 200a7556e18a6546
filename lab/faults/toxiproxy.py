"""A client for Toxiproxy's HTTP API (github.com/Shopify/toxiproxy, README "HTTP API").

Works against the official server and against the lab's own (lab.agents.netproxy).
Errors: the server's refusal (4xx, its ``error`` text) is a ``ConfigError``; no answer
at all is a ``LabStateError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from lab.errors import ConfigError, LabStateError

TIMEOUT_S = 5.0

Json = dict[str, Any]


class ToxiproxyClient:
    def __init__(self, base_url: str, *, timeout: float = TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- proxies --------------------------------------------------------------------------

    def version(self) -> str:
        reply = self._call("GET", "/version")
        return str(reply["version"]) if isinstance(reply, dict) else str(reply)

    def proxies(self) -> dict[str, Json]:
        reply = self._call("GET", "/proxies")
        assert isinstance(reply, dict)
        return reply

    def proxy(self, name: str) -> Json:
        return self._object(self._call("GET", f"/proxies/{name}"))

    def create_proxy(self, name: str, listen: str, upstream: str) -> Json:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        return self._object(self._call("POST", "/proxies", body))

    def populate(self, proxies: list[Mapping[str, object]]) -> list[Json]:
        """Create or replace these proxies (Toxiproxy's POST /populate)."""
        reply = self._object(self._call("POST", "/populate", list(proxies)))
        return list(reply["proxies"])

    def set_enabled(self, name: str, enabled: bool) -> Json:
        return self._object(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    # -- toxics ---------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[Json]:
        reply = self._call("GET", f"/proxies/{proxy}/toxics")
        assert isinstance(reply, list)
        return reply

    def add_toxic(self, proxy: str, toxic: Mapping[str, object]) -> Json:
        return self._object(self._call("POST", f"/proxies/{proxy}/toxics", dict(toxic)))

    def update_toxic(self, proxy: str, name: str, changes: Mapping[str, object]) -> Json:
        return self._object(self._call("POST", f"/proxies/{proxy}/toxics/{name}", dict(changes)))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: object = None) -> Any:
        try:
            reply = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise LabStateError(
                f"Toxiproxy does not answer at {self.base_url} ({exc})",
                hint="is the lab up? (`lab status`)",
            ) from exc
        if reply.status_code >= 400:
            try:
                text = reply.json().get("error", reply.text)
            except ValueError:
                text = reply.text
            raise ConfigError(f"Toxiproxy refused {method} {path}: {text} ({reply.status_code})")
        return reply.json() if reply.content else None

    @staticmethod
    def _object(reply: Any) -> Json:
        assert isinstance(reply, dict), reply
        return reply
