"""Wrap ALL_RULES into pulumi-policy policies (what policies/__main__.py serves to the CLI).

Each policy keeps a reference to its Rule (`policy.rule`): the CrossGuard pack and the offline
runner evaluate the very same objects. Config arrives through `args.get_config()` (the policy's
properties from --policy-pack-config). The CLI only checks the declared properties' types, so each
policy validates its own entry as the offline runner does (unknown properties, regular
expressions, calendar dates; cached per distinct config); a policy whose entry is unusable is not
evaluated and `pack-config-valid` reports why, instead of every validate call failing. The pack
rules read what the policies recorded here. Suppressions and unknown values are handled by
model.run_*.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, Mapping, Optional, Union

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as PolicySeverity

from .config import ConfigError, check_properties, config_schema
from .model import PackState, Resource, Rule, Suppression, parse_suppressions, run_resource_rule, run_stack_rule
from .rules import ALL_RULES

PACK_NAME = "aiplatform-guard"

_LEVELS = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY,
           "disabled": EnforcementLevel.DISABLED}


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


Settings = tuple[dict[str, Any], tuple[Suppression, ...]]


@functools.lru_cache(maxsize=256)
def _validated(rule: Rule, configured: str) -> Union[Settings, str]:
    """A policy's merged properties and suppressions, or why its config entry cannot be used."""
    props_in = json.loads(configured)
    try:
        check_properties(rule, props_in, f"policy pack config: {rule.name!r}")
    except ConfigError as exc:
        return str(exc)
    props = dict(rule.defaults())
    props.update(props_in)
    return props, parse_suppressions(props.get("suppressions"))


class PackConfig:
    """Every policy's config as the CLI handed it over, shared by the policies of one pack."""

    def __init__(self) -> None:
        self.suppressions: dict[str, tuple[Rule, tuple[Suppression, ...]]] = {}
        self.errors: dict[str, str] = {}

    def settings(self, rule: Rule, configured: Optional[Mapping[str, Any]]) -> Optional[Settings]:
        """Validated settings (recorded for the pack rules), or None when the entry is unusable."""
        result = _validated(rule, json.dumps(dict(configured or {}), sort_keys=True, default=str))
        if isinstance(result, str):
            self.errors[rule.name] = result
            self.suppressions.pop(rule.name, None)
            return None
        self.errors.pop(rule.name, None)
        self.suppressions[rule.name] = (rule, result[1])
        return result

    def state(self, today: dt.date) -> PackState:
        return PackState(tuple(self.suppressions.values()), dict(self.errors), today)


def _metadata(rule: Rule) -> dict[str, Any]:
    schema = config_schema(rule)
    return dict(
        name=rule.name,
        description=rule.description,
        enforcement_level=_LEVELS[rule.enforcement.value],
        config_schema=PolicyConfigSchema(properties=schema["properties"]),
        severity=PolicySeverity(rule.severity.value),
        remediation_steps=rule.remediation,
        tags=[rule.concern],
    )


def _resource_view(args: Any, type_: str, props: Mapping[str, Any], urn: str, name: str,
                   parent: Optional[str]) -> Resource:
    provider = getattr(args, "provider", None)
    deps = getattr(args, "property_dependencies", None) or {}
    return Resource(type_, urn, name=name, props=props,
                    provider_props=provider.props if provider is not None else None, parent=parent,
                    deps={k: [d.urn for d in v] for k, v in deps.items()})


class RulePolicy(ResourceValidationPolicy):
    def __init__(self, rule: Rule, pack_config: PackConfig) -> None:
        self.rule = rule
        self.pack_config = pack_config
        super().__init__(**_metadata(rule))

    def validate(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        settings = self.pack_config.settings(self.rule, args.get_config())
        if settings is None or not self.rule.applies_to(args.resource_type):
            return
        props, suppressions = settings
        view = _resource_view(args, args.resource_type, args.props, args.urn, args.name,
                              getattr(args.opts, "parent", None))
        run = run_resource_rule(self.rule, view, props, suppressions, _today())
        for finding in run.violations:
            report_violation(finding.message, None)


class StackRulePolicy(StackValidationPolicy):
    def __init__(self, rule: Rule, pack_config: PackConfig) -> None:
        self.rule = rule
        self.pack_config = pack_config
        super().__init__(**_metadata(rule))

    def validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        settings = self.pack_config.settings(self.rule, args.get_config())
        if settings is None:
            if self.rule.kind != "pack":
                return
            # A pack rule still runs on its defaults: pack-config-valid reports its own bad entry too.
            settings = (dict(self.rule.defaults()), ())
        props, suppressions = settings
        views = [_resource_view(r, r.resource_type, r.props, r.urn, r.name,
                                r.parent.urn if r.parent is not None else None) for r in args.resources]
        today = _today()
        run = run_stack_rule(self.rule, views, props, suppressions, today, self.pack_config.state(today))
        for finding in run.violations:
            report_violation(finding.message, finding.urn)


def build_policies() -> list:
    """One pulumi-policy policy per rule, in ALL_RULES order (pack rules last), sharing one PackConfig."""
    pack_config = PackConfig()
    return [RulePolicy(r, pack_config) if r.kind == "resource" else StackRulePolicy(r, pack_config)
            for r in ALL_RULES]
