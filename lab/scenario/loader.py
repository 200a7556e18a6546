"""Read a scenario file; turn every problem into ``ScenarioError`` with field and line.

    loaded = load_scenario(Path("scenarios/scale-out.yaml"), profile="quick")
    loaded.scenario        # a validated Scenario, profile applied
    loaded.as_run_yaml()   # what goes into the run folder as scenario.yaml

Nothing here starts anything: a file is valid (for every profile) or it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab import defaults
from lab.capacity.model import load_user_model
from lab.errors import ConfigError, ScenarioError
from lab.scenario.fields import Name
from lab.scenario.model import Profile, Scenario
from lab.scenario.step_model import STEP_KINDS

Loc = tuple[str | int, ...]
DEFAULT_PROFILE = "full"


@dataclass(frozen=True)
class LoadedScenario:
    path: Path
    profile: str
    scenario: Scenario

    @property
    def users_model(self) -> Path | None:
        """A capacity run's user model file (relative paths: to the scenario's file)."""
        spec = self.scenario.capacity
        return None if spec is None else self.path.parent / spec.users

    def as_run_yaml(self) -> str:
        """The scenario with variables and time scale applied, loadable again as is."""
        data = self.scenario.model_dump(mode="json")
        if self.users_model is not None:  # loadable from the run folder too
            data["capacity"]["users"] = str(self.users_model.resolve())
        applied = self.scenario.profiles[self.profile]
        data["profiles"] = {
            self.profile: {"description": applied.description, "time_scale": 1.0, "vars": {}}
        }
        header = f"# {self.path.name} as run with profile {self.profile!r}\n"
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class _Header(BaseModel):
    """The part of a file needed before the rest can be validated."""

    model_config = ConfigDict(extra="ignore")
    slo_seconds: float = Field(default=defaults.SLO_SECONDS, gt=0)
    vars: dict[Name, float] = Field(default_factory=dict)
    profiles: dict[Name, Profile] = Field(default_factory=lambda: {"full": Profile()})


def load_scenario(path: Path, profile: str | None = None) -> LoadedScenario:
    """Validate ``path`` for every profile (or only ``profile``) and return it with
    ``profile`` (default: ``full``, else the first) applied."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(where, [f"cannot read the file ({exc.strerror})"]) from None
    data, lines = parse_yaml(where, text)
    try:
        header = _Header.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(where, describe(exc, lines)) from None
    names = list(header.profiles)
    problems = [
        f"{_path(('profiles', p, 'vars', k))} (line {_line(lines, ('profiles', p, 'vars', k))}): "
        f"no variable {k!r} in vars (declared: {', '.join(header.vars) or 'none'})"
        for p, prof in header.profiles.items()
        for k in prof.vars
        if k not in header.vars
    ]
    if "slo" in header.vars:
        problems.append(f"vars.slo (line {_line(lines, ('vars', 'slo'))}): `slo` is reserved")
    if problems:
        raise ScenarioError(where, problems)
    if profile is not None and profile not in header.profiles:
        line = _line(lines, ("profiles",))
        raise ScenarioError(
            where, [f"profiles (line {line}): no profile {profile!r} (have: {', '.join(names)})"]
        )
    chosen = profile or (DEFAULT_PROFILE if DEFAULT_PROFILE in names else names[0])
    results: dict[str, Scenario] = {}
    errors: list[str] = []
    for name in [chosen] if profile else names:
        prof = header.profiles[name]
        context = {
            "vars": {**header.vars, **prof.vars, "slo": header.slo_seconds},
            "time_scale": prof.time_scale,
        }
        try:
            results[name] = Scenario.model_validate(data, context=context)
        except ValidationError as exc:
            tag = "" if len(names) == 1 else f" [profile {name}]"
            errors += [m + tag for m in describe(exc, lines) if m + tag not in errors]
    if errors:
        raise ScenarioError(where, _merge_profiles(errors, names))
    refs: list[str] = []
    for name, scenario in results.items():  # durations differ by profile: check each
        tag = "" if len(results) == 1 else f" [profile {name}]"
        refs += [
            f"{_path(p)} (line {_line(lines, p)}): {m}{tag}"
            for p, m in scenario.reference_problems()
        ]
    if refs:
        raise ScenarioError(where, _merge_profiles(list(dict.fromkeys(refs)), names))
    loaded = LoadedScenario(path=path, profile=chosen, scenario=results[chosen])
    if loaded.users_model is not None:
        try:
            load_user_model(loaded.users_model)
        except ConfigError as exc:
            line = _line(lines, ("capacity", "users"))
            raise ScenarioError(where, [f"capacity.users (line {line}): {exc}"]) from None
    return loaded


def parse_yaml(where: str, text: str) -> tuple[Any, dict[Loc, int]]:
    """The document and the line (1-based) of every mapping key and sequence item."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ScenarioError(where, [f"YAML syntax error at {line}: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(where, [f"YAML error: {exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(where, ["line 1: the file must be a mapping (name: ..., phases: ...)"])
    lines: dict[Loc, int] = {(): 1}
    duplicates: list[str] = []
    if root is not None:
        _walk(root, (), lines, duplicates)
    if duplicates:
        raise ScenarioError(where, duplicates)
    return data, lines


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], dupes: list[str]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*loc, key_node.value) if isinstance(key_node, yaml.ScalarNode) else loc
            if key in lines and key != loc:
                dupes.append(f"{_path(key)} (line {key_node.start_mark.line + 1}): duplicate key")
            lines[key] = key_node.start_mark.line + 1
            _walk(value_node, key, lines, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines, dupes)


def describe(exc: ValidationError, lines: Mapping[Loc, int]) -> list[str]:
    """One line per pydantic error: ``phases[1].steps[0].users (line 23): message``."""
    out: list[str] = []
    for error in exc.errors(include_url=False):
        loc = _clean(error["loc"])
        kind = error["type"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "union_tag_invalid":
            tag = error["input"].get("kind") if isinstance(error["input"], dict) else "?"
            message = f"unknown step kind {tag!r}; allowed kinds: {', '.join(STEP_KINDS)}"
            loc = (*loc, "kind")
        elif kind == "union_tag_not_found":
            message = f"a step needs `kind:`, one of: {', '.join(STEP_KINDS)}"
        elif kind not in ("missing", "extra_forbidden") and _scalar(error.get("input")):
            message += f" (got {error['input']!r})"
        line = f"{_path(loc)} (line {_line(lines, loc)}): {message}"
        if line not in out:
            out.append(line)
    return out


def _clean(loc: Sequence[str | int]) -> Loc:
    """Drop what pydantic adds to a location: step-kind tags and dict-key markers."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if part == "[key]":
            continue
        after_step = i >= 2 and isinstance(loc[i - 1], int) and loc[i - 2] == "steps"
        if after_step and part in STEP_KINDS:
            continue
        out.append(part)
    return tuple(out)


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line(lines: Mapping[Loc, int], loc: Loc) -> int:
    """The line of ``loc``, or of its closest parent written in the file."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) < 60


def _merge_profiles(errors: list[str], names: list[str]) -> list[str]:
    """An error found under every profile is reported once, without the profile tag."""
    if len(names) == 1:
        return errors
    merged: list[str] = []
    for message in errors:
        base = message.rsplit(" [profile ", 1)[0]
        if all(f"{base} [profile {n}]" in errors for n in names):
            if base not in merged:
                merged.append(base)
        else:
            merged.append(message)
    return merged
