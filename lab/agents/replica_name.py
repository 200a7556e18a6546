"""Entrypoint of the app image: name this replica after its container, then exec.

``python -m lab.agents.replica_name CMD...``. Natively a replica is told its name
(``LAB_REPLICA=api-2``); Compose cannot set a different variable per replica of one
service. Docker's DNS can say it, though: the reverse (PTR) record of a container's
address is ``<project>-<service>-<n>.<network>``. So when ``LAB_SERVICE`` is set and
``LAB_REPLICA`` is not, this asks 127.0.0.11 for it and sets ``LAB_REPLICA=<service>-<n>``.
Then ``X-Replica`` headers and logs name instances the same way under both runtimes.
If the lookup fails, the replica keeps its hostname (the container id), as documented in
docs/contracts.md.

The query is a plain DNS packet over UDP, not ``gethostbyaddr``: that one reads
``/etc/hosts`` first, where Docker maps the address to the container id.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import struct
import sys

DOCKER_DNS = ("127.0.0.11", 53)
PTR, IN = 12, 1


def ptr_query(address: str, query_id: int) -> bytes:
    name = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)  # recursion desired
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + labels + struct.pack("!HH", PTR, IN)


def _read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at ``offset``; returns it and the next offset."""
    parts: list[str] = []
    end: int | None = None
    for _ in range(64):  # bounded: a malicious pointer loop ends here
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            end = offset + 2 if end is None else end
            offset = struct.unpack("!H", packet[offset : offset + 2])[0] & 0x3FFF
            continue
        if length == 0:
            return ".".join(parts), (offset + 1 if end is None else end)
        parts.append(packet[offset + 1 : offset + 1 + length].decode(errors="replace"))
        offset += 1 + length
    raise ValueError("DNS name too long")


def parse_ptr_answer(packet: bytes, query_id: int) -> str | None:
    qid, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", packet[:12])
    if qid != query_id or flags & 0x000F or ancount == 0:
        return None
    offset = 12
    for _ in range(qdcount):
        _, offset = _read_name(packet, offset)
        offset += 4
    for _ in range(ancount):
        _, offset = _read_name(packet, offset)
        rtype, _, _, rdlength = struct.unpack("!HHIH", packet[offset : offset + 10])
        offset += 10
        if rtype == PTR:
            return _read_name(packet, offset)[0]
        offset += rdlength
    return None


def reverse_name(address: str, *, attempts: int = 5, timeout: float = 0.5) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for _ in range(attempts):
            query_id = secrets.randbelow(0xFFFF)
            try:
                sock.sendto(ptr_query(address, query_id), DOCKER_DNS)
                answer = parse_ptr_answer(sock.recv(4096), query_id)
            except (OSError, ValueError, struct.error, IndexError):
                continue
            if answer:
                return answer
    return None


def replica_name(service: str, ptr_name: str) -> str | None:
    """``prodlab-api-2.prodlab_default`` → ``api-2`` (for service ``api``)."""
    host = ptr_name.split(".", 1)[0]
    match = re.search(rf"(?:^|[-_]){re.escape(service)}[-_](\d+)$", host)
    return f"{service}-{match[1]}" if match else None


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m lab.agents.replica_name CMD [ARG...]", file=sys.stderr)
        return 2
    service = os.environ.get("LAB_SERVICE", "")
    if service and not os.environ.get("LAB_REPLICA"):
        try:
            address = socket.gethostbyname(socket.gethostname())
            ptr = reverse_name(address)
        except OSError:
            ptr = None
        name = replica_name(service, ptr) if ptr else None
        if name:
            os.environ["LAB_REPLICA"] = name
        else:
            print(f"replica: no DNS name for this {service} container; using the hostname")
    os.execvp(argv[0], argv)  # noqa: S606 (the image's command, by design)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
