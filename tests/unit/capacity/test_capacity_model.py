"""The user model file: the shipped one loads, a bad field is named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.capacity.model import load_user_model
from lab.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[3]
SHIPPED = PROJECT / "scenarios" / "capacity" / "users.yaml"


def test_the_shipped_user_model_loads() -> None:
    model = load_user_model(SHIPPED)
    assert model.users == [1_000, 10_000, 100_000, 1_000_000, 10_000_000]
    assert model.mix.browse == pytest.approx(0.7)


def test_a_bad_field_is_named_with_its_line(tmp_path: Path) -> None:
    text = SHIPPED.read_text().replace("peak_to_average: 3", "peak_to_average: 0.5")
    path = tmp_path / "users.yaml"
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("peak_to_average"))
    with pytest.raises(ConfigError, match=rf"peak_to_average \(line {line}\): .*greater than or"):
        load_user_model(path)


def test_an_unknown_field_and_a_mix_that_does_not_sum_are_refused(tmp_path: Path) -> None:
    text = SHIPPED.read_text().replace("browse: 0.7", "browse: 0.6") + "dau: 5\n"
    path = tmp_path / "users.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_user_model(path)
    assert "mix (line" in str(caught.value)
    assert "sum to 1" in str(caught.value)
    assert "dau (line" in str(caught.value)
