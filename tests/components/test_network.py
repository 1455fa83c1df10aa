"""Network component under mocks: NAT per stack, endpoints, security groups, flow logs."""

from __future__ import annotations

import pytest

from components import iam
from components.network import Network, NetworkArgs
from tests.conftest import build


def _network(cfg, opts):
    s = cfg.sessions
    return Network("network", NetworkArgs(
        config=cfg.network, region=cfg.region, log_retention_days=cfg.log_retention_days,
        editor_port=s.editor_port, editor_access=s.editor_access, editor_allowed_cidrs=s.allowed_cidrs), opts)


@pytest.fixture(scope="module")
def dev():
    return build(_network, "dev")[0]


@pytest.fixture(scope="module")
def prod():
    return build(_network, "prod")[0]


def _ingress(monitor):
    return [r.plain_inputs for r in monitor.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]


@pytest.mark.parametrize("stack,strategy,azs", [("dev", "None", 2), ("prod", "OnePerAz", 3)])
def test_nat_strategy_and_azs_follow_stack_config(stack, strategy, azs, request):
    vpc = request.getfixturevalue(stack).of_type("awsx:ec2:Vpc")[0].plain_inputs
    assert vpc["natGateways"] == {"strategy": strategy}
    assert vpc["numberOfAvailabilityZones"] == azs
    assert {s["type"] for s in vpc["subnetSpecs"]} == {"Public", "Private"}
    assert vpc["enableDnsHostnames"] is True


def test_vpc_is_remote_component_with_explicit_provider(dev):
    vpc = dev.of_type("awsx:ec2:Vpc")[0]
    assert vpc.remote is True
    assert vpc.urn.split("::")[2] == "aiplatform:network:Network$awsx:ec2:Vpc"


def test_gateway_endpoints_for_s3_and_dynamodb_are_free_gateways(dev):
    vpc = dev.of_type("awsx:ec2:Vpc")[0].plain_inputs
    specs = vpc["vpcEndpointSpecs"]
    assert sorted(s["serviceName"] for s in specs) == ["com.amazonaws.us-east-1.dynamodb", "com.amazonaws.us-east-1.s3"]
    assert all(s["vpcEndpointType"] == "Gateway" for s in specs)
    assert vpc["vpcEndpointStrategy"] == "Auto"  # route tables filled in from the generated subnets


def test_public_editor_access_opens_only_the_editor_port_to_configured_cidrs(dev):
    rules = _ingress(dev)
    assert rules, "the session group needs an ingress rule for the editor"
    for rule in rules:
        assert rule["fromPort"] == rule["toPort"] == 8080
        assert rule["cidrIpv4"] == "203.0.113.0/24"
    assert not dev.of_type("aws:ec2/securityGroup:SecurityGroup")[0].plain_inputs.get("ingress")
    names = [r.name for r in dev.of_type("aws:ec2/securityGroup:SecurityGroup")]
    assert names == ["network-sessions"]  # no load balancer group in public mode


def test_private_editor_access_allows_anywhere_only_on_443_to_the_load_balancer(prod):
    rules = _ingress(prod)
    open_rules = [r for r in rules if r.get("cidrIpv4") == "0.0.0.0/0" or r.get("cidrIpv6") == "::/0"]
    assert open_rules and all(r["fromPort"] == r["toPort"] == 443 for r in open_rules)
    to_tasks = [r for r in rules if r.get("referencedSecurityGroupId")]
    assert len(to_tasks) == 1 and to_tasks[0]["fromPort"] == 8080


def test_session_egress_is_https_only(dev):
    egress = [r.plain_inputs for r in dev.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")]
    assert [(e["fromPort"], e["toPort"], e["ipProtocol"]) for e in egress] == [(443, 443, "tcp")]


def test_flow_logs_only_when_enabled_with_retention_and_scoped_role(dev, prod):
    assert not dev.of_type("aws:ec2/flowLog:FlowLog")
    flow = prod.of_type("aws:ec2/flowLog:FlowLog")[0].plain_inputs
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "cloud-watch-logs"
    group = prod.of_type("aws:cloudwatch/logGroup:LogGroup")[0].plain_inputs
    assert group["retentionInDays"] == 90
    group_arn = prod.of_type("aws:cloudwatch/logGroup:LogGroup")[0].outputs["arn"]
    policy = iam.statements(prod.of_type("aws:iam/rolePolicy:RolePolicy")[0].plain_inputs["policy"])
    grants = {a: s["Resource"] for s in policy for a in s["Action"]}
    # Streams are written under the group; DescribeLogStreams is authorised on the group (its IAM resource type).
    assert grants == {"logs:CreateLogStream": [f"{group_arn}:log-stream:*"],
                      "logs:PutLogEvents": [f"{group_arn}:log-stream:*"],
                      "logs:DescribeLogStreams": [group_arn]}
    trust = iam.statements(prod.of_type("aws:iam/role:Role")[0].plain_inputs["assumeRolePolicy"])[0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_every_child_is_parented_to_the_component(prod):
    network = prod.of_type("aiplatform:network:Network")[0]
    for reg in prod.registrations.values():
        if reg.type not in ("aiplatform:network:Network", "pulumi:providers:aws"):
            assert reg.parent == network.urn, reg.urn
            assert reg.urn.split("::")[2].startswith("aiplatform:network:Network$")


def test_outputs_are_registered(dev):
    outputs = dev.of_type("aiplatform:network:Network")[0].outputs
    assert outputs["vpcId"].startswith("vpc-")
    assert len(outputs["privateSubnetIds"]) == 2


def test_flow_log_waits_for_its_role_policy(prod):
    flow = prod.of_type("aws:ec2/flowLog:FlowLog")[0]
    policy = prod.of_type("aws:iam/rolePolicy:RolePolicy")[0]
    assert policy.urn in flow.dependencies
