"""Huge, infinite and NaN numbers in any priced or capped property: findings or "not priced", never a
traceback, never a silent pass or a silent $0 (kinds H and J as far as pricing and caps go)."""

from __future__ import annotations

import math

import pytest

from policies import awstypes as t
from policies.config import settings
from policies.engine import InputError, evaluate
from policies.model import run_resource_rule, run_stack_rule
from policies.rules import ALL_RULES
from policies.model import Resource
from policies.pricing import estimate

from .helpers import TODAY, entry, export

HOSTILE = [10 ** 400, float("inf"), float("nan"), -1e308]

# (type, inputs with the placeholder X where a hostile number goes)
SUBJECTS = [
    (t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": "X", "writeCapacity": 5.0}),
    (t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 5.0, "globalSecondaryIndexes": [
        {"name": "g", "readCapacity": "X", "writeCapacity": 1.0}]}),
    (t.METRIC_ALARM, {"period": "X"}),
    (t.AWSX_VPC, {"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": "X"}),
    (t.ELASTICACHE_CLUSTER, {"nodeType": "cache.t4g.small", "numCacheNodes": "X"}),
    (t.ELASTICACHE_REPLICATION_GROUP, {"nodeType": "cache.t4g.small", "numNodeGroups": "X"}),
    (t.OPENSEARCH_DOMAIN, {"clusterConfig": {"instanceType": "t3.small.search", "instanceCount": "X"}}),
    (t.RDS_CLUSTER, {"engine": "aurora-postgresql", "serverlessv2ScalingConfiguration": {"minCapacity": "X"}}),
    (t.LAMBDA_PROVISIONED_CONCURRENCY, {"functionName": "f", "provisionedConcurrentExecutions": "X"}),
    (t.LAMBDA_FUNCTION, {"role": "r", "memorySize": "X", "timeout": 3.0}),
    (t.ECS_SERVICE, {"cluster": "c", "desiredCount": "X"}),
    (t.APPAUTOSCALING_TARGET, {"serviceNamespace": "dynamodb", "resourceId": "table/t",
                               "scalableDimension": "dynamodb:table:ReadCapacityUnits", "maxCapacity": "X"}),
    (t.LOG_GROUP, {"retentionInDays": "X"}),
    (t.BUDGET, {"budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": "X", "limitUnit": "USD"}),
]


def _rules_direct(resource):
    """(policy, message) of every finding of every rule run on one resource as a real preview would."""
    found = []
    for rule in ALL_RULES:
        if rule.types is not None and resource.type not in rule.types:
            continue
        if rule.kind == "resource":
            run = run_resource_rule(rule, resource, settings(rule, None).properties, (), TODAY)
        elif rule.kind == "stack":
            run = run_stack_rule(rule, [resource], settings(rule, None).properties, (), TODAY)
        else:
            continue
        found += [(rule.name, f.message) for f in run.findings]
    return found


def _fill(value, hostile):
    if value == "X":
        return hostile
    if isinstance(value, dict):
        return {k: _fill(v, hostile) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, hostile) for v in value]
    return value


@pytest.mark.parametrize("hostile", HOSTILE, ids=["400-digits", "inf", "nan", "-1e308"])
@pytest.mark.parametrize("type_, inputs", SUBJECTS, ids=[s[0].rsplit(":", 1)[-1] + str(i) for i, s in enumerate(SUBJECTS)])
def test_hostile_numbers_are_findings_or_unpriced(type_, inputs, hostile):
    props = _fill(inputs, hostile)
    est = estimate([Resource.of(type_, props, name="subject")])
    assert math.isfinite(est.total)
    assert all(math.isfinite(i.monthly_usd) and i.monthly_usd >= 0 for i in est.items)
    document = export([entry(type_, props, "subject", custom=not type_.startswith("awsx:"))])
    if isinstance(hostile, float) and not math.isfinite(hostile):
        # JSON (so a stack export) cannot hold NaN or Infinity: the runner refuses such a document
        # with a reason, while a real preview (protobuf doubles can) hands the value to the rules.
        with pytest.raises(InputError, match=r"^not a readable stack export: deployment\.resources\[\d+\]\.inputs\."):
            evaluate(document, today=TODAY)
        direct = _rules_direct(Resource.of(type_, props, name="subject"))
        flagged = {policy for policy, _ in direct}
        messages = [message for _, message in direct]
        unpriced = {i.urn.rsplit("::", 1)[-1] for i in est.skipped}
    else:  # through the whole runner as an export: a report, whatever the number
        report = evaluate(document, today=TODAY)
        assert math.isfinite(report.cost.total)
        flagged = {v.policy for v in report.violations if v.urn.endswith("::subject")}
        messages = [v.message for v in report.violations]
        unpriced = {s.urn.rsplit("::", 1)[-1] for s in report.cost.skipped}
    capped = {t.DYNAMODB_TABLE: "cost-dynamodb-capacity", t.LAMBDA_FUNCTION: "cost-lambda-limits",
              t.ECS_SERVICE: "cost-ecs-service-tasks", t.LAMBDA_PROVISIONED_CONCURRENCY:
              "cost-lambda-provisioned-concurrency", t.LOG_GROUP: "cost-log-retention"}.get(type_)
    if capped and hostile != -1e308:
        assert capped in flagged, report.violations  # never a silent pass under a cap
    if type_ == t.BUDGET:
        assert any("limitAmount" in message for message in messages)
    if type_ in (t.ELASTICACHE_CLUSTER, t.METRIC_ALARM, t.AWSX_VPC) and hostile != -1e308:
        assert "subject" in unpriced  # never counted as $0 or as an absurd amount
