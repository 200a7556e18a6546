"""How the lab reads a replica's admin answer (both runtimes hand it to ``admin_answer``),
and what a CLI duration means."""

from __future__ import annotations

import pytest

from lab.cli.fault_app import parse_duration
from lab.errors import ConfigError
from lab.runtime.admin import AdminCallError, admin_answer


def test_a_2xx_answer_is_its_json_object() -> None:
    text = '{"replica": "api-1", "faults": []}'
    assert admin_answer("api-1", "GET", "/admin/faults", 200, text) == {
        "replica": "api-1",
        "faults": [],
    }


@pytest.mark.parametrize(
    ("status", "text", "reason"),
    [
        (
            401,
            '{"error": "unauthorized", "reason": "missing or wrong admin token"}',
            "wrong admin token",
        ),
        (422, '{"error": "invalid_request", "reason": "body.route: no route /x"}', "body.route"),
        (502, "Bad Gateway", "Bad Gateway"),
        (500, "", "HTTP 500"),
    ],
)
def test_an_error_answer_raises_with_its_reason(status: int, text: str, reason: str) -> None:
    with pytest.raises(AdminCallError) as raised:
        admin_answer("api-2", "POST", "/admin/faults", status, text)
    assert raised.value.message.startswith(f"api-2: POST /admin/faults answered {status}: ")
    assert reason in raised.value.message


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("2m", 120), ("500ms", 0.5), ("1h", 3600), ("45", 45)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "-5s", "5 days", "1e3"])
def test_a_bad_duration_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--for: cannot read"):
        parse_duration(text)
