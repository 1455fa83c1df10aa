"""Builders for stack-export fixtures and direct rule calls."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Mapping, Optional, Sequence

from policies.model import Resource, Rule, run_resource_rule, run_stack_rule

STACK, PROJECT = "test", "proj"
PROVIDER_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:aws::aws"
PROVIDER_REF = f"{PROVIDER_URN}::prov-id"
DEFAULT_TAGS = {"project": PROJECT, "environment": STACK}
TODAY = dt.date(2026, 6, 1)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def urn(type_: str, name: str, parent_type: Optional[str] = None) -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


def entry(type_: str, inputs: Mapping[str, Any], name: str = "r", *, custom: bool = True,
          parent: Optional[str] = None, parent_type: Optional[str] = None,
          provider: Optional[str] = PROVIDER_REF) -> dict:
    e: dict[str, Any] = {"urn": urn(type_, name, parent_type), "custom": custom, "type": type_,
                         "inputs": dict(inputs), "outputs": {}}
    if custom:
        e["id"] = f"{name}-id"
        if provider:
            e["provider"] = provider
    if parent:
        e["parent"] = parent
    return e


def provider_entry(default_tags: Optional[Mapping[str, str]] = None, *, as_json: bool = True,
                   name: str = "aws") -> dict:
    inputs: dict[str, Any] = {"region": "us-east-1"}
    if default_tags is not None:
        value = {"tags": dict(default_tags)}
        inputs["defaultTags"] = json.dumps(value) if as_json else value
    return {"urn": f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:aws::{name}", "custom": True,
            "type": "pulumi:providers:aws", "id": "prov-id", "inputs": inputs, "outputs": {}}


def export(entries: Iterable[Mapping[str, Any]], *, default_tags: Optional[Mapping[str, str]] = DEFAULT_TAGS) -> dict:
    resources = [{"urn": urn("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}"), "custom": False,
                  "type": "pulumi:pulumi:Stack"}, provider_entry(default_tags)]
    resources.extend(entries)
    return {"version": 3, "deployment": {
        "manifest": {"time": "2026-06-01T00:00:00Z", "magic": "test", "version": "v3.272.0"},
        "resources": resources}}


def call(rule: Rule, type_: str, props: Mapping[str, Any], config: Optional[Mapping[str, Any]] = None,
         provider_props: Optional[Mapping[str, Any]] = None, name: str = "r") -> list[str]:
    """Violation messages of a resource rule called directly (as the pack calls it)."""
    cfg = {**rule.defaults(), **(config or {})}
    run = run_resource_rule(rule, Resource.of(type_, props, name=name, provider_props=provider_props,
                                              stack=STACK, project=PROJECT), cfg, (), TODAY)
    return [f.message for f in run.violations]


def call_stack(rule: Rule, resources: Sequence[Resource], config: Optional[Mapping[str, Any]] = None) -> list[str]:
    cfg = {**rule.defaults(), **(config or {})}
    run = run_stack_rule(rule, resources, cfg, (), TODAY)
    return [f.message for f in run.violations]


def call_pack(rule: Rule, resources: Sequence[Resource], config: Mapping[str, Any]) -> list[str]:
    """Violation messages of a pack rule after every policy saw its entry of `config`, as in the pack."""
    from policies.pack import PackConfig
    from policies.rules import ALL_RULES

    pack_config = PackConfig()
    for r in ALL_RULES:
        entry_ = config.get(r.name)
        pack_config.settings(r, {k: v for k, v in entry_.items() if k != "enforcementLevel"}
                             if isinstance(entry_, Mapping) else None)
    cfg = {**rule.defaults()}
    run = run_stack_rule(rule, resources, cfg, (), TODAY, pack_config.state(TODAY))
    return [f.message for f in run.violations]


def policy_doc(*statements: Mapping[str, Any], as_json: bool = True) -> Any:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return json.dumps(doc) if as_json else doc


def allow(actions: Any, resources: Any = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
