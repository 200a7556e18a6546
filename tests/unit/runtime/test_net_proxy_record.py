"""Whether the running lab's links go through Toxiproxy is recorded at `up`, so a later
shell without the setting drives (or refuses to drive) network faults correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import LabStateError
from lab.lab import Lab
from lab.runtime import home
from lab.settings import Settings


def test_the_record_wins_over_the_settings_and_down_clears_it(tmp_path: Path) -> None:
    state = tmp_path / ".lab"
    assert home.recorded_net_proxy(state) is None
    home.write_marker(state, "native")
    home.write_net_proxy(state, False)
    with pytest.raises(LabStateError, match="directly"):
        Lab(Settings(home=state, net_proxy=True)).toxiproxy()
    home.write_net_proxy(state, True)
    assert home.recorded_net_proxy(state) is True
    home.clear_marker(state)
    assert home.recorded_net_proxy(state) is None


def test_with_no_record_the_settings_decide(tmp_path: Path) -> None:
    with pytest.raises(LabStateError, match="LAB_NET_PROXY=1"):
        Lab(Settings(home=tmp_path / ".lab", runtime="native")).toxiproxy()
