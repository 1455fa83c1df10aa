"""Huge, infinite and NaN numbers in any priced or capped property: findings or "not priced", never a
traceback, never a silent pass or a silent $0 (kinds H and J as far as pricing and caps go)."""

from __future__ import annotations

import math

import pytest

from policies import awstypes as t
from policies.engine import evaluate
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
    # Through the whole runner as an export: a report, whatever the number.
    report = evaluate(export([entry(type_, props, "subject", custom=not type_.startswith("awsx:"))]), today=TODAY)
    assert math.isfinite(report.cost.total)
    flagged = {v.policy for v in report.violations if v.urn.endswith("::subject")}
    unpriced = {s.urn.rsplit("::", 1)[-1] for s in report.cost.skipped}
    capped = {t.DYNAMODB_TABLE: "cost-dynamodb-capacity", t.LAMBDA_FUNCTION: "cost-lambda-limits",
              t.ECS_SERVICE: "cost-ecs-service-tasks", t.LAMBDA_PROVISIONED_CONCURRENCY:
              "cost-lambda-provisioned-concurrency", t.LOG_GROUP: "cost-log-retention"}.get(type_)
    if capped and hostile != -1e308:
        assert capped in flagged, report.violations  # never a silent pass under a cap
    if type_ == t.BUDGET:
        assert any("limitAmount" in v.message for v in report.violations)
    if type_ in (t.ELASTICACHE_CLUSTER, t.METRIC_ALARM, t.AWSX_VPC) and hostile != -1e308:
        assert "subject" in unpriced  # never counted as $0 or as an absurd amount
