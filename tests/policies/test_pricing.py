"""Fixed monthly cost estimate and NAT gateway counting."""

from __future__ import annotations

import re

import pytest

from policies import awstypes as t
from policies.engine import evaluate
from policies.model import Resource
from policies.pricing import NotPriced, estimate, nat_gateway_count, price_table
from policies.rules import RULES_BY_NAME

from .helpers import TODAY, UNKNOWN, entry, export, urn

PRICES = {k: v["usd"] for k, v in price_table()["items"].items()}
VPC_URN = urn(t.AWSX_VPC, "vpc")


def _items(resources):
    return {(i.urn.rsplit("::", 1)[-1], i.item): round(i.monthly_usd, 4) for i in estimate(resources).items}


def test_line_items_per_priced_type():
    resources = [
        Resource.of(t.NAT_GATEWAY, {"subnetId": "s"}, name="nat"),
        Resource.of(t.EIP, {"domain": "vpc"}, name="eip"),
        Resource.of(t.VPC_ENDPOINT, {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]}, name="ecr-api"),
        Resource.of(t.VPC_ENDPOINT, {"vpcEndpointType": "Gateway"}, name="s3"),
        Resource.of(t.LB, {"loadBalancerType": "application"}, name="alb"),
        Resource.of(t.KMS_KEY, {}, name="key"),
        Resource.of(t.KMS_EXTERNAL_KEY, {}, name="external-key"),
        Resource.of(t.SECRET, {"replicas": [{"region": "ap-northeast-1"}]}, name="secret"),
        Resource.of(t.METRIC_ALARM, {"period": 60.0}, name="alarm"),
        Resource.of(t.METRIC_ALARM, {"period": 10.0}, name="fast"),
        Resource.of(t.DASHBOARD, {}, name="dash"),
        Resource.of(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 10.0, "writeCapacity": 5.0},
                    name="table"),
        Resource.of(t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST"}, name="ondemand"),
        Resource.of(t.LOG_GROUP, {"retentionInDays": 14.0}, name="logs"),
    ]
    items = _items(resources)
    assert items[("nat", "natGatewayHour")] == round(PRICES["natGatewayHour"] * 730, 4)
    assert items[("eip", "publicIpv4Hour")] == round(0.005 * 730, 4)
    assert items[("ecr-api", "interfaceEndpointAzHour")] == round(2 * 0.01 * 730, 4)
    assert items[("alb", "applicationLoadBalancerHour")] == round(0.0225 * 730, 4)
    assert items[("key", "kmsKeyMonth")] == 1.0 and items[("external-key", "kmsKeyMonth")] == 1.0
    assert items[("secret", "secretMonth")] == 0.8
    assert items[("alarm", "standardAlarmMonth")] == 0.1 and items[("fast", "highResolutionAlarmMonth")] == 0.3
    assert items[("dash", "dashboardMonth")] == 3.0
    assert items[("table", "dynamodbRcuHour")] == round(10 * 0.00013 * 730, 4)
    assert not any(name in ("s3", "ondemand", "logs") for name, _ in items)


def test_awsx_vpc_nat_strategy_and_defaults():
    def count(props):
        return nat_gateway_count([Resource.of(t.AWSX_VPC, props, name="vpc")])[0]
    assert count({"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": 2.0}) == 2
    assert count({"natGateways": {"strategy": "Single"}}) == 1
    assert count({"natGateways": {"strategy": "None"}}) == 0
    assert count({}) == 3  # awsx defaults: public + private subnets in 3 AZs, one NAT gateway per AZ
    assert count({"subnetSpecs": [{"type": "Private"}, {"type": "Isolated"}]}) == 0
    assert count({"natGateways": {"strategy": UNKNOWN}}) == 0
    assert count({"natGateways": ["nat-1", "nat-2"], "vpcId": "vpc-1"}) == 2  # outputs, as AnalyzeStack sees them


def test_awsx_children_are_not_double_counted():
    vpc = Resource(t.AWSX_VPC, VPC_URN, raw={"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": 2.0})
    children = [Resource(t.NAT_GATEWAY, urn(t.NAT_GATEWAY, f"nat{i}", t.AWSX_VPC), raw={}, parent=VPC_URN)
                for i in range(2)]
    eips = [Resource(t.EIP, urn(t.EIP, f"eip{i}", t.AWSX_VPC), raw={}, parent=VPC_URN) for i in range(2)]
    assert nat_gateway_count([vpc, *children])[0] == 2
    est = estimate([vpc, *children, *eips])
    assert sum(i.quantity for i in est.items if i.item == "natGatewayHour") == 2
    assert sum(i.quantity for i in est.items if i.item == "publicIpv4Hour") == 2  # the child EIPs only
    offline = estimate([vpc])  # mocks register no children: the Vpc's own EIPs are estimated
    assert sum(i.quantity for i in offline.items if i.item == "publicIpv4Hour") == 2


def test_awsx_interface_endpoints_are_priced_per_az():
    vpc = Resource.of(t.AWSX_VPC, {"natGateways": {"strategy": "None"}, "numberOfAvailabilityZones": 2.0,
                                   "vpcEndpointSpecs": [{"serviceName": "com.amazonaws.us-east-1.ecr.api",
                                                         "vpcEndpointType": "Interface"},
                                                        {"serviceName": "com.amazonaws.us-east-1.s3"}]}, name="vpc")
    assert _items([vpc]) == {("vpc", "interfaceEndpointAzHour"): round(2 * 0.01 * 730, 4)}


def test_unknown_values_are_listed_as_not_priced():
    est = estimate([Resource.of(t.VPC_ENDPOINT, {"vpcEndpointType": UNKNOWN}, name="ep")])
    assert est.items == [] and est.skipped == [NotPriced(urn(t.VPC_ENDPOINT, "ep"), "values unknown during preview")]


@pytest.mark.parametrize("type_, props", [
    (t.SECRET, {"replicas": 5.0}),
    (t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 1.0, "writeCapacity": 1.0,
                        "globalSecondaryIndexes": [1.0]}),
    (t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 1.0, "replicas": "us-west-2"}),
    (t.VPC_ENDPOINT, {"vpcEndpointType": "Interface", "subnetIds": 5.0}),
    (t.METRIC_ALARM, {"period": 60.0, "metricQueries": 7.0}),
    (t.AWSX_VPC, {"availabilityZoneNames": 5.0}),
    (t.AWSX_VPC, {"subnetSpecs": [1.0]}),
    (t.AWSX_VPC, {"natGateways": {"strategy": "None"}, "vpcEndpointSpecs": [{"vpcEndpointType": "Interface",
                                                                             "subnetIds": "subnet-1"}]}),
])
def test_wrong_typed_values_are_listed_as_not_priced(type_, props):
    bad = Resource.of(type_, props, name="bad")
    est = estimate([bad, Resource.of(t.KMS_KEY, {}, name="key")])
    assert [(i.urn.rsplit("::", 1)[-1], i.item) for i in est.items] == [("key", "kmsKeyMonth")]
    assert [s.urn for s in est.skipped] == [bad.urn]
    assert est.skipped[0].reason.startswith("unexpected value (")
    assert est.to_dict()["skipped"] == [{"urn": bad.urn, "reason": est.skipped[0].reason}]


def test_wrong_typed_values_in_an_export_are_reported_not_crashed():
    doc = export([entry(t.SECRET, {"replicas": 5.0}, "secret"), entry(t.METRIC_ALARM, {"metricQueries": 7.0}, "alarm"),
                  entry(t.AWSX_VPC, {"availabilityZoneNames": 5.0}, "vpc", custom=False)])
    report = evaluate(doc, today=TODAY)
    assert {s.urn.rsplit("::", 1)[-1] for s in report.cost.skipped} == {"secret", "alarm", "vpc"}
    nat = [v.message for v in report.violations if v.policy == "cost-nat-gateway-count"]
    assert nat and "could not evaluate" in nat[0]  # the stack rule names the unusable Vpc rather than guessing


@pytest.mark.parametrize("share, violates", [(0.5, True), (0.8, False)])
def test_estimate_against_budget_share(share, violates):
    budget = {"budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": "60", "limitUnit": "USD"}
    doc = export([entry(t.BUDGET, budget, "b"), entry(t.NAT_GATEWAY, {"subnetId": "s"}, "nat")])
    rule = RULES_BY_NAME["cost-fixed-monthly-estimate"]
    report = evaluate(doc, {rule.name: {"maxShareOfBudget": share}}, today=TODAY, rules=[rule])
    assert bool(report.violations) == violates
    assert report.cost.total == round(0.045 * 730, 2)


# ---------------------------------------------------------------------------------------------
# Instances, replicas, provisioned concurrency; values that are no sane quantity

INSTANCES = price_table()["instances"]


@pytest.mark.parametrize("type_, props, item, count", [
    (t.EC2_INSTANCE, {"instanceType": "m5.large"}, "ec2:m5.large", 1),
    (t.RDS_INSTANCE, {"engine": "postgres", "instanceClass": "db.t4g.micro"}, "rds:db.t4g.micro", 1),
    (t.RDS_INSTANCE, {"engine": "mysql", "instanceClass": "db.r6g.large", "multiAz": True}, "rds:db.r6g.large", 2),
    (t.RDS_CLUSTER_INSTANCE, {"engine": "aurora-postgresql", "instanceClass": "db.r6g.large"},
     "aurora:db.r6g.large", 1),
    (t.ELASTICACHE_CLUSTER, {"engine": "redis", "nodeType": "cache.t4g.small", "numCacheNodes": 1.0},
     "elasticache:cache.t4g.small", 1),
    (t.ELASTICACHE_REPLICATION_GROUP, {"nodeType": "cache.r6g.large", "numNodeGroups": 2.0,
                                       "replicasPerNodeGroup": 2.0}, "elasticache:cache.r6g.large", 6),
    (t.OPENSEARCH_DOMAIN, {"clusterConfig": {"instanceType": "r6g.large.search", "instanceCount": 3.0}},
     "opensearch:r6g.large.search", 3),
])
def test_instances_are_priced_from_the_dated_table(type_, props, item, count):
    est = estimate([Resource.of(type_, props, name="db")])
    family, _, klass = item.partition(":")
    hourly = INSTANCES[family]["usdPerHour"][klass]
    assert [(i.item, i.quantity, round(i.monthly_usd, 4)) for i in est.items] == [(item, count, round(count * hourly * 730, 4))]
    assert est.skipped == []


def test_opensearch_dedicated_masters_and_aurora_serverless_minimum():
    domain = Resource.of(t.OPENSEARCH_DOMAIN, {"clusterConfig": {
        "instanceType": "m6g.large.search", "instanceCount": 2.0, "dedicatedMasterEnabled": True,
        "dedicatedMasterType": "m6g.large.search", "dedicatedMasterCount": 3.0}}, name="search")
    cluster = Resource.of(t.RDS_CLUSTER, {"engine": "aurora-postgresql", "serverlessv2ScalingConfiguration": {
        "minCapacity": 2.0, "maxCapacity": 16.0}}, name="aurora")
    items = _items([domain, cluster])
    assert items[("search", "opensearch:m6g.large.search")] == round(3 * 0.128 * 730, 4)  # the masters' line
    assert items[("aurora", "auroraServerlessV2AcuHour")] == round(2 * 0.12 * 730, 4)


@pytest.mark.parametrize("type_, props, reason", [
    (t.EC2_INSTANCE, {"instanceType": "x9z.mega"}, "ec2 instance class 'x9z.mega' is not in the price table"),
    (t.RDS_INSTANCE, {"engine": "sqlserver-ee", "instanceClass": "db.m5.large"}, "engine 'sqlserver-ee' is not priced"),
    (t.OPENSEARCH_DOMAIN, {"clusterConfig": {"instanceCount": 2.0}}, "opensearch instance class None"),
    (t.ELASTICACHE_CLUSTER, {"nodeType": "cache.t4g.small", "numCacheNodes": 10 ** 400}, "is too large to price"),
    (t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 10 ** 400}, "is too large to price"),
    (t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": float("inf")}, "not a finite quantity"),
    (t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "writeCapacity": float("nan")}, "not a finite quantity"),
    (t.AWSX_VPC, {"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": float("inf")},
     "not a finite quantity"),
])
def test_unpriceable_values_are_listed_never_zero_and_never_crash(type_, props, reason):
    bad = Resource.of(type_, props, name="bad")
    est = estimate([bad, Resource.of(t.KMS_KEY, {}, name="key")])
    assert [(i.urn.rsplit("::", 1)[-1], i.item) for i in est.items] == [("key", "kmsKeyMonth")]
    assert [s.urn for s in est.skipped] == [bad.urn] and reason in est.skipped[0].reason, est.skipped


def test_huge_values_in_an_export_are_reported_not_crashed():
    budget = {"budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": "60", "limitUnit": "USD"}
    doc = export([entry(t.BUDGET, budget, "b"),
                  entry(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 10 ** 400}, "huge"),
                  entry(t.AWSX_VPC, {"numberOfAvailabilityZones": 1e300}, "vpc", custom=False)])
    report = evaluate(doc, today=TODAY)
    assert {s.urn.rsplit("::", 1)[-1] for s in report.cost.skipped} == {"huge", "vpc"}
    capacity = [v.message for v in report.violations if v.policy == "cost-dynamodb-capacity"]
    assert capacity and "exceeds the cap" in capacity[0]


def test_table_replicas_and_provisioned_concurrency_are_priced_through_their_links():
    table = Resource.of(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 10.0, "writeCapacity": 4.0},
                        name="table")
    replica = Resource.of(t.DYNAMODB_TABLE_REPLICA, {"globalTableArn": "arn"}, name="replica",
                          deps={"globalTableArn": [table.urn]})
    fn = Resource.of(t.LAMBDA_FUNCTION, {"memorySize": 2048.0}, name="fn")
    pc = Resource.of(t.LAMBDA_PROVISIONED_CONCURRENCY, {"functionName": "f", "provisionedConcurrentExecutions": 5.0},
                     name="pc", deps={"functionName": [fn.urn]})
    orphan = Resource.of(t.LAMBDA_PROVISIONED_CONCURRENCY, {"functionName": "elsewhere",
                                                            "provisionedConcurrentExecutions": 5.0}, name="orphan")
    est = estimate([table, replica, fn, pc, orphan])
    items = {(i.urn.rsplit("::", 1)[-1], i.item): round(i.monthly_usd, 4) for i in est.items}
    assert items[("replica", "dynamodbRcuHour")] == items[("table", "dynamodbRcuHour")] == round(10 * 0.00013 * 730, 4)
    assert items[("pc", "lambdaProvisionedConcurrencyGbHour")] == round(5 * 2 * 0.015 * 730, 4)
    assert [s.urn.rsplit("::", 1)[-1] for s in est.skipped] == ["orphan"]


def test_instance_price_table_is_dated_and_sourced():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", INSTANCES["asOf"])
    for family in ("ec2", "rds", "aurora", "elasticache", "opensearch"):
        assert INSTANCES[family]["source"].startswith("https://aws.amazon.com/")
        assert INSTANCES[family]["usdPerHour"] and all(0 < v < 100 for v in INSTANCES[family]["usdPerHour"].values())


def test_efs_storage_is_usage_and_only_provisioned_throughput_is_fixed():
    mount, policy = "aws:efs/mountTarget:MountTarget", "aws:efs/fileSystemPolicy:FileSystemPolicy"
    usage = [
        Resource.of(t.EFS_FILE_SYSTEM, {"encrypted": True, "throughputMode": "elastic"}, name="elastic"),
        Resource.of(t.EFS_FILE_SYSTEM, {"encrypted": True, "throughputMode": "bursting"}, name="bursting"),
        Resource.of(t.EFS_FILE_SYSTEM, {"encrypted": True}, name="default"),
        Resource.of(mount, {"fileSystemId": "fs-1", "subnetId": "subnet-1"}, name="mt"),
        Resource.of(policy, {"fileSystemId": "fs-1", "policy": "{}"}, name="fsp"),
        Resource.of("aws:efs/accessPoint:AccessPoint", {"fileSystemId": "fs-1"}, name="ap"),
    ]
    result = estimate(usage)
    assert result.items == [] and result.skipped == []
    provisioned = Resource.of(t.EFS_FILE_SYSTEM, {"throughputMode": "provisioned",
                                                  "provisionedThroughputInMibps": 10.0}, name="prov")
    assert _items([provisioned]) == {("prov", "efsProvisionedThroughputMibpsMonth"):
                                     round(10 * PRICES["efsProvisionedThroughputMibpsMonth"], 4)}
