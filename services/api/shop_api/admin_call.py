"""``python -m shop_api.admin_call METHOD PATH [JSON]``: call this container's admin endpoint.

Under Compose the admin endpoint listens on the container's own loopback, so the lab
runs this inside the container (``docker exec``). It reads the token and port from the
replica's own settings (``LAB_API_ADMIN_TOKEN_FILE``, ``LAB_API_ADMIN_PORT``) and prints
the status on the first line, then the body. Standard library only; exits 0 whenever it
got an answer (the lab judges the status), 2 when it could not ask.
"""

from __future__ import annotations

import http.client
import os
import sys

from shop_api.config import ApiSettings, ConfigError

TIMEOUT_S = 5.0


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m shop_api.admin_call METHOD PATH [JSON]", file=sys.stderr)
        return 2
    method, path = argv[0], argv[1]
    body = argv[2].encode() if len(argv) == 3 and argv[2] else None
    try:
        settings = ApiSettings.from_env(os.environ)
    except ConfigError as exc:
        print(f"admin_call: {exc}", file=sys.stderr)
        return 2
    conn = http.client.HTTPConnection("127.0.0.1", settings.api_admin_port, timeout=TIMEOUT_S)
    headers = {
        "Authorization": f"Bearer {settings.api_admin_token}",
        "Content-Type": "application/json",
    }
    try:
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        text = answer.read().decode("utf-8", "replace")
    except OSError as exc:
        print(f"admin_call: 127.0.0.1:{settings.api_admin_port}: {exc}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    print(answer.status)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
