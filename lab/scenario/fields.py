"""The typed fields of a scenario file: names, numbers and durations that may be written
as ``${var}`` (resolved, and durations scaled by the profile's ``time_scale``, while
validating), and the strict base every scenario model derives from."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
)

_VAR = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}$")
_DURATION = re.compile(r"^(?P<n>-?\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


def resolve(value: Any, info: ValidationInfo) -> Any:
    """``"${name}"`` → the variable's value (profile overrides applied)."""
    if not isinstance(value, str) or not (match := _VAR.match(value.strip())):
        return value
    variables: dict[str, float] = (info.context or {}).get("vars", {})
    name = match["name"]
    if name not in variables:
        declared = ", ".join(sorted(variables)) or "none"
        raise ValueError(f"unknown variable ${{{name}}} (declared: {declared})")
    return variables[name]


def _seconds(value: Any, info: ValidationInfo, *, scaled: bool) -> Any:
    value = resolve(value, info)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if not match:
            raise ValueError(f"not a duration: {value!r} (write 30, '30s', '2m', '500ms')")
        value = float(match["n"]) * _UNIT[match["unit"]]
    if scaled and isinstance(value, int | float) and not isinstance(value, bool):
        return value * float((info.context or {}).get("time_scale", 1.0))
    return value


def _duration(value: Any, info: ValidationInfo) -> Any:
    return _seconds(value, info, scaled=True)


def _timeout(value: Any, info: ValidationInfo) -> Any:
    return _seconds(value, info, scaled=False)


_NUM_INPUT = float | str
Count = Annotated[int, BeforeValidator(resolve, json_schema_input_type=int | str), Field(ge=0)]
Number = Annotated[float, BeforeValidator(resolve, json_schema_input_type=_NUM_INPUT)]
Positive = Annotated[
    float, BeforeValidator(resolve, json_schema_input_type=_NUM_INPUT), Field(gt=0)
]
Duration = Annotated[
    float,
    BeforeValidator(_duration, json_schema_input_type=_NUM_INPUT),
    Field(gt=0, description="seconds (or '30s', '2m'), scaled by the profile's time_scale"),
]
Timeout = Annotated[
    float,
    BeforeValidator(_timeout, json_schema_input_type=_NUM_INPUT),
    Field(gt=0, description="seconds (or '30s', '2m'); never scaled by a profile"),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# -- topology and profiles -----------------------------------------------------------------
