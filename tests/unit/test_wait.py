"""Port picking: a port chosen now and bound later must not be one the kernel hands out."""

from __future__ import annotations

import socket

import pytest

from lab.wait import _ephemeral_low, reserved_port


def test_reserved_ports_lie_below_the_kernels_ephemeral_range_and_are_free() -> None:
    low = _ephemeral_low()
    for _ in range(20):
        port = reserved_port()
        assert 10_000 <= port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free: binding it works


def test_a_port_already_handed_out_is_not_handed_out_again() -> None:
    taken: list[int] = []
    for _ in range(300):
        taken.append(reserved_port(taken=taken))
    assert len(set(taken)) == len(taken)


def test_a_bound_port_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", reserved_port()))
        busy.listen()
        held = busy.getsockname()[1]
        draws = iter([held, held, held + 1 if held + 1 < _ephemeral_low() else held - 1])
        monkeypatch.setattr("lab.wait.random.randint", lambda a, b: next(draws))
        assert reserved_port() != held
