"""The data stores as local processes: PostgreSQL, Redis, NATS with JetStream."""

from __future__ import annotations

import signal

from lab import proc
from lab.errors import ConfigError
from lab.process_groups import ProcRecord
from lab.runtime.native.context import NativeContext
from lab.runtime.native.launcher import Launcher, http_ok, write_private


class Postgres(Launcher):
    kind = "postgres"
    binaries = ("postgres", "initdb", "pg_isready", "psql")
    packages = ("postgresql",)
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, checkpoint

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
        write_private(pwfile, ctx.secret("pg_password") + "\n")
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
            "max_connections=300",
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

    def prepare(self, ctx: NativeContext) -> None:
        data = ctx.dir("data", "redis")
        write_private(
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

    def prepare(self, ctx: NativeContext) -> None:
        store = ctx.dir("data", "nats")
        write_private(
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
        return http_ok(f"http://{ctx.host}:{ctx.port('nats_http')}/healthz?js-enabled-only=true")
