"""Real preview data: unknowns skipped without false alarms, documents in every accepted shape,
provider default tags, secrets, resource references."""

from __future__ import annotations

import json

import pytest

from policies import awstypes as t
from policies.engine import evaluate
from policies.rules import ALL_RULES, RULES_BY_NAME

from .cases import LAMBDA_TRUST, TABLE_ARN
from .helpers import (
    DEFAULT_TAGS,
    PROVIDER_REF,
    SECRET_SIG,
    TODAY,
    UNKNOWN,
    allow,
    call,
    entry,
    export,
    policy_doc,
    provider_entry,
)

UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"


def all_messages(type_: str, props: dict) -> list[str]:
    out = []
    for rule in ALL_RULES:
        if rule.kind == "resource" and rule.applies_to(type_):
            out += [f"{rule.name}: {m}" for m in call(rule, type_, props,
                                                      provider_props={"defaultTags": {"tags": DEFAULT_TAGS}})]
    return out


@pytest.mark.parametrize("type_, props", [
    (t.ROLE_POLICY, {"role": "r", "policy": UNKNOWN}),
    (t.ROLE, {"assumeRolePolicy": UNKNOWN, "inlinePolicies": UNKNOWN, "managedPolicyArns": UNKNOWN}),
    (t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST, "inlinePolicies": [{"name": "x", "policy": UNKNOWN}],
              "managedPolicyArns": [UNKNOWN]}),
    (t.POLICY, {"policy": policy_doc(allow("dynamodb:GetItem", UNKNOWN), as_json=False)}),
    (t.POLICY, {"policy": json.dumps({"Version": "2012-10-17", "Statement": [allow(UNKNOWN, "*")]})}),
    (t.LAMBDA_PERMISSION, {"action": "lambda:InvokeFunction", "function": UNKNOWN, "principal": "events.amazonaws.com",
                           "sourceArn": UNKNOWN}),
    (t.LAMBDA_FUNCTION, {"role": UNKNOWN, "memorySize": UNKNOWN_NUMBER, "timeout": UNKNOWN_NUMBER,
                         "environment": {"variables": {"DB_PASSWORD": UNKNOWN}}}),
    (t.LAMBDA_FUNCTION, {"role": "r", "environment": UNKNOWN}),
    (t.DYNAMODB_TABLE, {"billingMode": UNKNOWN, "pointInTimeRecovery": UNKNOWN, "tags": UNKNOWN}),
    (t.ECS_SERVICE, {"cluster": UNKNOWN, "capacityProviderStrategies": UNKNOWN, "launchType": UNKNOWN}),
    (t.ECS_TASK_DEFINITION, {"family": "f", "cpu": UNKNOWN, "memory": UNKNOWN, "requiresCompatibilities": ["FARGATE"],
                             "containerDefinitions": UNKNOWN}),
    (t.LOG_GROUP, {"retentionInDays": UNKNOWN_NUMBER, "tags": UNKNOWN}),
    (t.SECURITY_GROUP_INGRESS_RULE, {"cidrIpv4": UNKNOWN, "ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0}),
    (t.USER_POOL, {"mfaConfiguration": UNKNOWN, "passwordPolicy": UNKNOWN}),
    (t.ECR_REPOSITORY, {"imageScanningConfiguration": {"scanOnPush": UNKNOWN_BOOL}}),
    (t.LAMBDA_FUNCTION, {"role": "r", "environment": {"variables": {"SIZE_PRESETS": UNKNOWN}}}),
    (t.LAMBDA_LAYER_VERSION_PERMISSION, {"layerName": "l", "principal": UNKNOWN, "organizationId": UNKNOWN}),
    (t.S3_BUCKET_V2, {"bucket": "b", "policy": UNKNOWN}),
    (t.ECR_REPOSITORY_CREATION_TEMPLATE, {"prefix": "p", "repositoryPolicy": UNKNOWN}),
    (t.SSO_MANAGED_POLICY_ATTACHMENT, {"instanceArn": "i", "permissionSetArn": "p", "managedPolicyArn": UNKNOWN}),
    (t.SECURITY_GROUP, {"ingress": [{"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0,
                                     "cidrBlocks": ["10.0.0.0/8", UNKNOWN]}]}),
    (t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:SourceArn": UNKNOWN}}}, as_json=False)}),
])
def test_unknown_values_raise_no_false_alarm(type_, props):
    assert all_messages(type_, props) == []


def test_unknown_part_does_not_hide_known_violations():
    props = {"assumeRolePolicy": UNKNOWN, "inlinePolicies": [
        {"name": "unknown", "policy": UNKNOWN}, {"name": "known", "policy": policy_doc(allow("*"))}]}
    assert any("every action" in m for m in call(RULES_BY_NAME["iam-no-wildcard-actions"], t.ROLE, props))


def test_unknown_statement_is_skipped_but_others_judged():
    doc = policy_doc(allow("dynamodb:GetItem", UNKNOWN), allow("*"), as_json=False)
    assert len(call(RULES_BY_NAME["iam-no-wildcard-actions"], t.POLICY, {"policy": doc})) == 1


def test_unknown_values_in_a_stack_export_are_counted_as_skips():
    report = evaluate(export([entry(t.ROLE_POLICY, {"role": "r", "policy": UNKNOWN}),
                              entry(t.LOG_GROUP, {"retentionInDays": UNKNOWN_NUMBER}, "lg")]), today=TODAY)
    assert [v for v in report.violations if v.urn] == []
    assert report.skipped_unknown >= 1  # the log group check; unknown documents are skipped per document


@pytest.mark.parametrize("document", [
    policy_doc(allow("s3:*", "*")),                                                       # JSON string, list
    policy_doc(allow("s3:*", "*"), as_json=False),                                        # object
    json.dumps({"Version": "2012-10-17", "Statement": allow("S3:*", ["*"])}),             # object statement
    {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}},
])
def test_document_shapes_are_equivalent(document):
    messages = call(RULES_BY_NAME["iam-no-wildcard-actions"], t.POLICY, {"policy": document})
    assert len(messages) == 1 and "every s3 action" in messages[0]


def test_action_names_are_case_insensitive():
    lower = call(RULES_BY_NAME["iam-no-wildcard-resource"], t.POLICY, {"policy": policy_doc(allow("iam:put*"))})
    upper = call(RULES_BY_NAME["iam-no-wildcard-resource"], t.POLICY, {"policy": policy_doc(allow("IAM:PUT*"))})
    assert lower == upper and "iam:PutRolePolicy" in lower[0]


@pytest.mark.parametrize("as_json", [True, False])
def test_provider_default_tags_count_as_tags(as_json):
    table = entry(t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST"}, "table")
    doc = export([table], default_tags=None)
    doc["deployment"]["resources"][1] = provider_entry(DEFAULT_TAGS, as_json=as_json)
    report = evaluate(doc, {"cost-required-tags": "mandatory"}, today=TODAY, rules=[RULES_BY_NAME["cost-required-tags"]])
    assert report.violations == []
    untagged = evaluate(export([table], default_tags=None), today=TODAY, rules=[RULES_BY_NAME["cost-required-tags"]])
    assert [v.message for v in untagged.violations] == ["missing cost-allocation tag(s) project, environment"]


def test_resources_without_provider_reference_use_the_default_provider():
    table = entry(t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST"}, "table", provider=None)
    doc = export([table], default_tags=None)
    doc["deployment"]["resources"][1] = provider_entry(DEFAULT_TAGS, name="default_7_51_1")
    report = evaluate(doc, today=TODAY, rules=[RULES_BY_NAME["cost-required-tags"]])
    assert report.violations == []


def test_secrets_are_decoded_when_plaintext_and_skipped_when_encrypted():
    rule = RULES_BY_NAME["security-no-plaintext-secrets"]
    plain = {**SECRET_SIG, "plaintext": json.dumps("hunter2")}
    sealed = {**SECRET_SIG, "ciphertext": "AAAA"}
    for value, expected in ((plain, 1), (sealed, 0)):
        fn = entry(t.LAMBDA_FUNCTION, {"role": "r", "environment": {"variables": {"DB_PASSWORD": value}}}, "fn")
        report = evaluate(export([fn]), today=TODAY, rules=[rule])
        assert len(report.violations) == expected


def test_sealed_size_presets_are_skipped_and_plaintext_ones_judged():
    rule = RULES_BY_NAME["cost-fargate-task-size"]
    presets = json.dumps({"big": {"cpu": 4096, "memory": 8192}})
    judged = ["environment SIZE_PRESETS size 'big': cpu 4096 exceeds the cap of 1024",
              "environment SIZE_PRESETS size 'big': memory 8192 MiB exceeds the cap of 4096 MiB"]
    sealed, plain = {**SECRET_SIG, "ciphertext": "AAAA"}, {**SECRET_SIG, "plaintext": json.dumps(presets)}
    for value, expected in ((sealed, []), (plain, judged)):
        fn = entry(t.LAMBDA_FUNCTION, {"role": "r", "environment": {"variables": {"SIZE_PRESETS": value}}}, "fn")
        report = evaluate(export([fn]), today=TODAY, rules=[rule])
        assert [v.message for v in report.violations] == expected
        assert report.skipped_unknown == (0 if expected else 1)


def test_secret_in_place_of_a_whole_policy_is_skipped():
    sealed = {**SECRET_SIG, "ciphertext": "AAAA"}
    report = evaluate(export([entry(t.ROLE_POLICY, {"role": "r", "policy": sealed})]), today=TODAY)
    assert [v for v in report.violations if v.policy.startswith("iam")] == []


def test_resource_references_are_downgraded_to_ids():
    ref = {"4dabf18193072939515e22adb298388d": "5cf8f73096256a8f31e491e813e4eb8e",
           "urn": "urn:pulumi:test::proj::aws:lambda/function:Function::fn", "id": "fn-id"}
    perm = entry(t.LAMBDA_PERMISSION, {"action": "lambda:InvokeFunction", "function": ref,
                                       "principal": "events.amazonaws.com", "sourceArn": ref}, "perm")
    report = evaluate(export([perm]), today=TODAY, rules=[RULES_BY_NAME["lambda-permission-restricted"]])
    assert report.violations == []


def test_deleted_and_external_resources_are_ignored():
    bad = policy_doc(allow("*"))
    gone = {**entry(t.ROLE_POLICY, {"role": "r", "policy": bad}, "gone"), "delete": True}
    read = {**entry(t.ROLE_POLICY, {"role": "r", "policy": bad}, "read"), "external": True}
    report = evaluate(export([gone, read]), today=TODAY, rules=[RULES_BY_NAME["iam-no-wildcard-actions"]])
    assert report.violations == []


def test_unexpected_value_shape_is_reported_not_crashed():
    fn = entry(t.LAMBDA_FUNCTION, {"role": "r", "memorySize": "lots"}, "fn")
    report = evaluate(export([fn]), today=TODAY, rules=[RULES_BY_NAME["cost-lambda-limits"]])
    assert len(report.violations) == 1 and "could not evaluate" in report.violations[0].message


def test_providers_are_resolved_by_reference():
    other = provider_entry({"project": "x"}, name="other")
    other["id"] = "other-id"
    table = entry(t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST"}, "table",
                  provider=f"{other['urn']}::other-id")
    doc = export([other, table])
    report = evaluate(doc, today=TODAY, rules=[RULES_BY_NAME["cost-required-tags"]])
    assert [v.message for v in report.violations] == ["missing cost-allocation tag(s) environment"]
    assert PROVIDER_REF != table["provider"]


def test_table_arn_fixture_is_scoped():
    assert call(RULES_BY_NAME["iam-no-wildcard-resource"], t.POLICY,
                {"policy": policy_doc(allow("dynamodb:GetItem", TABLE_ARN))}) == []
