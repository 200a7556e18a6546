"""Dashboards checked against Grafana's own schema types (grafana-foundation-sdk's models).

A dashboard's JSON is loaded into the SDK's typed ``Dashboard`` (panels decoded by their
plugin's options and field-config types, queries by their datasource's query type) and
written back. Whatever the schema does not know is lost on the way, so any difference
between the two is reported, as are panel types and queries no plugin claims, and values
outside a field's enumeration (``drawStyle: "zigzag"``), which the SDK keeps as given.
"""

from __future__ import annotations

import enum
import json
import typing
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog import runtime as cog_runtime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel

MODELS = "grafana_foundation_sdk.models."
plugins.register_default_plugins()  # panel and query types by id; idempotent


def problems(raw: dict[str, Any]) -> list[str]:
    """Where ``raw`` departs from Grafana's dashboard schema; empty when it fits."""
    try:
        model = Dashboard.from_json(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"not a Grafana dashboard: {type(exc).__name__}: {exc}"]
    found = []
    for panel in model.panels or []:
        if not isinstance(panel, Panel):
            continue  # a row: its own type, no plugin
        where = f"panel {panel.title!r}"
        if cog_runtime.panelcfg_config(panel.type_val) is None:
            found.append(f"{where}: no panel plugin {panel.type_val!r} in Grafana's schema")
        for target in panel.targets or []:
            if isinstance(target, cog_runtime.UnknownDataquery):
                found.append(f"{where}: a query of no known datasource type: {target.data}")
    found.extend(_outside_enums(model, ""))
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    found.extend(_differences(raw, again, ""))
    return found


def _outside_enums(obj: object, path: str) -> Iterator[str]:
    """Fields typed as an enumeration whose value is none of its members, recursively."""
    if isinstance(obj, list):
        for n, item in enumerate(obj):
            yield from _outside_enums(item, f"{path}[{n}]")
        return
    if not type(obj).__module__.startswith(MODELS):
        return
    hints = typing.get_type_hints(type(obj))
    for name, value in vars(obj).items():
        if value is None:
            continue
        enums = _enums_in(hints.get(name))
        if enums and not any(value in {m.value for m in e} for e in enums):
            allowed = sorted(str(m.value) for e in enums for m in e)
            yield f"{path}/{name}: {value!r} is none of {allowed}"
        yield from _outside_enums(value, f"{path}/{name}")


def _enums_in(hint: object) -> list[type[enum.Enum]]:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [hint]
    return [e for arg in typing.get_args(hint) for e in _enums_in(arg)]


def _differences(given: object, read: object, path: str) -> Iterator[str]:
    if isinstance(given, dict) and isinstance(read, dict):
        for key, value in given.items():
            if key not in read:
                yield f"{path}/{key}: not a field of Grafana's schema"
            else:
                yield from _differences(value, read[key], f"{path}/{key}")
    elif isinstance(given, list) and isinstance(read, list) and len(given) == len(read):
        for n, (one, other) in enumerate(zip(given, read, strict=True)):
            yield from _differences(one, other, f"{path}[{n}]")
    elif given != read:
        yield f"{path or '/'}: {json.dumps(given)} reads back as {json.dumps(read)}"
