"""Wrap ALL_RULES into pulumi-policy policies (what policies/__main__.py serves to the CLI).

Each policy keeps a reference to its Rule (`policy.rule`): the CrossGuard pack and the offline
runner evaluate the very same objects. Config arrives through `args.get_config()` (the policy's
properties from --policy-pack-config, already checked by the CLI against `config_schema`) and is
merged with the rule's defaults; suppressions and unknown values are handled by model.run_*.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Optional

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

from .config import config_schema
from .model import Resource, Rule, parse_suppressions, run_resource_rule, run_stack_rule
from .rules import ALL_RULES

PACK_NAME = "aiplatform-guard"

_LEVELS = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY,
           "disabled": EnforcementLevel.DISABLED}


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _settings(rule: Rule, configured: Optional[Mapping[str, Any]]) -> tuple[dict[str, Any], tuple]:
    props = dict(rule.defaults())
    props.update(configured or {})
    return props, parse_suppressions(props.get("suppressions"))


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
    return Resource(type_, urn, name=name, props=props,
                    provider_props=provider.props if provider is not None else None, parent=parent)


class RulePolicy(ResourceValidationPolicy):
    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        super().__init__(**_metadata(rule))

    def validate(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not self.rule.applies_to(args.resource_type):
            return
        props, suppressions = _settings(self.rule, args.get_config())
        view = _resource_view(args, args.resource_type, args.props, args.urn, args.name,
                              getattr(args.opts, "parent", None))
        run = run_resource_rule(self.rule, view, props, suppressions, _today())
        for finding in run.violations:
            report_violation(finding.message, None)


class StackRulePolicy(StackValidationPolicy):
    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        super().__init__(**_metadata(rule))

    def validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        props, suppressions = _settings(self.rule, args.get_config())
        views = [_resource_view(r, r.resource_type, r.props, r.urn, r.name,
                                r.parent.urn if r.parent is not None else None) for r in args.resources]
        run = run_stack_rule(self.rule, views, props, suppressions, _today())
        for finding in run.violations:
            report_violation(finding.message, finding.urn)


def build_policies() -> list:
    """One pulumi-policy policy per rule, in ALL_RULES order."""
    return [RulePolicy(r) if r.kind == "resource" else StackRulePolicy(r) for r in ALL_RULES]
