"""Toxiproxy's HTTP API over plain asyncio streams (one request per connection).

    GET    /version                       {"version": "..."}
    GET    /proxies                       {name: proxy, ...}
    POST   /proxies                       create → 201 proxy (409 if the name exists)
    POST   /populate                      create or replace a list → 201 {"proxies": [...]}
    GET    /proxies/{proxy}               proxy
    POST   /proxies/{proxy}               update enabled/listen/upstream → 200 proxy
    DELETE /proxies/{proxy}               204
    GET    /proxies/{proxy}/toxics        [toxic, ...]
    POST   /proxies/{proxy}/toxics        create → 200 toxic (409 if the name exists)
    GET    /proxies/{proxy}/toxics/{t}    toxic
    POST   /proxies/{proxy}/toxics/{t}    update toxicity/attributes → 200 toxic
    DELETE /proxies/{proxy}/toxics/{t}    204
    POST   /reset                         enable every proxy, remove every toxic → 204

Errors are Toxiproxy's ``{"error": "...", "status": N}``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping

from lab.agents.netproxy.proxy import Proxy
from lab.agents.netproxy.toxics import ToxicError, parse_toxic, update_toxic

VERSION = "2.9.0-prodlab"
"""The Toxiproxy release whose API this follows, marked as the lab's own."""
MAX_BODY = 1 << 20
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request"}
REASONS |= {404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Too Large"}

Reply = tuple[int, object]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ToxiproxyApi:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.proxies: dict[str, Proxy] = {}
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()  # one change at a time

    async def handle(self, method: str, path: str, body: object) -> Reply:
        parts = [p for p in path.split("?")[0].split("/") if p]
        async with self._lock:
            try:
                return await self._route(method, parts, body)
            except ToxicError as exc:
                return 400, {"error": str(exc), "status": 400}
            except ApiError as exc:
                return exc.status, {"error": str(exc), "status": exc.status}

    async def _route(self, method: str, parts: list[str], body: object) -> Reply:
        match method, parts:
            case "GET", ["version"]:
                return 200, {"version": VERSION}
            case "POST", ["reset"]:
                for proxy in self.proxies.values():
                    proxy.toxics.clear()
                    await proxy.start()
                return 204, None
            case "GET", ["proxies"]:
                return 200, {name: p.to_json() for name, p in self.proxies.items()}
            case "POST", ["proxies"]:
                return 201, (await self._create(_object(body), replace=False)).to_json()
            case "POST", ["populate"]:
                if not isinstance(body, list):
                    raise ToxicError("body: must be a JSON list of proxies")
                made = [await self._create(_object(item), replace=True) for item in body]
                return 201, {"proxies": [p.to_json() for p in made]}
            case _, ["proxies", name, *rest]:
                return await self._proxy_route(method, self._proxy(name), rest, body)
        raise ApiError(404, "not found")

    async def _proxy_route(self, method: str, proxy: Proxy, rest: list[str], body: object) -> Reply:
        match method, rest:
            case "GET", []:
                return 200, proxy.to_json()
            case "POST", []:
                await proxy.update(_object(body))
                return 200, proxy.to_json()
            case "DELETE", []:
                await proxy.stop()
                del self.proxies[proxy.name]
                return 204, None
            case "GET", ["toxics"]:
                return 200, [t.to_json() for t in proxy.toxics.values()]
            case "POST", ["toxics"]:
                toxic = parse_toxic(body)
                if toxic.name in proxy.toxics:
                    raise ApiError(409, "toxic already exists")
                proxy.toxics = {**proxy.toxics, toxic.name: toxic}
                return 200, toxic.to_json()
            case _, ["toxics", name]:
                if name not in proxy.toxics:
                    raise ApiError(404, "toxic not found")
                if method == "GET":
                    return 200, proxy.toxics[name].to_json()
                if method == "POST":
                    update_toxic(proxy.toxics[name], body)
                    return 200, proxy.toxics[name].to_json()
                if method == "DELETE":
                    proxy.toxics = {k: t for k, t in proxy.toxics.items() if k != name}
                    return 204, None
                raise ApiError(405, f"{method} is not allowed here")
        raise ApiError(404, "not found")

    def _proxy(self, name: str) -> Proxy:
        if name not in self.proxies:
            raise ApiError(404, "proxy not found")
        return self.proxies[name]

    async def _create(self, body: Mapping[str, object], *, replace: bool) -> Proxy:
        name = body.get("name")
        if not isinstance(name, str) or not name or "/" in name:
            raise ToxicError(f"name: must be a non-empty string without '/', not {name!r}")
        if name in self.proxies:
            if not replace:
                raise ApiError(409, "proxy already exists")
            await self.proxies.pop(name).stop()
        proxy = Proxy(name, str(body.get("listen")), str(body.get("upstream")), self._rng)
        if body.get("enabled", True) is not False:
            await proxy.start()
        self.proxies[name] = proxy
        return proxy

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()

    # -- HTTP/1.1, one request per connection ---------------------------------------------

    async def serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await self._read_and_handle(reader)
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            status, payload = 400, {"error": f"bad request: {exc}", "status": 400}
        data = b"" if payload is None else json.dumps(payload).encode()
        head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        head += "Connection: close\r\n\r\n"
        try:
            writer.write(head.encode() + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _read_and_handle(self, reader: asyncio.StreamReader) -> Reply:
        request = (await reader.readuntil(b"\r\n")).decode("latin-1").split()
        if len(request) != 3:
            raise ValueError("malformed request line")
        length = 0
        while (line := (await reader.readuntil(b"\r\n")).decode("latin-1").strip()) != "":
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-length":
                length = int(value)
        if not 0 <= length <= MAX_BODY:
            return 413, {"error": "body too large", "status": 413}
        raw = await reader.readexactly(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            return 400, {"error": f"body: not JSON ({exc.msg})", "status": 400}
        return await self.handle(request[0].upper(), request[1], body)


def _object(body: object) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        raise ToxicError("body: must be a JSON object")
    return body
