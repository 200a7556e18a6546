"""Reading a generated secret: what is refused before Docker is asked anything.

Reading one for real (``docker cp`` from the project's containers) is
tests/compose/test_lab_open_compose.py's job.
"""

from __future__ import annotations

import pytest
from python_on_whales import DockerClient

from lab.errors import ConfigError, LabStateError
from lab.runtime.compose.runtime import ComposeRuntime
from lab.runtime.compose.secrets import read_secret


@pytest.mark.parametrize("name", ["../../etc/shadow", "grafana_password/..", "", "Grafana"])
def test_only_plain_secret_names_are_read(name: str) -> None:
    with pytest.raises(ConfigError, match="is not a secret's name"):
        read_secret(DockerClient(), [], name)


def test_no_container_with_the_secrets_volume_says_how_to_get_one() -> None:
    with pytest.raises(LabStateError, match="mounts its secrets volume") as raised:
        read_secret(DockerClient(), [], "grafana_password")
    assert raised.value.hint is not None and "lab up --runtime compose" in raised.value.hint


def test_the_compose_runtime_is_a_secret_reader() -> None:
    from lab.annotations import SecretReader

    assert issubclass(ComposeRuntime, SecretReader)
