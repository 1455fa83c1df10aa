"""Run a stack rule on resources that refer to each other, directly and as a stack export.

Items are (type, inputs, name) or (type, inputs, name, {property: [names of resources it came from]}):
the names become URNs, as the engine's propertyDependencies carry them.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from policies.engine import evaluate
from policies.model import Resource
from policies.rules import RULES_BY_NAME

from .helpers import TODAY, call_stack, entry, export, urn


def _deps(item: Sequence[Any], types: Mapping[str, str]) -> dict[str, list[str]]:
    deps = item[3] if len(item) > 3 else {}
    return {prop: [urn(types[n], n) for n in names] for prop, names in deps.items()}


def direct(rule_name: str, items: Sequence[Sequence[Any]], config: Optional[Mapping[str, Any]] = None) -> list[str]:
    types = {i[2]: i[0] for i in items}
    resources = [Resource.of(i[0], i[1], name=i[2], deps=_deps(i, types)) for i in items]
    return call_stack(RULES_BY_NAME[rule_name], resources, config)


def exported(rule_name: str, items: Sequence[Sequence[Any]], config: Optional[Mapping[str, Any]] = None) -> list[str]:
    types = {i[2]: i[0] for i in items}
    entries = []
    for i in items:
        e = entry(i[0], i[1], i[2])
        deps = _deps(i, types)
        if deps:
            e["propertyDependencies"] = deps
            e["dependencies"] = sorted({u for v in deps.values() for u in v})
        entries.append(e)
    cfg = {rule_name: {"enforcementLevel": "mandatory", **(config or {})}}
    report = evaluate(export(entries), cfg, today=TODAY, rules=[RULES_BY_NAME[rule_name]])
    return [v.message for v in report.violations]


def both(rule_name: str, items: Sequence[Sequence[Any]], config: Optional[Mapping[str, Any]] = None) -> list[str]:
    """Messages of the direct call; the export run must report the same."""
    messages = direct(rule_name, items, config)
    assert sorted(exported(rule_name, items, config)) == sorted(messages)
    return messages
