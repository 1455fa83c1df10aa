"""Kind C: conditions count only when they restrict the statement's principal kind."""

from __future__ import annotations

import pytest

from policies import awstypes as t
from policies.iam_conditions import value_restricts, values_restrict
from policies.rules import ALL_RULES, RULES_BY_NAME

from .helpers import call, policy_doc

ACCOUNT = "123456789012"
OPEN = RULES_BY_NAME["iam-no-open-principal"]
LAMBDA_PERMISSION = RULES_BY_NAME["lambda-permission-restricted"]
GITHUB = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
EKS = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789"
GH_AUD = {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}
POOL = "us-east-1:12345678-1234-1234-1234-123456789012"


def _trust(principal: dict, condition: dict | None = None, action: str = "sts:AssumeRoleWithWebIdentity") -> list[str]:
    stmt = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition is not None:
        stmt["Condition"] = condition
    return call(OPEN, t.ROLE, {"assumeRolePolicy": policy_doc(stmt)})


def _merge(*conditions: dict) -> dict:
    out: dict = {}
    for c in conditions:
        for op, block in c.items():
            out.setdefault(op, {}).update(block)
    return out


@pytest.mark.parametrize("condition, missing", [
    (None, "sub"),
    (GH_AUD, "sub"),
    (_merge(GH_AUD, {"StringLike": {"token.actions.githubusercontent.com:sub": "*"}}), "sub"),
    (_merge(GH_AUD, {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}), "sub"),
    (_merge(GH_AUD, {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}}), "sub"),
    (_merge(GH_AUD, {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*/infra:*"}}), "sub"),
    (_merge(GH_AUD, {"StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/infra:*", "*"]}}), "sub"),
    (_merge(GH_AUD, {"StringNotEquals": {"token.actions.githubusercontent.com:sub": "repo:evil/x:ref:main"}}), "sub"),
    (_merge(GH_AUD, {"StringLikeIfExists": {"token.actions.githubusercontent.com:sub": "repo:acme/infra:*"}}),
     "sub"),
    (_merge(GH_AUD, {"ForAllValues:StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/infra:*"}}),
     "sub"),
    (_merge(GH_AUD, {"Null": {"token.actions.githubusercontent.com:sub": "false"}}), "sub"),
    ({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/infra:*"}}, "aud"),
    ({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/infra:*",
                     "token.actions.githubusercontent.com:aud": "*"}}, "aud"),
])
def test_github_oidc_needs_repo_scoped_sub_and_aud(condition, missing):
    messages = _trust({"Federated": GITHUB}, condition)
    assert any(f"token.actions.githubusercontent.com:{missing}" in m for m in messages), messages


@pytest.mark.parametrize("sub", ["repo:acme/infra:ref:refs/heads/main", "repo:acme/infra:*",
                                 "repo:acme/infra:environment:prod"])
def test_github_oidc_scoped_to_a_repository_passes(sub):
    condition = _merge(GH_AUD, {"StringLike": {"token.actions.githubusercontent.com:sub": sub}})
    assert _trust({"Federated": GITHUB}, condition) == []
    assert _trust({"Federated": "token.actions.githubusercontent.com"}, condition) == []


@pytest.mark.parametrize("condition, missing", [
    (None, "aud"),
    ({"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL}}, "amr"),
    ({"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}, "aud"),
    ({"StringLike": {"cognito-identity.amazonaws.com:aud": "*"},
      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}, "aud"),
    ({"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL},
      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "*"}}, "amr"),
    ({"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL},
      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": []}}, "amr"),
    ({"StringLike": {"cognito-identity.amazonaws.com:aud": "us-east-1:*"},  # any pool, an attacker's too
      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}, "aud"),
    ({"Null": {"cognito-identity.amazonaws.com:aud": "false"},
      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}, "aud"),
])
def test_cognito_identity_pool_needs_aud_and_amr(condition, missing):
    messages = _trust({"Federated": "cognito-identity.amazonaws.com"}, condition)
    assert any(f"cognito-identity.amazonaws.com:{missing}" in m for m in messages), messages


def test_cognito_identity_pool_with_aud_and_amr_passes():
    condition = {"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL},
                 "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}
    assert _trust({"Federated": "cognito-identity.amazonaws.com"}, condition) == []


@pytest.mark.parametrize("provider, condition, ok", [
    (EKS, None, False),
    (EKS, {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789:aud": "sts.amazonaws.com"}}, False),
    (EKS, {"StringLike": {"oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789:sub": "*"}}, False),
    (EKS, {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789:sub":
                            "system:serviceaccount:app:runner"}}, True),
    ("accounts.google.com", None, False),
    ("accounts.google.com", {"StringEquals": {"accounts.google.com:aud": "1234.apps.googleusercontent.com"}}, True),
    ("graph.facebook.com", {"StringEquals": {"graph.facebook.com:app_id": "*"}}, False),
    (f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta", None, False),
    (f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta", {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
     True),
])
def test_other_identity_providers(provider, condition, ok):
    assert (_trust({"Federated": provider}, condition, "sts:AssumeRoleWithSAML") == []) is ok


QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
RULE_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly"


def _service_stmt(service: str, action: str, resource: str, condition: dict | None) -> str:
    stmt = {"Effect": "Allow", "Principal": {"Service": service}, "Action": action, "Resource": resource}
    if condition is not None:
        stmt["Condition"] = condition
    return policy_doc(stmt)


@pytest.mark.parametrize("type_, props_key, extra, service, action", [
    (t.SQS_QUEUE_POLICY, "policy", {"queueUrl": "q"}, "events.amazonaws.com", "sqs:SendMessage"),
    (t.SNS_TOPIC_POLICY, "policy", {"arn": "t"}, "cloudwatch.amazonaws.com", "sns:Publish"),
    (t.S3_BUCKET_POLICY, "policy", {"bucket": "b"}, "logging.s3.amazonaws.com", "s3:PutObject"),
    (t.KMS_KEY, "policy", {}, "sns.amazonaws.com", "kms:GenerateDataKey"),
    (t.SECRET_POLICY, "policy", {"secretArn": "s"}, "lambda.amazonaws.com", "secretsmanager:GetSecretValue"),
    (t.LAMBDA_RESOURCE_POLICY, "policy", {"resourceArn": "f"}, "events.amazonaws.com", "lambda:InvokeFunction"),
])
@pytest.mark.parametrize("condition, ok", [
    (None, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/nightly"}}, False),  # any account's rule of that name
    ({"ArnLike": {"aws:SourceArn": "*"}}, False),
    ({"StringEquals": {"aws:SourceAccount": "*"}}, False),
    ({"StringLike": {"aws:SourceAccount": "1234*"}}, False),
    ({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, False),
    ({"StringNotEquals": {"aws:SourceAccount": "999999999999"}}, False),
    ({"StringLike": {"aws:SourceOrgID": "o-*"}}, False),
    ({"ArnEquals": {"aws:SourceArn": RULE_ARN}}, True),
    ({"ArnLike": {"aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/*"}}, True),
    ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, True),
    ({"StringEquals": {"aws:SourceOrgID": "o-a1b2c3d4e5"}}, True),
])
def test_service_principals_on_resource_policies_need_a_source_condition(type_, props_key, extra, service, action,
                                                                          condition, ok):
    props = {**extra, props_key: _service_stmt(service, action, "*", condition)}
    messages = call(OPEN, type_, props)
    assert (messages == []) is ok, messages
    if not ok:
        assert any("service principal" in m for m in messages)


def test_kms_logs_encryption_context_restricts_the_logs_service():
    condition = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                             f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aiplatform/*"}}
    assert call(OPEN, t.KMS_KEY, {"policy": _service_stmt("logs.us-east-1.amazonaws.com", "kms:Encrypt*", "*",
                                                          condition)}) == []


def test_service_principal_in_a_trust_policy_needs_no_source_condition():
    assert _trust({"Service": "lambda.amazonaws.com"}, None, "sts:AssumeRole") == []


@pytest.mark.parametrize("condition, ok", [
    ({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, True),
    ({"StringLike": {"aws:PrincipalOrgID": "o-*"}}, False),
    ({"StringLike": {"aws:PrincipalOrgID": "o-a1b2c3d4e?"}}, False),
    ({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}, True),
    ({"StringLike": {"aws:PrincipalAccount": "????????????"}}, False),
    ({"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}}, False),
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*"}}, True),
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/r-ab12/*"}}, False),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/deployer"}}, False),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/deployer-*"}}, True),
    ({"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": []}}, False),
    ({"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}, True),
    ({"StringLike": {"aws:SourceVpce": "vpce-*"}}, False),
])
def test_open_principal_conditions(condition, ok):
    doc = policy_doc({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": QUEUE,
                      "Condition": condition})
    assert (call(OPEN, t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": doc}) == []) is ok


@pytest.mark.parametrize("principal", [{"AWS": ["*"]}, {"AWS": "arn:aws:iam::*:root"},
                                       {"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"}, "*"])
def test_wildcarded_principals_are_open(principal):
    doc = policy_doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
    assert any("principal '*'" in m for m in call(OPEN, t.ROLE, {"assumeRolePolicy": doc}))


def test_not_principal_with_allow_is_open_and_with_deny_is_fine():
    allow_doc = policy_doc({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "sqs:SendMessage", "Resource": QUEUE})
    deny_doc = policy_doc({"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                           "Action": "sqs:*", "Resource": QUEUE})
    assert any("NotPrincipal" in m for m in call(OPEN, t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": allow_doc}))
    assert call(OPEN, t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": deny_doc}) == []


@pytest.mark.parametrize("key, value, ok", [
    ("aws:SourceArn", "arn:aws:s3:::uploads", True),  # S3 ARNs carry no account: the bucket name pins it
    ("aws:SourceArn", "arn:aws:s3:::uploads-*", False),  # anyone can create uploads-evil
    ("aws:SourceArn", f"arn:aws:sns:*:{ACCOUNT}:*", True),
    ("aws:SourceArn", "arn:aws:sns:us-east-1:${aws:PrincipalTag/acct}:t", False),
    ("aws:SourceAccount", ACCOUNT, True),
    ("aws:SourceAccount", "", False),
    ("aws:SecureTransport", "true", True),
    ("aws:ResourceTag/team", "*", False),
])
def test_value_semantics(key, value, ok):
    assert value_restricts(key, value) is ok


def test_operator_semantics():
    assert values_restrict("ForAnyValue:StringEquals", "aws:principalorgid", ("o-abc1234567",))
    assert not values_restrict("ForAnyValue:StringEquals", "aws:principalorgid", ())
    assert not values_restrict("ArnNotLike", "aws:sourcearn", (RULE_ARN,))
    assert not values_restrict("StringNotEqualsIgnoreCase", "aws:sourceaccount", (ACCOUNT,))


@pytest.mark.parametrize("props, ok", [
    ({"principal": "events.amazonaws.com", "sourceArn": "arn:aws:events:us-east-1:*:rule/nightly"}, False),
    ({"principal": "events.amazonaws.com", "sourceArn": "arn:aws:events:*:*:rule/*"}, False),
    ({"principal": "s3.amazonaws.com", "sourceArn": "arn:aws:s3:::uploads*"}, False),
    ({"principal": "s3.amazonaws.com", "sourceArn": "arn:aws:s3:::uploads", "sourceAccount": ACCOUNT}, True),
    ({"principal": "sns.amazonaws.com", "sourceAccount": ACCOUNT}, True),
    ({"principal": "sns.amazonaws.com", "sourceAccount": "*"}, False),
    ({"principal": "events.amazonaws.com", "sourceArn": RULE_ARN}, True),
])
def test_lambda_permission_source(props, ok):
    messages = call(LAMBDA_PERMISSION, t.LAMBDA_PERMISSION, {"action": "lambda:InvokeFunction", "function": "f",
                                                             **props})
    assert (messages == []) is ok, messages


OTHER = "999988887777"


@pytest.mark.parametrize("principal, condition, provider, config, ok", [
    # The stack's own account comes from the provider's allowedAccountIds.
    (f"arn:aws:iam::{OTHER}:root", None, {"allowedAccountIds": f'["{ACCOUNT}"]'}, {}, False),
    (OTHER, None, {"allowedAccountIds": [ACCOUNT]}, {}, False),
    (f"arn:aws:iam::{OTHER}:root", {"StringEquals": {"sts:ExternalId": "a1b2c3-partner"}},
     {"allowedAccountIds": [ACCOUNT]}, {}, True),
    (f"arn:aws:iam::{OTHER}:root", {"StringEquals": {"sts:ExternalId": "*"}}, {"allowedAccountIds": [ACCOUNT]}, {},
     False),
    (f"arn:aws:iam::{OTHER}:root", {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/deployer"}},
     {"allowedAccountIds": [ACCOUNT]}, {}, True),
    (f"arn:aws:iam::{OTHER}:root", None, {"allowedAccountIds": [ACCOUNT]}, {"trustedAccounts": [OTHER]}, True),
    (f"arn:aws:iam::{ACCOUNT}:root", None, {"allowedAccountIds": [ACCOUNT]}, {}, True),
    (f"arn:aws:iam::{OTHER}:role/deployer", None, {"allowedAccountIds": [ACCOUNT]}, {}, True),  # one named role
    (f"arn:aws:iam::{OTHER}:root", None, None, {}, True),  # own account unknown: nothing to compare with
])
def test_cross_account_root_trust(principal, condition, provider, config, ok):
    stmt = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    messages = call(OPEN, t.ROLE, {"assumeRolePolicy": policy_doc(stmt)}, config=config, provider_props=provider)
    assert (messages == []) is ok, messages


LEGIT_RESOURCE_POLICIES = [
    # CloudTrail writing to its bucket (AWS CloudTrail User Guide, "Amazon S3 bucket policy for CloudTrail").
    (t.S3_BUCKET_POLICY, {"bucket": "trail-logs"}, [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::trail-logs",
         "Condition": {"StringEquals": {"aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main"}}},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::trail-logs/AWSLogs/{ACCOUNT}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                        "aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main"}}}]),
    # ALB access logs (Elastic Load Balancing guide): the log-delivery service writes under AWSLogs/<account>/.
    (t.S3_BUCKET_POLICY, {"bucket": "alb-logs"}, [
        {"Effect": "Allow", "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::alb-logs/prefix/AWSLogs/{ACCOUNT}/*"}]),
    # CloudFront origin access control reading a bucket.
    (t.S3_BUCKET_POLICY, {"bucket": "site"}, [
        {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::site/*",
         "Condition": {"StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1A2B3C4"}}}]),
    # S3 event notifications into SNS, EventBridge rules into SQS.
    (t.SNS_TOPIC_POLICY, {"arn": "t"}, [
        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SNS:Publish",
         "Resource": f"arn:aws:sns:us-east-1:{ACCOUNT}:uploads",
         "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads-bucket"},
                       "StringEquals": {"aws:SourceAccount": ACCOUNT}}}]),
    (t.SQS_QUEUE_POLICY, {"queueUrl": "q"}, [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": QUEUE, "Condition": {"ArnEquals": {"aws:SourceArn": RULE_ARN}}}]),
    # A KMS key policy: AWS's default root statement and CloudWatch Logs scoped by encryption context.
    (t.KMS_KEY, {}, [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*", "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn":
                                                      f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:app"}}},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*",
         "Resource": "*", "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                                       f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}}}]),
    # A bucket shared with the organization.
    (t.S3_BUCKET_POLICY, {"bucket": "shared"}, [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]),
]


@pytest.mark.parametrize("type_, props, stmts", LEGIT_RESOURCE_POLICIES, ids=lambda x: x if isinstance(x, str) else "")
def test_legitimate_resource_policies_pass(type_, props, stmts):
    rules = [r for r in ALL_RULES if r.concern == "iam" and r.applies_to(type_)]
    assert OPEN in rules
    for rule in rules:
        assert call(rule, type_, {**props, "policy": policy_doc(*stmts)}) == [], rule.name


@pytest.mark.parametrize("resource", [
    "arn:aws:s3:::alb-logs/prefix/AWSLogs/*",  # any account's prefix
    "arn:aws:s3:::alb-logs/*",
    "arn:aws:s3:::alb-logs/AWSLogs/${aws:SourceAccount}/*",
])
def test_log_delivery_without_an_account_prefix_is_flagged(resource):
    doc = policy_doc({"Effect": "Allow", "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                      "Action": "s3:PutObject", "Resource": resource})
    assert any("service principal" in m for m in call(OPEN, t.S3_BUCKET_POLICY, {"bucket": "b", "policy": doc}))
