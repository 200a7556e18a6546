"""Paths, ports and secrets of one native lab, shared by its launchers."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lab.errors import ConfigError
from lab.runtime.native.state import NativeState
from lab.settings import Settings
from lab.topology import ServiceGraph, ServiceSpec

SECRET_NAMES = ("pg_password", "redis_password", "nats_password", "api_admin_token")


@dataclass
class NativeContext:
    settings: Settings
    graph: ServiceGraph
    state: NativeState

    @property
    def home(self) -> Path:
        return self.settings.state_dir

    def dir(self, *parts: str) -> Path:
        path = self.home.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def logs(self) -> Path:
        return self.dir("logs")

    @property
    def host(self) -> str:
        return self.settings.bind_host

    @cached_property
    def service_user(self) -> str | None:
        """Who runs PostgreSQL: the `postgres` account when we are root, else ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise ConfigError(
                "running as root, and PostgreSQL refuses root, but there is no `postgres` user",
                hint="apt-get install -y postgresql (creates it), or run lab as a normal user",
            ) from None
        return "postgres"

    def secret(self, name: str) -> str:
        return self.secret_file(name).read_text(encoding="utf-8").strip()

    def secret_file(self, name: str) -> Path:
        return self.dir("secrets") / name

    def ensure_secrets(self) -> None:
        """Random passwords, generated once per lab home, readable by root only (0600)."""
        folder = self.dir("secrets")
        folder.chmod(0o700)
        for name in SECRET_NAMES:
            path = folder / name
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(24))

    def port(self, key: str) -> int:
        return self.state.ports[key]

    def python(self) -> str:
        return sys.executable

    def dependency_port(self, service: str) -> int:
        """Where the API and workers reach ``service``: its proxy's port when the links
        go through the lab's Toxiproxy (``net_proxy``), else the service's own."""
        return self.port(link_key(service) if self.settings.net_proxy else service)

    def connection_env(self) -> dict[str, str]:
        """How the API and workers reach Postgres, Redis and NATS natively."""
        return {
            "LAB_PG_HOST": self.host,
            "LAB_PG_PORT": str(self.dependency_port("postgres")),
            "LAB_PG_USER": "lab",
            "LAB_PG_DB": "shop",
            "LAB_PG_PASSWORD_FILE": str(self.secret_file("pg_password")),
            "LAB_REDIS_HOST": self.host,
            "LAB_REDIS_PORT": str(self.dependency_port("redis")),
            "LAB_REDIS_PASSWORD_FILE": str(self.secret_file("redis_password")),
            "LAB_NATS_HOST": self.host,
            "LAB_NATS_PORT": str(self.dependency_port("nats")),
            "LAB_NATS_USER": "lab",
            "LAB_NATS_PASSWORD_FILE": str(self.secret_file("nats_password")),
        }

    def compose_environment(self, spec: ServiceSpec) -> dict[str, str]:
        """The service's compose `environment` (knobs), minus what native overrides."""
        return {k: v for k, v in spec.environment.items() if not k.endswith("_FILE")}

    def pythonpath(self) -> str:
        project = self.settings.project_dir
        parts = [str(project / "services" / "api"), str(project / "services" / "worker")]
        if os.environ.get("PYTHONPATH"):
            parts.append(os.environ["PYTHONPATH"])
        return os.pathsep.join(parts)


def link_key(service: str) -> str:
    """The port key of the proxy in front of ``service`` (``postgres`` → ``postgres-link``)."""
    return f"{service}-link"


def find_binary(name: str, *, extra_globs: tuple[str, ...] = ()) -> str | None:
    """A binary on PATH, or in the versioned directories Debian uses (no versions hard-coded)."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_globs:
        matches = sorted(Path("/").glob(pattern.lstrip("/")), reverse=True)
        for match in matches:
            if match.is_file() and os.access(match, os.X_OK):
                return str(match)
    return None


def pg_binary(name: str) -> str | None:
    return find_binary(name, extra_globs=(f"/usr/lib/postgresql/*/bin/{name}",))
