"""Kind B: wildcards are judged as ARN and action patterns, by what they can match."""

from __future__ import annotations

import pytest

from policies import awstypes as t
from policies.iam_index import action_index, has_wildcard
from policies.rules import RULES_BY_NAME

from .helpers import allow, call, policy_doc

ACCOUNT = "123456789012"
WILDCARD_RESOURCE = RULES_BY_NAME["iam-no-wildcard-resource"]
WILDCARD_ACTIONS = RULES_BY_NAME["iam-no-wildcard-actions"]
ESCALATION = RULES_BY_NAME["iam-no-privilege-escalation"]


def _breadth(pattern: str) -> dict:
    return dict(action_index().resource_breadth(pattern))


@pytest.mark.parametrize("pattern, type_key, level", [
    ("*", "iam:role", "any"),
    ("?*", "iam:role", "any"),
    ("*?", "s3:object", "any"),
    (f"arn:aws:iam::{ACCOUNT}:role/*", "iam:role", "account"),
    (f"arn:aws:iam::{ACCOUNT}:role/?*", "iam:role", "account"),
    (f"arn:aws:iam::{ACCOUNT}:role/??*", "iam:role", "account"),
    (f"arn:aws:iam::{ACCOUNT}:role/*-*", "iam:role", "account"),  # separators only: still every name
    (f"arn:aws:iam::{ACCOUNT}:role*", "iam:role", "account"),
    (f"arn:aws:iam::{ACCOUNT}:policy*", "iam:policy", "account"),
    (f"arn:aws:iam::{ACCOUNT}:*", "iam:user", "account"),
    ("arn:aws:iam::*:role/?*", "iam:role", "any"),
    ("arn:aws:iam::????????????:role/*", "iam:role", "any"),
    ("arn:*:iam::*:role/*", "iam:role", "any"),
    ("arn:aws:iam::*", "iam:role", "any"),
    ("arn:*", "kms:key", "any"),
    (f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:?*", "secretsmanager:Secret", "account"),
    (f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:?*-??????", "secretsmanager:Secret", "account"),
    (f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:*", "secretsmanager:Secret", "account"),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/?*", "kms:key", "account"),
    ("arn:aws:kms:*:*:key/*", "kms:key", "any"),
    ("arn:aws:s3:::*", "s3:bucket", "any"),
    ("arn:aws:s3:::*/*", "s3:object", "any"),
    ("arn:aws:s3:::?*/?*", "s3:object", "any"),
    ("arn:aws:dynamodb:*:*:table/*", "dynamodb:table", "any"),
    (f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/?*", "dynamodb:table", "account"),
    (f"arn:aws:logs:us-east-1:{ACCOUNT}:*", "logs:log-group", "account"),
    (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*", "lambda:function", "account"),
    (f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/*", "ssm:parameter", "account"),
    # A caller-controlled variable matches anything: the caller picks the tag value.
    (f"arn:aws:iam::{ACCOUNT}:group/${{aws:PrincipalTag/team}}", "iam:group", "account"),
    (f"arn:aws:iam::{ACCOUNT}:role/${{aws:RequestTag/target}}", "iam:role", "account"),
    (f"arn:aws:iam::{ACCOUNT}:role/${{aws:userid}}", "iam:role", "account"),
    (f"arn:aws:s3:::${{aws:PrincipalTag/bucket}}/*", "s3:object", "any"),
])
def test_broad_patterns(pattern, type_key, level):
    assert _breadth(pattern).get(type_key) == level


@pytest.mark.parametrize("pattern", [
    f"arn:aws:iam::{ACCOUNT}:role/app-*",
    f"arn:aws:iam::{ACCOUNT}:role/service-role/*",
    f"arn:aws:iam::{ACCOUNT}:role/sessions-api-837c7df",
    f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",  # the caller's own user only
    f"arn:aws:iam::{ACCOUNT}:role/${{*}}",  # a literal '*' character, not a wildcard
    "arn:aws:s3:::assets/*",
    "arn:aws:s3:::assets/home/${aws:username}/*",
    f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sessions/index/*",
    f"arn:aws:dynamodb:*:*:table/MyTable",
    f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn:*",
    f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app-*",
    f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/cluster-a/*",
    f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/family:*",
    f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abc123/*",
    f"arn:aws:iam::{ACCOUNT}:role/x?",
    ACCOUNT,
])
def test_narrow_patterns(pattern):
    assert _breadth(pattern) == {}


def test_wildcard_detection_ignores_escapes():
    assert has_wildcard("a${aws:PrincipalTag/x}") and has_wildcard("a?b") and has_wildcard("a*")
    assert not has_wildcard("role/${*}") and not has_wildcard("user/${aws:username}")


@pytest.mark.parametrize("resource", [
    f"arn:aws:iam::{ACCOUNT}:role/?*", "arn:aws:iam::*:role/?*", f"arn:aws:iam::{ACCOUNT}:role*",
    f"arn:aws:iam::{ACCOUNT}:role/*-*",
])
def test_passrole_on_role_patterns_is_escalation(resource):
    doc = policy_doc(allow("iam:PassRole", resource,
                           Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}))
    assert any("can hand any role" in m for m in call(ESCALATION, t.ROLE_POLICY, {"role": "r", "policy": doc}))


@pytest.mark.parametrize("actions, resource, expected", [
    ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:?*", "reads secrets"),
    ("kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/?*", "reads secrets"),
    ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter*", "reads secrets"),
    ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy*", "iam:CreatePolicyVersion"),
    ("iam:*Policy*", f"arn:aws:iam::{ACCOUNT}:role/?*", "iam:PutRolePolicy"),
    ("IAM:putrolepolicy", "arn:aws:iam::*:role/?*", "iam:PutRolePolicy"),
])
def test_escalation_and_secret_reads_on_broad_patterns(actions, resource, expected):
    messages = call(ESCALATION, t.POLICY, {"policy": policy_doc(allow(actions, resource))})
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("actions, resource, expected", [
    ("s3:Put*", "*", "s3:PutAccessPointPolicy,"),
    ("s3:GetObject", "arn:aws:s3:::?*/*", "s3:GetObject"),
    ("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/?*", "dynamodb:GetItem"),
    ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*", "lambda:InvokeFunction"),
    ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:*", "sqs:SendMessage"),
    ("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:*", "logs:PutLogEvents"),
    ("s3:GetObject", "arn:aws:s3:::${aws:PrincipalTag/b}/*", "s3:GetObject"),
])
def test_wildcard_resource_rule_uses_pattern_semantics(actions, resource, expected):
    messages = call(WILDCARD_RESOURCE, t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow(actions, resource))})
    assert any(expected in m for m in messages), messages


def test_not_resource_counts_as_every_resource():
    doc = policy_doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::private/*"})
    messages = call(WILDCARD_RESOURCE, t.ROLE_POLICY, {"role": "r", "policy": doc})
    assert any("'NotResource'" in m and "s3:GetObject" in m for m in messages), messages
    doc = policy_doc({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::1:role/x"})
    assert any("iam:PassRole on 'NotResource'" in m for m in call(ESCALATION, t.ROLE_POLICY, {"role": "r", "policy": doc}))


def test_not_action_grants_everything_else():
    doc = policy_doc({"Effect": "Allow", "NotAction": ["s3:*"], "Resource": "*"})
    props = {"role": "r", "policy": doc}
    assert any("NotAction" in m for m in call(WILDCARD_ACTIONS, t.ROLE_POLICY, props))
    assert any("support resource-level permissions" in m for m in call(WILDCARD_RESOURCE, t.ROLE_POLICY, props))
    assert any("iam:PassRole on '*'" in m for m in call(ESCALATION, t.ROLE_POLICY, props))
    # NotAction that excludes the escalation actions themselves leaves them out.
    doc = policy_doc({"Effect": "Allow", "NotAction": ["iam:*", "sts:*", "kms:*", "lambda:*", "ssm:*", "glue:*",
                                                        "secretsmanager:*", "ec2:*", "ecs:*", "cloudformation:*",
                                                        "codebuild:*", "sagemaker:*", "datapipeline:*",
                                                        "apprunner:*", "bedrock-agentcore:*",
                                                        "ec2-instance-connect:*", "dynamodb:*"],
                      "Resource": "*"})
    assert call(ESCALATION, t.ROLE_POLICY, {"role": "r", "policy": doc}) == []


@pytest.mark.parametrize("action, expected", [
    ("*:*", "grants every action"), ("*", "grants every action"), ("*:Get*", "every service"),
    ("iAm:*", "every iam action"), ("s3:*?", "every s3 action"), ("s*:*", "every service matching"),
])
def test_action_wildcards(action, expected):
    messages = call(WILDCARD_ACTIONS, t.POLICY, {"policy": policy_doc(allow(action, "arn:aws:s3:::b/*"))})
    assert any(expected in m for m in messages), messages


def test_action_names_are_case_insensitive():
    index = action_index()
    assert index.expand("S3:getobject") == ("s3:getobject",)
    assert "iam:putrolepolicy" in index.expand_set("iam:*policy*")
    assert index.canonical("iam:passrole") == "iam:PassRole"


@pytest.mark.parametrize("doc", [
    allow("ecr:GetAuthorizationToken"),
    allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"]),
    allow(["logs:CreateLogStream", "logs:PutLogEvents"],
          f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn:log-stream:*"),
    allow("logs:CreateLogGroup", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn"),
    allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::uploads/home/${aws:username}/*"),
    allow("dynamodb:Query", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sessions/index/*"),
    allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app-task",
          Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
    allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app/db-AbCdEf"),
    allow(["iam:CreateAccessKey", "iam:ListAccessKeys"], f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
])
def test_least_privilege_statements_pass(doc):
    for rule in (WILDCARD_RESOURCE, WILDCARD_ACTIONS, ESCALATION):
        assert call(rule, t.ROLE_POLICY, {"role": "r", "policy": policy_doc(doc)}) == [], rule.name


def _prefixes(base: str, chars: str) -> list[str]:
    return [f"{base}{c}*" for c in chars]


EVERY_FIRST_CHAR = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-"


def test_patterns_that_cover_a_type_only_together_are_broad():
    roles = _prefixes(f"arn:aws:iam::{ACCOUNT}:role/", EVERY_FIRST_CHAR)
    assert action_index().union_breadth(tuple(roles)).get("iam:role") == "account"
    messages = call(ESCALATION, t.POLICY, {"policy": policy_doc(allow("iam:PassRole", roles))})
    assert any("can hand any role" in m and "together" in m for m in messages), messages
    secrets = _prefixes(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:", EVERY_FIRST_CHAR)
    messages = call(WILDCARD_RESOURCE, t.POLICY, {"policy": policy_doc(allow("secretsmanager:GetSecretValue",
                                                                             secrets))})
    assert any("together" in m and "secretsmanager:GetSecretValue" in m for m in messages), messages


@pytest.mark.parametrize("patterns", [
    _prefixes(f"arn:aws:iam::{ACCOUNT}:role/", "abcdefghijklmnopqrstuvwxyz"),  # misses names starting A-Z, 0-9
    [f"arn:aws:iam::{ACCOUNT}:role/app-*", f"arn:aws:iam::{ACCOUNT}:role/web-*"],
    [f"arn:aws:iam::{ACCOUNT}:role/a*", f"arn:aws:iam::{ACCOUNT}:role/X*"],
    # the same prefixes split over two accounts cover neither account
    _prefixes(f"arn:aws:iam::{ACCOUNT}:role/", EVERY_FIRST_CHAR[:30])
    + _prefixes("arn:aws:iam::999988887777:role/", EVERY_FIRST_CHAR[30:]),
])
def test_narrow_pattern_sets_are_not_broad_together(patterns):
    assert action_index().union_breadth(tuple(patterns)) == {}


@pytest.mark.parametrize("resource, broad", [
    (f"arn:aws:iam::{ACCOUNT}:user/${{aws:username, 'nobody'}}", False),
    (f"arn:aws:iam::{ACCOUNT}:user/${{aws:username, '*'}}", True),
    (f"arn:aws:iam::{ACCOUNT}:user/${{aws:PrincipalTag/u, 'nobody'}}", True),
])
def test_policy_variable_defaults(resource, broad):
    assert bool(_breadth(resource)) is broad


def test_action_patterns_that_cover_a_service_together_are_service_wide():
    everything = [f"iam:{c}*" for c in "abcdefghijklmnopqrstuvwxyz"]
    messages = call(WILDCARD_ACTIONS, t.POLICY, {"policy": policy_doc(allow(everything, f"arn:aws:iam::{ACCOUNT}:role/x"))})
    assert any("together grant every iam action" in m for m in messages), messages
    some = ["iam:Get*", "iam:List*"]
    assert call(WILDCARD_ACTIONS, t.POLICY, {"policy": policy_doc(allow(some, f"arn:aws:iam::{ACCOUNT}:role/x"))}) == []


@pytest.mark.parametrize("service", ["*", "*.amazonaws.com", "ecs-tasks.amazonaws.com*"])
def test_passed_to_service_must_name_a_service(service):
    doc = policy_doc(allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app",
                           Condition={"StringLike": {"iam:PassedToService": service}}))
    assert any("without an iam:PassedToService" in m for m in call(ESCALATION, t.POLICY, {"policy": doc}))


@pytest.mark.parametrize("value, ok", [
    ("${aws:PrincipalTag/team}", True),  # ABAC: resources tagged with the caller's own team
    ("platform", True),
    ("${aws:RequestTag/team}", False),  # the request chooses
    ("*", False),
])
def test_attribute_based_scoping(value, ok):
    doc = policy_doc(allow(["ec2:StopInstances", "ec2:StartInstances"], "*",
                           Condition={"StringEquals": {"aws:ResourceTag/team": value}}))
    assert (call(WILDCARD_RESOURCE, t.ROLE_POLICY, {"role": "r", "policy": doc}) == []) is ok


@pytest.mark.parametrize("deny, removed", [
    ({"Effect": "Deny", "Action": ["iam:PassRole", "s3:GetObject"], "Resource": "*"}, True),
    ({"Effect": "Deny", "Action": "*", "Resource": "arn:aws:*:*:*:*"}, True),
    ({"Effect": "Deny", "Action": ["iam:PassRole", "s3:GetObject"], "Resource": "*",
      "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}, False),  # denies only sometimes
    ({"Effect": "Deny", "Action": ["iam:PassRole", "s3:GetObject"], "Resource": "arn:aws:s3:::private/*"}, False),
])
def test_unconditional_deny_everywhere_removes_grants(deny, removed):
    doc = policy_doc(allow(["iam:PassRole", "s3:GetObject"], "*"), deny)
    props = {"role": "r", "policy": doc}
    for rule in (WILDCARD_RESOURCE, ESCALATION):
        assert (call(rule, t.ROLE_POLICY, props) == []) is removed, rule.name
