"""The lab's Toxiproxy (lab.agents.netproxy) as a local process, and its proxies.

Once it answers, the runtime creates one proxy per dependency link (``NET_LINKS``) through
Toxiproxy's API, with the same client ``lab fault`` uses; the API and workers connect to
the proxies' ports when ``settings.net_proxy`` is on (``NativeContext.connection_env``).
"""

from __future__ import annotations

from lab.defaults import NET_LINKS
from lab.faults.toxiproxy import ToxiproxyClient
from lab.process_groups import ProcRecord
from lab.runtime.native.context import NativeContext, link_key
from lab.runtime.native.launcher import Launcher, http_ok


class NetProxy(Launcher):
    kind = "toxiproxy"

    def url(self, ctx: NativeContext) -> str:
        return f"http://{ctx.host}:{ctx.port(self.spec.name)}"

    def command(self, ctx: NativeContext, rec: ProcRecord) -> list[str]:
        return [
            ctx.python(),
            "-m",
            "lab.agents.netproxy",
            "--host",
            ctx.host,
            "--port",
            str(ctx.port(self.spec.name)),
        ]

    def ready(self, ctx: NativeContext, rec: ProcRecord) -> bool:
        return http_ok(f"{self.url(ctx)}/version")

    def after_ready(self, ctx: NativeContext, rec: ProcRecord) -> None:
        with ToxiproxyClient(self.url(ctx)) as client:
            client.populate(
                [
                    {
                        "name": link,
                        "listen": f"{ctx.host}:{ctx.port(link_key(link))}",
                        "upstream": f"{ctx.host}:{ctx.port(link)}",
                    }
                    for link in NET_LINKS
                ]
            )
