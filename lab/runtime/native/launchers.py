"""How each kind of service runs as a local process: prepare, command, readiness.

One small class per ``x-lab.kind`` of compose.yaml. The runtime calls ``prepare`` once
per ``lab up``, ``command``/``env`` for every instance, and polls ``ready`` until true.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import ClassVar

import httpx

from lab import proc
from lab.errors import ConfigError, RuntimeUnavailable
from lab.runtime.native import haproxy
from lab.runtime.native.context import NativeContext, find_binary, pg_binary
from lab.runtime.native.state import ProcRecord
from lab.topology import ServiceSpec


class Launcher:
    kind: ClassVar[str]
    binaries: ClassVar[tuple[str, ...]] = ()
    packages: ClassVar[tuple[str, ...]] = ()  # Debian packages providing the binaries
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    port_key: ClassVar[str | None] = None  # a service-wide port in state.ports
    per_instance_port: ClassVar[bool] = False

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec

    def binary(self, name: str) -> str:
        found = find_binary(name) if name != "postgres" else pg_binary(name)
        if found is None:
            raise RuntimeUnavailable(
                f"`{name}` not found (needed by {self.spec.name})",
                hint=f"apt-get install -y {' '.join(self.packages)}  (or `make setup`)",
            )
        return found

    def prepare(self, ctx: NativeContext) -> None:
        """One-time setup before the first instance starts (configs, data dirs)."""

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        raise NotImplementedError

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        return {}

    def user(self, ctx: NativeContext) -> str | None:
        return None

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        raise NotImplementedError

    def after_ready(self, ctx: NativeContext, rec: ProcRecord) -> None:
        """Runs once the first instance is ready (e.g. create the database)."""

    def url(self, ctx: NativeContext, rec: ProcRecord) -> str | None:
        return None


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code == 200


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


class Postgres(Launcher):
    kind = "postgres"
    binaries = ("postgres", "initdb", "pg_isready", "psql")
    packages = ("postgresql",)
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, checkpoint
    port_key = "postgres"

    def user(self, ctx: NativeContext) -> str | None:
        return ctx.service_user

    def _as_user(self, ctx: NativeContext, argv: list[str]) -> list[str]:
        user = ctx.service_user
        return ["runuser", "-u", user, "--", *argv] if user else argv

    def prepare(self, ctx: NativeContext) -> None:
        data = ctx.home / "data" / "postgres"
        sockets = ctx.dir("run", "postgres")
        user = ctx.service_user
        if user:
            for path in (ctx.home, ctx.home / "data", ctx.home / "run"):
                path.mkdir(parents=True, exist_ok=True)
            done = proc.run(self._as_user(ctx, ["test", "-x", str(ctx.home)]), check=False)
            if done.returncode != 0:
                raise ConfigError(
                    f"the postgres user cannot reach {ctx.home}",
                    hint="LAB_HOME's parent directories need o+x (e.g. chmod o+x on each)",
                )
            proc.run(["chown", f"{user}:", str(sockets)])
        if (data / "PG_VERSION").exists():
            return
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        pwfile = ctx.dir("run") / "pg_initpw"
        _write_private(pwfile, ctx.secret("pg_password") + "\n")
        if user:
            proc.run(["chown", "-R", f"{user}:", str(data), str(pwfile)])
        try:
            proc.run(
                self._as_user(
                    ctx,
                    [
                        self.binary("initdb"),
                        "-D",
                        str(data),
                        "-U",
                        "lab",
                        f"--pwfile={pwfile}",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "-E",
                        "UTF8",
                        "--no-instructions",
                    ],
                ),
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            self.binary("postgres"),
            "-D",
            str(ctx.home / "data" / "postgres"),
            "-p",
            str(ctx.port("postgres")),
            "-k",
            str(ctx.home / "run" / "postgres"),
            "-c",
            f"listen_addresses={ctx.host}",
            "-c",
            f"max_connections={ctx.settings.pg_max_connections}",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "log_min_messages=warning",
        ]

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        done = proc.run(
            [self.binary("pg_isready"), "-q", "-h", ctx.host, "-p", str(ctx.port("postgres"))],
            check=False,
            timeout=5,
        )
        return done.returncode == 0

    def after_ready(self, ctx: NativeContext, rec: ProcRecord) -> None:
        psql = [
            self.binary("psql"),
            "-h",
            str(ctx.home / "run" / "postgres"),
            "-p",
            str(ctx.port("postgres")),
            "-U",
            "lab",
            "-d",
            "postgres",
            "-tAc",
        ]
        exists = proc.run(
            self._as_user(ctx, [*psql, "SELECT 1 FROM pg_database WHERE datname='shop'"])
        )
        if exists.stdout.strip() != "1":
            proc.run(self._as_user(ctx, [*psql, "CREATE DATABASE shop"]))


class Redis(Launcher):
    kind = "redis"
    binaries = ("redis-server",)
    packages = ("redis-server",)
    port_key = "redis"

    def prepare(self, ctx: NativeContext) -> None:
        data = ctx.dir("data", "redis")
        _write_private(
            ctx.dir("config") / "redis.conf",
            "\n".join(
                [
                    f"bind {ctx.host}",
                    f"port {ctx.port('redis')}",
                    "protected-mode yes",
                    'save ""',
                    "appendonly no",
                    f"dir {data}",
                    "daemonize no",
                    f"requirepass {ctx.secret('redis_password')}",
                    "",
                ]
            ),
        )

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [self.binary("redis-server"), str(ctx.home / "config" / "redis.conf")]

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        import redis

        client = redis.Redis(
            host=ctx.host,
            port=ctx.port("redis"),
            password=ctx.secret("redis_password"),
            socket_timeout=1,
        )
        try:
            return bool(client.ping())
        finally:
            client.close()


class Nats(Launcher):
    kind = "nats"
    binaries = ("nats-server",)
    packages = ("nats-server",)
    port_key = "nats"

    def prepare(self, ctx: NativeContext) -> None:
        store = ctx.dir("data", "nats")
        _write_private(
            ctx.dir("config") / "nats.conf",
            "\n".join(
                [
                    f'listen: "{ctx.host}:{ctx.port("nats")}"',
                    f'http: "{ctx.host}:{ctx.port("nats_http")}"',
                    f'jetstream {{ store_dir: "{store}" }}',
                    f'authorization {{ user: "lab", password: "{ctx.secret("nats_password")}" }}',
                    "",
                ]
            ),
        )

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [self.binary("nats-server"), "-c", str(ctx.home / "config" / "nats.conf")]

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return _http_ok(f"http://{ctx.host}:{ctx.port('nats_http')}/healthz?js-enabled-only=true")


class Api(Launcher):
    kind = "api"
    per_instance_port = True

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [ctx.python(), "-m", "shop_api"]

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        return {
            **ctx.knob_env(self.spec),
            **ctx.connection_env(),
            "LAB_REPLICA": rec.name,
            "LAB_API_HOST": ctx.host,
            "LAB_API_PORT": str(rec.port),
            "PYTHONPATH": ctx.pythonpath(),
        }

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return _http_ok(f"http://{ctx.host}:{rec.port}/readyz")

    def url(self, ctx: NativeContext, rec: ProcRecord) -> str | None:
        return f"http://{ctx.host}:{rec.port}"


class Worker(Launcher):
    kind = "worker"
    per_instance_port = True

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [ctx.python(), "-m", "shop_worker"]

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        return {
            **ctx.knob_env(self.spec),
            **ctx.connection_env(),
            "LAB_REPLICA": rec.name,
            "LAB_WORKER_HOST": ctx.host,
            "LAB_WORKER_METRICS_PORT": str(rec.port),
            "PYTHONPATH": ctx.pythonpath(),
        }

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return _http_ok(f"http://{ctx.host}:{rec.port}/healthz")


class LoadBalancer(Launcher):
    kind = "lb"
    binaries = ("haproxy",)
    packages = ("haproxy",)
    port_key = "lb"

    def config_path(self, ctx: NativeContext) -> Path:
        return ctx.dir("config") / "haproxy.cfg"

    def socket_path(self, ctx: NativeContext) -> Path:
        return ctx.dir("run") / "haproxy.sock"

    def write_config(self, ctx: NativeContext) -> None:
        servers = {
            r.index: r.port
            for r in ctx.state.of("api")
            if r.port is not None and r.desired == "running" and r.alive()
        }
        _write_private(
            self.config_path(ctx),
            haproxy.render_config(
                bind_host=ctx.host,
                port=ctx.port("lb"),
                stats_port=ctx.port("lb_stats"),
                socket_path=self.socket_path(ctx),
                servers=servers,
            ),
        )

    def prepare(self, ctx: NativeContext) -> None:
        self.write_config(ctx)
        proc.run([self.binary("haproxy"), "-c", "-q", "-f", str(self.config_path(ctx))])

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [self.binary("haproxy"), "-db", "-f", str(self.config_path(ctx))]

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return _http_ok(f"http://{ctx.host}:{ctx.port('lb_stats')}/metrics")

    def admin(self, ctx: NativeContext) -> haproxy.HAProxyAdmin:
        return haproxy.HAProxyAdmin(self.socket_path(ctx))


class Exporter(Launcher):
    """Exporters serve /metrics on their own port; only the command line differs."""

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return _http_ok(f"http://{ctx.host}:{ctx.port(self.spec.name)}/metrics")

    def url(self, ctx: NativeContext, rec: ProcRecord) -> str | None:
        return f"http://{ctx.host}:{ctx.port(self.spec.name)}"


class PostgresExporter(Exporter):
    kind = "postgres-exporter"
    binaries = ("prometheus-postgres-exporter",)
    packages = ("prometheus-postgres-exporter",)

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            self.binary("prometheus-postgres-exporter"),
            f"--web.listen-address={ctx.host}:{ctx.port(self.spec.name)}",
        ]

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        dsn = (
            f"postgresql://lab:{ctx.secret('pg_password')}@{ctx.host}:{ctx.port('postgres')}"
            "/shop?sslmode=disable"
        )
        return {"DATA_SOURCE_NAME": dsn}


class RedisExporter(Exporter):
    kind = "redis-exporter"
    binaries = ("prometheus-redis-exporter",)
    packages = ("prometheus-redis-exporter",)

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            self.binary("prometheus-redis-exporter"),
            "-redis.addr",
            f"redis://{ctx.host}:{ctx.port('redis')}",
            "-web.listen-address",
            f"{ctx.host}:{ctx.port(self.spec.name)}",
        ]

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        return {"REDIS_PASSWORD": ctx.secret("redis_password")}


class ProcStats(Exporter):
    """The lab's own exporter of CPU and memory per process it runs (native only)."""

    kind = "procstats"

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            ctx.python(),
            "-m",
            "lab.metrics.procstats",
            "--state-file",
            str(ctx.home / "state.json"),
            "--host",
            ctx.host,
            "--port",
            str(ctx.port(self.spec.name)),
        ]


class Prometheus(Launcher):
    kind = "prometheus"
    binaries = ("prometheus", "promtool")
    packages = ("prometheus",)
    port_key = "prometheus"

    def prepare(self, ctx: NativeContext) -> None:
        from lab.metrics.promconfig import render_native_config

        rules = ctx.settings.project_dir / "services" / "prometheus" / "rules.yml"
        text = render_native_config(
            scrape_interval_s=ctx.settings.scrape_interval_s,
            targets_dir=ctx.dir("prometheus", "targets"),
            rules_file=rules,
        )
        (ctx.dir("config") / "prometheus.yml").write_text(text, encoding="utf-8")

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            self.binary("prometheus"),
            f"--config.file={ctx.home / 'config' / 'prometheus.yml'}",
            f"--storage.tsdb.path={ctx.dir('data', 'prometheus')}",
            f"--web.listen-address={ctx.host}:{ctx.port('prometheus')}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=2d",
            "--log.level=warn",
        ]

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return _http_ok(f"http://{ctx.host}:{ctx.port('prometheus')}/-/ready")

    def url(self, ctx: NativeContext, rec: ProcRecord) -> str | None:
        return f"http://{ctx.host}:{ctx.port('prometheus')}"


LAUNCHERS: dict[str, type[Launcher]] = {
    cls.kind: cls
    for cls in (
        Postgres,
        Redis,
        Nats,
        Api,
        Worker,
        LoadBalancer,
        PostgresExporter,
        RedisExporter,
        ProcStats,
        Prometheus,
    )
}
# Kinds compose runs that have no native process: secrets are files natively; Grafana
# cannot be installed here; Locust is started by the load driver per scenario run.
NOT_NATIVE = {
    "secrets": "files under .lab/secrets",
    "grafana": "compose only",
    "loadgen": "started by `lab scenario` (lab.load.driver)",
    "loadgen-worker": "started by `lab scenario` (lab.load.driver)",
}
