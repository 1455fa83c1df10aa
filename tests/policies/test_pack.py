"""The CrossGuard pack: same rule objects as the offline runner, real pulumi-policy argument objects."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies import awstypes as t
from policies import engine
from policies.pack import build_policies
from policies.rules import ALL_RULES

from .helpers import DEFAULT_TAGS, UNKNOWN, allow, policy_doc

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"


def _opts(parent=None):
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def _provider(tags=DEFAULT_TAGS):
    props = unknown_checking_proxy({"region": "us-east-1", "defaultTags": json.dumps({"tags": tags})})
    return PolicyProviderResource("pulumi:providers:aws", props, "urn:pulumi:s::p::pulumi:providers:aws::aws", "aws")


def _validate(policy, type_, props, config=None, provider=None):
    reports = []
    args = ResourceValidationArgs(type_, unknown_checking_proxy(props), f"urn:pulumi:s::p::{type_}::r", "r",
                                  _opts(), provider or _provider(), config)
    policy.validate(args, lambda message, urn=None: reports.append(message))
    return reports


def _policy(name):
    return next(p for p in build_policies() if p.name == name)


def test_pack_and_offline_runner_use_the_same_rules():
    policies = build_policies()
    assert [p.name for p in policies] == [r.name for r in ALL_RULES]
    assert all(p.rule is r for p, r in zip(policies, ALL_RULES))
    assert engine.evaluate.__kwdefaults__["rules"] is ALL_RULES


def test_policies_carry_metadata_and_config_schemas():
    for policy in build_policies():
        rule = policy.rule
        assert isinstance(policy, ResourceValidationPolicy if rule.kind == "resource" else StackValidationPolicy)
        assert policy.description and policy.remediation_steps and policy.severity is not None
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)
        assert "suppressions" in policy.config_schema.properties
        assert set(rule.config) <= set(policy.config_schema.properties)
    levels = {p.rule.concern: p.enforcement_level for p in build_policies()}
    assert levels["iam"] == EnforcementLevel.MANDATORY and levels["security"] == EnforcementLevel.ADVISORY


def test_main_only_builds_the_pack():
    tree = ast.parse((PACK_DIR / "__main__.py").read_text())
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "PolicyPack" in calls and "build_policies" in calls
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert "runtime:" in (PACK_DIR / "PulumiPolicy.yaml").read_text()


def test_resource_policy_reports_through_report_violation():
    policy = _policy("iam-no-wildcard-actions")
    assert _validate(policy, t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))})
    assert _validate(policy, t.ROLE_POLICY, {"role": "r", "policy": UNKNOWN}) == []
    assert _validate(policy, t.LOG_GROUP, {"retentionInDays": 1.0}) == []  # other types are not looked at


def test_pack_uses_config_properties_and_suppressions():
    policy = _policy("cost-lambda-limits")
    props = {"role": "r", "memorySize": 2048.0}
    assert _validate(policy, t.LAMBDA_FUNCTION, props)
    assert _validate(policy, t.LAMBDA_FUNCTION, props, {"maxMemoryMb": 4096}) == []
    suppressed = {"suppressions": [{"resource": "r", "reason": "benchmark box", "expires": "2999-01-01"}]}
    assert _validate(policy, t.LAMBDA_FUNCTION, props, suppressed) == []
    expired = {"suppressions": [{"resource": "r", "reason": "benchmark box", "expires": "2000-01-01"}]}
    messages = _validate(policy, t.LAMBDA_FUNCTION, props, expired)
    assert messages and "no longer suppressed" in messages[0]


def test_pack_reads_provider_default_tags():
    policy = _policy("cost-required-tags")
    assert _validate(policy, t.LOG_GROUP, {"retentionInDays": 14.0}) == []
    assert _validate(policy, t.LOG_GROUP, {"retentionInDays": 14.0}, provider=_provider({})) != []


def test_stack_policy_gets_policy_resources():
    policy = _policy("cost-nat-gateway-count")
    vpc = PolicyResource("awsx:ec2:Vpc", unknown_checking_proxy({"natGateways": {"strategy": "OnePerAz"},
                                                                 "numberOfAvailabilityZones": 3.0}),
                         "urn:pulumi:s::p::awsx:ec2:Vpc::vpc", "vpc", _opts(), None, None, [], {})
    children = [PolicyResource(t.NAT_GATEWAY, unknown_checking_proxy({"subnetId": UNKNOWN}),
                               f"urn:pulumi:s::p::awsx:ec2:Vpc${t.NAT_GATEWAY}::nat{i}", f"nat{i}",
                               _opts(vpc.urn), None, vpc, [], {}) for i in range(3)]
    reports = []
    policy.validate(StackValidationArgs([vpc, *children], {"maxNatGateways": 1}),
                    lambda message, urn=None: reports.append(message))
    assert len(reports) == 1 and "3 NAT gateways" in reports[0]  # children and strategy are not double counted
    reports.clear()
    policy.validate(StackValidationArgs([vpc, *children], {"maxNatGateways": 3}),
                    lambda message, urn=None: reports.append(message))
    assert reports == []


def _stack_validate(policy, resources, config=None):
    reports = []
    policy.validate(StackValidationArgs(resources, config), lambda message, urn=None: reports.append(message))
    return reports


def _lambda_resource(name="worker"):
    return PolicyResource(t.LAMBDA_FUNCTION, unknown_checking_proxy({"role": "r", "memorySize": 256.0}),
                          f"urn:pulumi:s::p::{t.LAMBDA_FUNCTION}::{name}", name, _opts(), None, None, [], {})


def test_bad_config_entry_is_one_pack_finding_not_an_exception():
    policies = {p.name: p for p in build_policies()}  # one pack: the policies share what they saw
    lambda_limits, config_valid = policies["cost-lambda-limits"], policies["pack-config-valid"]
    impossible = {"suppressions": [{"resource": "r", "reason": "benchmark box", "expires": "2026-02-30"}]}
    props = {"role": "r", "memorySize": 4096.0}
    for _ in range(3):  # every validate call copes; the entry is validated once (cached)
        assert _validate(lambda_limits, t.LAMBDA_FUNCTION, props, impossible) == []
    reports = _stack_validate(config_valid, [_lambda_resource()])
    assert len(reports) == 1 and "'2026-02-30' is not a calendar date" in reports[0]
    assert "cost-lambda-limits is not evaluated until this is fixed" in reports[0]
    assert config_valid.enforcement_level == EnforcementLevel.MANDATORY
    # Fixed (or renamed) properties take effect on the next call and clear the finding.
    assert _validate(lambda_limits, t.LAMBDA_FUNCTION, props, {"maxMemoryMB": 8192}) == []
    assert "('maxMemoryMB' was unexpected)" in _stack_validate(config_valid, [_lambda_resource()])[0]
    assert _validate(lambda_limits, t.LAMBDA_FUNCTION, props, {"maxMemoryMb": 2048})
    assert _stack_validate(config_valid, [_lambda_resource()]) == []


def test_expired_suppression_matching_nothing_is_reported_by_the_pack():
    policies = {p.name: p for p in build_policies()}
    stale = {"suppressions": [{"resource": "retired-*", "reason": "migration batch", "expires": "2020-01-01"}]}
    assert _validate(policies["cost-lambda-limits"], t.LAMBDA_FUNCTION, {"role": "r", "memorySize": 256.0}, stale) == []
    reports = _stack_validate(policies["pack-suppression-expired"], [_lambda_resource()])
    assert len(reports) == 1 and "suppression 'retired-*'" in reports[0] and "matches no resource" in reports[0]
    assert policies["pack-suppression-expired"].enforcement_level == EnforcementLevel.ADVISORY
    # A stale suppression that still names a checked resource is reported by its own policy instead.
    assert _stack_validate(policies["pack-suppression-expired"], [_lambda_resource("retired-job")]) == []
