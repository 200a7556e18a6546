"""The lab's own services and their observers as local processes: API replicas, workers,
HAProxy, the exporters and Prometheus."""

from __future__ import annotations

from pathlib import Path

from lab import proc
from lab.process_groups import ProcRecord
from lab.runtime.admin import TOKEN_SECRET as ADMIN_TOKEN
from lab.runtime.home import targets_dir
from lab.runtime.native import haproxy
from lab.runtime.native.context import NativeContext
from lab.runtime.native.launcher import Launcher, http_ok, write_private


class Api(Launcher):
    kind = "api"
    per_instance_port = True
    admin_port = True

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [ctx.python(), "-m", "shop_api"]

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        return {
            **ctx.compose_environment(self.spec),
            **ctx.connection_env(),
            "LAB_REPLICA": rec.name,
            "LAB_API_HOST": ctx.host,
            "LAB_API_PORT": str(rec.port),
            "LAB_API_ADMIN_PORT": str(rec.admin_port),
            "LAB_API_ADMIN_TOKEN_FILE": str(ctx.secret_file(ADMIN_TOKEN)),
            "PYTHONPATH": ctx.pythonpath(),
        }

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return http_ok(f"http://{ctx.host}:{rec.port}/readyz")


class Worker(Launcher):
    kind = "worker"
    per_instance_port = True

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [ctx.python(), "-m", "shop_worker"]

    def env(self, ctx: NativeContext, rec: ProcRecord) -> dict[str, str]:
        return {
            **ctx.compose_environment(self.spec),
            **ctx.connection_env(),
            "LAB_REPLICA": rec.name,
            "LAB_WORKER_HOST": ctx.host,
            "LAB_WORKER_METRICS_PORT": str(rec.port),
            "PYTHONPATH": ctx.pythonpath(),
        }

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return http_ok(f"http://{ctx.host}:{rec.port}/healthz")


class LoadBalancer(Launcher):
    kind = "lb"
    binaries = ("haproxy",)
    packages = ("haproxy",)

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
        write_private(
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
        return http_ok(f"http://{ctx.host}:{ctx.port('lb_stats')}/metrics")

    def admin(self, ctx: NativeContext) -> haproxy.HAProxyAdmin:
        return haproxy.HAProxyAdmin(self.socket_path(ctx))


class Exporter(Launcher):
    """Exporters serve /metrics on their own port; only the command line differs."""

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return http_ok(f"http://{ctx.host}:{ctx.port(self.spec.name)}/metrics")


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


class ProcessExporter(Exporter):
    """The lab's own exporter of CPU and memory per process it runs (native only)."""

    kind = "process-exporter"

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            ctx.python(),
            "-m",
            "lab.agents.process_exporter",
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

    def prepare(self, ctx: NativeContext) -> None:
        from lab.metrics.promconfig import render_native_config

        rules = ctx.settings.project_dir / "services" / "prometheus" / "rules.yml"
        text = render_native_config(
            scrape_interval_s=ctx.settings.scrape_interval_s,
            targets_dir=targets_dir(ctx.home),
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
        return http_ok(f"http://{ctx.host}:{ctx.port('prometheus')}/-/ready")


class Supervisor(Launcher):
    """The native stand-in for Docker's restart policies (``lab.runtime.native.supervisor``):
    started last by ``lab up``, stopped first by ``lab down``. It reads the settings the
    lab was started with from a private file, so what it restarts gets the same knobs."""

    kind = "supervisor"

    def settings_path(self, ctx: NativeContext) -> Path:
        return ctx.dir("config") / "settings.json"

    def ready_path(self, ctx: NativeContext) -> Path:
        return ctx.dir("run") / "supervisor.ready"

    def prepare(self, ctx: NativeContext) -> None:
        write_private(self.settings_path(ctx), ctx.settings.model_dump_json())
        self.ready_path(ctx).unlink(missing_ok=True)

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            ctx.python(),
            "-m",
            "lab.runtime.native.supervisor",
            "--settings",
            str(self.settings_path(ctx)),
            "--ready-file",
            str(self.ready_path(ctx)),
        ]

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return rec.alive() and self.ready_path(ctx).exists()
