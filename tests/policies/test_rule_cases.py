"""Every rule against violating and compliant cases: direct calls and stack-export fixtures."""

from __future__ import annotations

import math

import pytest

from policies.config import ConfigError
from policies.engine import InputError, evaluate
from policies.model import Resource
from policies.rules import ALL_RULES, RULES_BY_NAME

from .cases import PACK_CASES, RESOURCE_CASES, STACK_CASES
from .helpers import DEFAULT_TAGS, TODAY, call, call_pack, call_stack, entry, export


def _ids(expected_at: int):
    return lambda case: f"{case[0]}-{'violates' if case[expected_at] else 'passes'}"


_id = _ids(3)


def _only(rule_name: str, config: dict) -> dict:
    return {rule_name: {"enforcementLevel": "mandatory", **config}}


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=_id)
def test_resource_rule_direct_call(case):
    name, type_, props, expected, config = case
    messages = call(RULES_BY_NAME[name], type_, props, config, provider_props={"defaultTags": {"tags": DEFAULT_TAGS}})
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


def _json_representable(value) -> bool:
    """Whether a stack export (JSON) can hold the value: JSON has no NaN or Infinity."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_json_representable(v) for v in value.values())
    if isinstance(value, list):
        return all(_json_representable(v) for v in value)
    return True


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=_id)
def test_resource_rule_on_stack_export(case):
    name, type_, props, expected, config = case
    rule = RULES_BY_NAME[name]
    doc = export([entry(type_, props, "subject")])
    if not _json_representable(props):  # only a real preview (protobuf doubles) can carry NaN/Infinity
        with pytest.raises(InputError, match=r"^not a readable stack export: deployment\.resources"):
            evaluate(doc, _only(name, config), today=TODAY, rules=[rule])
        return
    report = evaluate(doc, _only(name, config), today=TODAY, rules=[rule])
    found = [v for v in report.violations if v.policy == name]
    if expected is None:
        assert found == []
    else:
        assert found and any(expected in v.message for v in found), found
        assert all(v.type == type_ and v.urn.endswith("::subject") and v.enforcement == "mandatory" for v in found)


@pytest.mark.parametrize("case", STACK_CASES, ids=_ids(2))
def test_stack_rule_direct_call(case):
    name, items, expected, config = case
    resources = [Resource.of(type_, props, name=n) for type_, props, n in items]
    messages = call_stack(RULES_BY_NAME[name], resources, config)
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("case", STACK_CASES, ids=_ids(2))
def test_stack_rule_on_stack_export(case):
    name, items, expected, config = case
    entries = [entry(type_, props, n, custom=not type_.startswith("awsx:")) for type_, props, n in items]
    if not all(_json_representable(props) for _, props, _ in items):  # see the resource-rule test
        with pytest.raises(InputError, match=r"^not a readable stack export: deployment\.resources"):
            evaluate(export(entries), _only(name, config), today=TODAY, rules=[RULES_BY_NAME[name]])
        return
    report = evaluate(export(entries), _only(name, config), today=TODAY, rules=[RULES_BY_NAME[name]])
    messages = [v.message for v in report.violations]
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("case", PACK_CASES, ids=_id)
def test_pack_rule_direct_call(case):
    """As under `pulumi preview`: each policy validated its own config entry, the pack rule judges them."""
    name, items, config, expected = case
    resources = [Resource.of(type_, props, name=n) for type_, props, n in items]
    messages = call_pack(RULES_BY_NAME[name], resources, config)
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("case", PACK_CASES, ids=_id)
def test_pack_rule_on_stack_export(case):
    name, items, config, expected = case
    doc = export([entry(type_, props, n) for type_, props, n in items])
    config = {**config, name: "mandatory"}
    if name == "pack-config-valid" and expected is not None:
        with pytest.raises(ConfigError, match="config: ") as exc:  # offline: exit 2 with the same reason
            evaluate(doc, config, today=TODAY)
        assert expected in str(exc.value)
        return
    report = evaluate(doc, config, today=TODAY)
    found = [v for v in report.violations if v.policy == name]
    if expected is None:
        assert found == []
    else:
        assert found and any(expected in v.message for v in found), found
        assert all(v.urn == "" and v.enforcement == "mandatory" for v in found)


def test_every_rule_has_violating_and_compliant_cases():
    covered: dict[str, set] = {}
    for name, _, _, expected, _ in RESOURCE_CASES:
        covered.setdefault(name, set()).add(expected is None)
    for name, _, expected, _ in STACK_CASES:
        covered.setdefault(name, set()).add(expected is None)
    for name, _, _, expected in PACK_CASES:
        covered.setdefault(name, set()).add(expected is None)
    for rule in ALL_RULES:
        assert covered.get(rule.name) == {True, False}, f"{rule.name} needs violating and compliant cases"
