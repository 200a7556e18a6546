"""compose.yaml, read once into a ``ServiceGraph``: typed service specs and their order.

(The scenario's ``topology`` is something else: the lab shape a scenario needs.)
Both runtimes start from the same file. The native runtime needs, per service: what it
is (``x-lab.kind``), the port it serves inside its container (``x-lab.port``), whether it
scales, what it depends on (start order), its default replica count, its ``restart:``
policy (honoured natively by ``lab.runtime.native.supervisor``), and the ``environment``
knobs (``${VAR:-default}`` resolved against the process environment).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.errors import ConfigError

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Resolve ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``$$`` like Compose."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        if op in (":?", "?") and not current:
            raise ConfigError(f"compose.yaml needs ${{{name}}}: {arg or 'not set'}")
        return current or ""

    return _VAR.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


@dataclass(frozen=True)
class RestartPolicy:
    """compose.yaml's ``restart:``: ``no`` (the default), ``always``, ``unless-stopped``,
    ``on-failure`` or ``on-failure:N`` (at most N restarts; 0 or none: no limit)."""

    name: str = "no"
    max_retries: int = 0

    @classmethod
    def parse(cls, raw: object, *, where: str = "restart") -> RestartPolicy:
        text = "no" if raw is None or raw is False else str(raw).strip()
        name, _, count = text.partition(":")
        if name in ("no", "always", "unless-stopped") and not count:
            return cls(name)
        if name == "on-failure":
            if not count:
                return cls(name)
            if count.isdigit():
                return cls(name, int(count))
        raise ConfigError(
            f"{where}: {text!r} is not a restart policy",
            hint="no | always | unless-stopped | on-failure[:max-retries]",
        )

    def __str__(self) -> str:
        return f"{self.name}:{self.max_retries}" if self.max_retries else self.name


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    kind: str
    port: int | None
    scalable: bool
    depends_on: tuple[str, ...]
    replicas: int
    environment: dict[str, str] = field(default_factory=dict)
    restart: RestartPolicy = field(default_factory=RestartPolicy)


@dataclass(frozen=True)
class ServiceGraph:
    path: Path
    services: dict[str, ServiceSpec]

    def start_order(self) -> list[ServiceSpec]:
        """Services sorted so each comes after everything it depends on."""
        order: list[ServiceSpec] = []
        seen: set[str] = set()
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            if name in visiting:
                raise ConfigError(f"{self.path}: depends_on has a cycle through {name!r}")
            visiting.add(name)
            for dep in self.services[name].depends_on:
                if dep not in self.services:
                    raise ConfigError(f"{self.path}: {name} depends on unknown service {dep!r}")
                visit(dep)
            visiting.discard(name)
            seen.add(name)
            order.append(self.services[name])

        for name in self.services:
            visit(name)
        return order

    def get(self, name: str) -> ServiceSpec:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise ConfigError(
                f"no service {name!r} in {self.path.name}", hint=f"known: {known}"
            ) from None


def load_service_graph(path: Path, env: Mapping[str, str] | None = None) -> ServiceGraph:
    env = os.environ if env is None else env
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found", hint="run lab from the prodlab checkout") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
        raise ConfigError(f"{path} has no services mapping")
    services = {
        name: _service(path, name, body or {}, env) for name, body in raw["services"].items()
    }
    return ServiceGraph(path=path, services=services)


def _service(path: Path, name: str, body: dict[str, Any], env: Mapping[str, str]) -> ServiceSpec:
    ext = body.get("x-lab") or {}
    if not isinstance(ext, dict) or "kind" not in ext:
        raise ConfigError(f"{path}: service {name!r} has no `x-lab: {{kind: ...}}` block")
    deps = body.get("depends_on") or []
    depends = tuple(deps) if isinstance(deps, list) else tuple(deps.keys())
    replicas_raw = (body.get("deploy") or {}).get("replicas", 1)
    try:
        replicas = int(interpolate(str(replicas_raw), env))
    except ValueError as exc:
        raise ConfigError(f"{path}: {name}.deploy.replicas is not a number: {exc}") from exc
    environment = body.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return ServiceSpec(
        name=name,
        kind=str(ext["kind"]),
        port=int(ext["port"]) if "port" in ext else None,
        scalable=bool(ext.get("scalable", False)),
        depends_on=depends,
        replicas=replicas,
        environment={str(k): interpolate(str(v), env) for k, v in environment.items()},
        restart=RestartPolicy.parse(body.get("restart"), where=f"{path.name}: {name}.restart"),
    )
