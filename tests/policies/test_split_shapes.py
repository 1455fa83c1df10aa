"""One logical thing split over several resources is judged as a whole (issue kind F)."""

from __future__ import annotations

import json

import pytest

from policies import awstypes as t

from .stackcases import both

RULE = "security-no-public-ingress"
SG = (t.SECURITY_GROUP, {"vpcId": "vpc-1", "description": "web"}, "web")


def _v4(name: str, cidr: str, lo: float = 22.0, hi: float = 22.0, proto: str = "tcp", group: str = "web"):
    key = "cidrIpv6" if ":" in cidr else "cidrIpv4"
    return (t.SECURITY_GROUP_INGRESS_RULE, {"securityGroupId": "sg-unknown", "ipProtocol": proto, "fromPort": lo,
                                            "toPort": hi, key: cidr}, name, {"securityGroupId": [group]})


def _ec2(name: str, cidrs: list[str], lo: float = 22.0, hi: float = 22.0, group: str = "web"):
    return (t.SECURITY_GROUP_RULE, {"type": "ingress", "securityGroupId": "sg-unknown", "protocol": "tcp",
                                    "fromPort": lo, "toPort": hi, "cidrBlocks": cidrs}, name,
            {"securityGroupId": [group]})


def test_halves_of_the_address_space_in_separate_rule_resources_add_up():
    messages = both(RULE, [SG, _v4("low", "0.0.0.0/1"), _ec2("high", ["128.0.0.0/1"])])
    assert len(messages) == 1 and "tcp port 22 open to 100% of the public IPv4 space" in messages[0]
    assert "low: 0.0.0.0/1" in messages[0] and "high: 128.0.0.0/1" in messages[0]


def test_quarters_spread_over_inline_and_rule_resources_add_up():
    group = (t.SECURITY_GROUP, {"ingress": [{"protocol": "tcp", "fromPort": 3389.0, "toPort": 3389.0,
                                             "cidrBlocks": ["0.0.0.0/2"]}]}, "web")
    items = [group, _v4("a", "64.0.0.0/2", 3389.0, 3389.0), _v4("b", "128.0.0.0/2", 3000.0, 4000.0),
             _ec2("c", ["192.0.0.0/2"], 0.0, 65535.0)]
    messages = both(RULE, items, {"worldShare": 0.9})
    assert any("tcp port 3389 open to 100%" in m for m in messages), messages


def test_overlapping_port_ranges_are_split_where_they_meet():
    # 0.0.0.0/1 on 1000-2000 and 128.0.0.0/1 on 1500-3000: only 1500-2000 is world-open.
    messages = both(RULE, [SG, _v4("a", "0.0.0.0/1", 1000.0, 2000.0), _v4("b", "128.0.0.0/1", 1500.0, 3000.0)],
                    {"worldShare": 0.9})
    assert len(messages) == 1 and "tcp ports 1500-2000" in messages[0], messages


def test_rules_of_different_groups_do_not_add_up():
    other = (t.SECURITY_GROUP, {"vpcId": "vpc-1"}, "db")
    items = [SG, other, _v4("a", "0.0.0.0/1"), _v4("b", "128.0.0.0/1", group="db")]
    assert both(RULE, items, {"worldShare": 0.9}) == []


def test_rules_naming_the_same_group_outside_the_stack_add_up():
    items = [(t.SECURITY_GROUP_INGRESS_RULE, {"securityGroupId": "sg-0abc", "ipProtocol": "tcp", "fromPort": 22.0,
                                              "toPort": 22.0, "cidrIpv4": cidr}, name)
             for name, cidr in (("a", "0.0.0.0/1"), ("b", "128.0.0.0/1"))]
    messages = both(RULE, items)
    assert len(messages) == 1 and messages[0].startswith("security group sg-0abc: tcp port 22"), messages


def test_an_unknown_cidr_hides_only_itself():
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    messages = both(RULE, [SG, _v4("a", unknown), _v4("b", "0.0.0.0/0", 25.0, 25.0)])
    assert len(messages) == 1 and "port 25" in messages[0]


def test_default_security_group_ingress_is_judged():
    default = (t.DEFAULT_SECURITY_GROUP, {"vpcId": "vpc-1", "ingress": [
        {"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": ["0.0.0.0/0"]}]}, "default")
    messages = both(RULE, [default])
    assert messages and "all traffic is open" in messages[0]


def test_udp_is_judged_separately_from_tcp():
    messages = both(RULE, [SG, _v4("dns", "0.0.0.0/0", 53.0, 53.0, proto="udp"),
                           _v4("https", "0.0.0.0/0", 443.0, 443.0)])
    assert messages == [m for m in messages if "udp port 53" in m] and len(messages) == 1


def test_icmp_path_mtu_discovery_passes_and_echo_does_not():
    assert both(RULE, [SG, _v4("pmtu", "0.0.0.0/0", 3.0, 4.0, proto="icmp"),
                       _v4("pmtu6", "::/0", 2.0, 0.0, proto="icmpv6")]) == []
    messages = both(RULE, [SG, _v4("ping", "0.0.0.0/0", 8.0, 0.0, proto="icmp")])
    assert len(messages) == 1 and "icmp type 8 code 0" in messages[0]


# An ALB security group open on 80 only for an HTTP -> HTTPS redirect.
ALB_SG = (t.SECURITY_GROUP, {"vpcId": "vpc-1"}, "alb-sg")
ALB = (t.LB, {"loadBalancerType": "application", "securityGroups": ["sg-x"]}, "alb", {"securityGroups": ["alb-sg"]})
REDIRECT = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]
HTTP = (t.LB_LISTENER, {"loadBalancerArn": "arn", "port": 80.0, "protocol": "HTTP", "defaultActions": REDIRECT},
        "http", {"loadBalancerArn": ["alb"]})
OPEN = [_v4(f"in-{p}", "0.0.0.0/0", p, p, group="alb-sg") for p in (80.0, 443.0)]


def test_alb_port_80_that_only_redirects_to_https_passes():
    assert both(RULE, [ALB_SG, ALB, HTTP, *OPEN]) == []
    # The app's group admitting traffic from the ALB's group does not attach the ALB group to the app.
    app = (t.SECURITY_GROUP, {"ingress": [{"protocol": "tcp", "fromPort": 8080.0, "toPort": 8080.0,
                                           "securityGroups": ["sg-x"]}]}, "app", {"ingress": ["alb-sg"]})
    assert both(RULE, [ALB_SG, ALB, HTTP, app, *OPEN]) == []


@pytest.mark.parametrize("variant", ["forwards", "rule-forwards", "instance-uses-group", "network-lb"])
def test_alb_port_80_that_serves_anything_is_open(variant):
    items = [ALB_SG, ALB, HTTP, *OPEN]
    if variant == "forwards":
        items[2] = (t.LB_LISTENER, {**HTTP[1], "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]},
                    "http", HTTP[3])
    elif variant == "rule-forwards":
        items.append((t.LB_LISTENER_RULE, {"listenerArn": "l", "actions": [{"type": "forward", "targetGroupArn": "tg"}]},
                      "rule", {"listenerArn": ["http"]}))
    elif variant == "instance-uses-group":
        items.append((t.EC2_INSTANCE, {"instanceType": "t3.micro", "vpcSecurityGroupIds": ["sg-x"]}, "vm",
                      {"vpcSecurityGroupIds": ["alb-sg"]}))
    else:
        items[1] = (t.LB, {**ALB[1], "loadBalancerType": "network"}, "alb", ALB[3])
    messages = both(RULE, items)
    assert len(messages) == 1 and "tcp port 80 open" in messages[0], messages


# A table with its TableReplica resources.
TABLE = (t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST", "replicas": [{"regionName": "eu-west-1"}]}, "tbl")


def _replica(name: str, table: str = "tbl"):
    return (t.DYNAMODB_TABLE_REPLICA, {"globalTableArn": "arn-unknown", "pointInTimeRecovery": True}, name,
            {"globalTableArn": [table]})


def test_table_replicas_count_inline_and_separate_together():
    messages = both("cost-dynamodb-capacity", [TABLE, _replica("r1"), _replica("r2")], {"maxReplicas": 2})
    assert len(messages) == 1 and "3 replicas (1 inline, 2 TableReplica: r1, r2) exceed the cap of 2" in messages[0]
    assert both("cost-dynamodb-capacity", [TABLE, _replica("r1")], {"maxReplicas": 2}) == []


def test_replicas_of_other_tables_do_not_count():
    other = (t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST"}, "other")
    assert both("cost-dynamodb-capacity", [TABLE, other, _replica("r1", "other"), _replica("r2", "other")],
                {"maxReplicas": 2}) == []


def test_replicas_of_a_table_outside_the_stack_are_counted_by_its_arn():
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/shared"
    items = [(t.DYNAMODB_TABLE_REPLICA, {"globalTableArn": arn}, f"r{i}") for i in range(3)]
    messages = both("cost-dynamodb-capacity", items, {"maxReplicas": 2})
    assert messages == [f"3 TableReplica resources for {arn} exceed the cap of 2"]


def test_lambda_log_group_linked_by_property_dependencies_passes():
    fn = (t.LAMBDA_FUNCTION, {"role": "r", "loggingConfig": {"logGroup": "/unknown-at-preview"}}, "fn",
          {"loggingConfig": ["lg"]})
    lg = (t.LOG_GROUP, {"name": "/app/fn", "retentionInDays": 14.0}, "lg")
    assert both("cost-lambda-log-group", [fn, lg]) == []
    # A log group computed from the function's name (`/aws/lambda/${fn.name}`) counts too.
    named = (t.LOG_GROUP, {"name": "/aws/lambda/fn-123", "retentionInDays": 14.0}, "lg", {"name": ["fn"]})
    assert both("cost-lambda-log-group", [(t.LAMBDA_FUNCTION, {"role": "r"}, "fn"), named]) == []
    # Without either, the implicit group (no retention) is reported.
    messages = both("cost-lambda-log-group", [(t.LAMBDA_FUNCTION, {"role": "r"}, "fn")])
    assert messages and "/aws/lambda/<function name>" in messages[0]


# S3: a bucket with its ACL, public access block and policy resources.
BUCKET = (t.S3_BUCKET, {"bucket": "assets-123"}, "assets")
BLOCK_ALL = {f: True for f in ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")}
PUBLIC_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::assets-123/*"}]})
S3 = "security-s3-public-access"


def _attached(type_, props, name, by_dep=True):
    return (type_, {"bucket": "assets-123", **props}, name, {"bucket": ["assets"]} if by_dep else {})


def test_bucket_with_a_full_public_access_block_passes():
    assert both(S3, [BUCKET, _attached(t.S3_BUCKET_PUBLIC_ACCESS_BLOCK, BLOCK_ALL, "pab")]) == []
    # Linked by name only (a literal bucket name), and an account-level block, count too.
    assert both(S3, [BUCKET, _attached(t.S3_BUCKET_PUBLIC_ACCESS_BLOCK, BLOCK_ALL, "pab", by_dep=False)]) == []
    assert both(S3, [BUCKET, (t.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK, BLOCK_ALL, "account")]) == []


def test_missing_or_partial_public_access_block_is_reported():
    assert both(S3, [BUCKET]) == ["no BucketPublicAccessBlock (or account-level block) keeps public access blocked"]
    partial = {**BLOCK_ALL, "restrictPublicBuckets": False}
    messages = both(S3, [BUCKET, _attached(t.S3_BUCKET_PUBLIC_ACCESS_BLOCK, partial, "pab")])
    assert messages == ["public access block leaves restrictPublicBuckets off"]


@pytest.mark.parametrize("opener, expected", [
    (_attached(t.S3_BUCKET_ACL_V2, {"acl": "public-read"}, "acl"), "acl grants public access through ACL 'public-read'"),
    (_attached(t.S3_BUCKET_ACL, {"accessControlPolicy": {"owner": {"id": "o"}, "grants": [
        {"permission": "READ", "grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}}]}},
               "acl"), "acl grants public access through a grant to AllUsers"),
    (_attached(t.S3_BUCKET_POLICY, {"policy": PUBLIC_POLICY}, "pol"),
     "pol policy statement 'Public' allows principal '*' with no condition"),
    (_attached(t.S3_BUCKET_POLICY, {"policy": PUBLIC_POLICY}, "pol", by_dep=False),
     "pol policy statement 'Public' allows principal '*' with no condition"),
])
def test_public_acls_and_policies_are_reported_unless_the_block_neutralizes_them(opener, expected):
    off = {f: False for f in BLOCK_ALL}
    messages = both(S3, [BUCKET, opener, _attached(t.S3_BUCKET_PUBLIC_ACCESS_BLOCK, off, "pab")])
    assert expected in messages, messages
    assert both(S3, [BUCKET, opener, _attached(t.S3_BUCKET_PUBLIC_ACCESS_BLOCK, BLOCK_ALL, "pab")]) == []


def test_public_policy_on_a_bucket_outside_the_stack_is_reported_by_name():
    pol = (t.S3_BUCKET_POLICY, {"bucket": "legacy", "policy": PUBLIC_POLICY}, "pol")
    messages = both(S3, [pol], {"requirePublicAccessBlock": False})
    assert messages == ["bucket legacy: pol policy statement 'Public' allows principal '*' with no condition"]


def test_the_pack_links_rule_resources_to_their_group_through_property_dependencies():
    """Under `pulumi preview` the group ID is unknown; pulumi-policy's property_dependencies carry the link."""
    from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    from policies.pack import build_policies

    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    group = PolicyResource(t.SECURITY_GROUP, unknown_checking_proxy({"vpcId": unknown}),
                           f"urn:pulumi:s::p::{t.SECURITY_GROUP}::web", "web", opts, None, None, [], {})
    rules = [PolicyResource(t.SECURITY_GROUP_INGRESS_RULE, unknown_checking_proxy(
        {"securityGroupId": unknown, "ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrIpv4": cidr}),
        f"urn:pulumi:s::p::{t.SECURITY_GROUP_INGRESS_RULE}::{name}", name, opts, None, None, [group],
        {"securityGroupId": [group]}) for name, cidr in (("low", "0.0.0.0/1"), ("high", "128.0.0.0/1"))]
    policy = next(p for p in build_policies() if p.name == RULE)
    reports = []
    policy.validate(StackValidationArgs([group, *rules], {"worldShare": 0.9}),
                    lambda message, urn=None: reports.append((message, urn)))
    assert len(reports) == 1 and reports[0][1] == group.urn and "tcp port 22 open to 100%" in reports[0][0]


def test_acls_turned_off_by_bucket_owner_enforced_do_not_count():
    acl = _attached(t.S3_BUCKET_ACL_V2, {"acl": "public-read"}, "acl")
    partial = {**{f: False for f in BLOCK_ALL}, "blockPublicPolicy": True, "restrictPublicBuckets": True}
    items = [BUCKET, acl, _attached(t.S3_BUCKET_PUBLIC_ACCESS_BLOCK, partial, "pab")]
    assert "acl grants public access through ACL 'public-read'" in both(S3, items, {"requirePublicAccessBlock": False})
    enforced = _attached(t.S3_OWNERSHIP_CONTROLS, {"rule": {"objectOwnership": "BucketOwnerEnforced"}}, "own")
    assert both(S3, [*items, enforced], {"requirePublicAccessBlock": False}) == []
    writer = _attached(t.S3_OWNERSHIP_CONTROLS, {"rule": {"objectOwnership": "ObjectWriter"}}, "own")
    assert both(S3, [*items, writer], {"requirePublicAccessBlock": False}) != []


def test_aws_native_security_group_and_ingress_resources_add_up():
    group = (t.NATIVE_SECURITY_GROUP, {"groupDescription": "web", "securityGroupIngress": [
        {"ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0, "cidrIp": "0.0.0.0/1"}]}, "web")
    extra = (t.NATIVE_SECURITY_GROUP_INGRESS, {"groupId": "sg-unknown", "ipProtocol": "tcp", "fromPort": 5432.0,
                                               "toPort": 5432.0, "cidrIp": "128.0.0.0/1"}, "extra", {"groupId": ["web"]})
    messages = both(RULE, [group, extra], {"worldShare": 0.9})
    assert len(messages) == 1 and "tcp port 5432 open to 100% of the public IPv4 space" in messages[0]
    assert both(RULE, [group], {"worldShare": 0.9}) == []
