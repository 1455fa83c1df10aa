"""Policy-bearing properties come from the provider SDKs, and the IAM rules read every one (kind E)."""

from __future__ import annotations

import gzip
import json
import re
import textwrap

import pytest

from policies import awstypes as t
from policies import datagen, policygen
from policies.engine import evaluate
from policies.rules import RULES_BY_NAME

from .helpers import TODAY, call, entry, export

ACCOUNT = "123456789012"
OPEN = {"Version": "2012-10-17", "Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "*",
                                                "Resource": "*"}]}
SCOPED = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                  "Action": "es:ESHttpGet", "Resource": "*"}]}
IDENTITY_ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

# (type, the property path holding its policy, kind): the examples in both providers.
EXAMPLES = [
    ("aws:opensearch/domain:Domain", "accessPolicies", "resource"),
    ("aws:opensearch/domainPolicy:DomainPolicy", "accessPolicies", "resource"),
    ("aws:dynamodb/resourcePolicy:ResourcePolicy", "policy", "resource"),
    ("aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy", "inlinePolicy", "identity"),
    ("aws:efs/fileSystemPolicy:FileSystemPolicy", "policy", "resource"),
    ("aws:backup/vaultPolicy:VaultPolicy", "policy", "resource"),
    ("aws:apigateway/restApi:RestApi", "policy", "resource"),
    ("aws:apigateway/restApiPolicy:RestApiPolicy", "policy", "resource"),
    ("aws-native:opensearchservice:Domain", "accessPolicies", "resource"),
    ("aws-native:dynamodb:Table", "resourcePolicy.policyDocument", "resource"),
    ("aws-native:sso:PermissionSet", "inlinePolicy", "identity"),
    ("aws-native:efs:FileSystem", "fileSystemPolicy", "resource"),
    ("aws-native:backup:BackupVault", "accessPolicy", "resource"),
    ("aws-native:apigateway:RestApi", "policy", "resource"),
    ("aws-native:iam:Role", "assumeRolePolicyDocument", "trust"),
    ("aws-native:iam:Role", "policies[].policyDocument", "identity"),
]


@pytest.mark.parametrize("type_, path, kind", EXAMPLES)
def test_the_examples_are_policy_bearing(type_, path, kind):
    assert (path, kind) in t.POLICY_PROPERTIES[type_]
    assert type_ in t.DOCUMENT_HOLDERS


def _nest(path: str, document: object) -> dict:
    """Inputs holding `document` at `path` (list items are named blocks)."""
    value = document
    for part in reversed(path.split(".")):
        value = {part[:-2]: [{"policyName": "inline", **value}]} if part.endswith("[]") else {part: value}
    return value  # type: ignore[return-value]


@pytest.mark.parametrize("type_, path, kind", [e for e in EXAMPLES if e[2] != "trust"])
def test_iam_rules_read_every_policy_bearing_property(type_, path, kind):
    document = json.dumps(OPEN if kind == "resource" else IDENTITY_ADMIN) if type_.startswith("aws:") else \
        (OPEN if kind == "resource" else IDENTITY_ADMIN)
    props = _nest(path, document)
    actions = call(RULES_BY_NAME["iam-no-wildcard-actions"], type_, props)
    assert any("grants every action" in m for m in actions), actions
    if kind == "resource":
        principals = call(RULES_BY_NAME["iam-no-open-principal"], type_, props)
        assert any("allows principal '*'" in m for m in principals), principals
    # A scoped document passes.
    scoped = json.dumps(SCOPED) if type_.startswith("aws:") else SCOPED
    if kind == "identity":
        scoped = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "es:ESHttpGet",
                                                          "Resource": f"arn:aws:es:us-east-1:{ACCOUNT}:domain/d/*"}]}
    assert call(RULES_BY_NAME["iam-no-wildcard-actions"], type_, _nest(path, scoped)) == []


def test_aws_native_role_trust_and_inline_policies_in_an_export():
    role = {"assumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]},
            "policies": [{"policyName": "admin", "policyDocument": IDENTITY_ADMIN}]}
    report = evaluate(export([entry("aws-native:iam:Role", role, "role", provider=None)]), today=TODAY,
                      rules=[RULES_BY_NAME["iam-no-wildcard-actions"], RULES_BY_NAME["iam-no-open-principal"]])
    messages = [v.message for v in report.violations]
    assert any(m.startswith("policies[admin]: statement #0: Action '*' grants every action") for m in messages), messages
    assert any(m.startswith("assumeRolePolicyDocument: statement #0: allows principal '*'") for m in messages)


def test_non_iam_policy_grammars_are_not_read_as_iam():
    lifecycle = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                                        "countNumber": 5}, "action": {"type": "expire"}}]})
    assert "aws:ecr/lifecyclePolicy:LifecyclePolicy" not in t.POLICY_PROPERTIES
    assert call(RULES_BY_NAME["iam-policy-document-valid"], "aws:ecr/lifecyclePolicy:LifecyclePolicy",
                {"policy": lifecycle}) == []
    # Subscription filter/redrive "policies" are settings, not documents.
    assert all(p == "policy" for p, _ in t.POLICY_PROPERTIES["aws:sqs/queue:Queue"])


def test_shipped_pulumi_aws_section_matches_the_installed_sdk():
    shipped = json.loads(datagen.POLICY_PROPERTIES_FILE.read_text())
    fresh = json.loads(datagen.render_policy_properties())
    assert shipped["providers"]["aws"] == fresh["providers"]["aws"], "run python -m policies.datagen"
    assert shipped["providers"]["aws-native"]["sdk"].startswith("pulumi-aws-native ")


def test_a_new_type_is_covered_by_regenerating(tmp_path):
    """The generator reads what an SDK declares: a policy-named JSON property described as a policy
    document (and nested blocks of them), not settings that happen to be called policies."""
    package = tmp_path / "pulumi_fake"
    (package / "widget").mkdir(parents=True)
    (package / "widget" / "gadget.py").write_text(textwrap.dedent('''
        @pulumi.type_token("fake:widget/gadget:Gadget")
        class Gadget(pulumi.CustomResource):
            def __init__(__self__, resource_name, opts=None, access_policy=None, redrive_policy=None,
                         lifecycle_policy=None, sharing=None):
                """
                :param pulumi.Input[_builtins.str] access_policy: JSON policy document that controls access to the gadget.
                :param pulumi.Input[_builtins.str] redrive_policy: JSON redrive settings.
                :param pulumi.Input[_builtins.str] lifecycle_policy: JSON lifecycle policy document.
                :param pulumi.Input['GadgetSharingArgs'] sharing: Sharing settings.
                """
            def _internal_init(__self__,
                         resource_name: str,
                         opts: Optional[pulumi.ResourceOptions] = None,
                         access_policy: pulumi.Input[Optional[_builtins.str]] = None,
                         redrive_policy: pulumi.Input[Optional[_builtins.str]] = None,
                         lifecycle_policy: pulumi.Input[Optional[_builtins.str]] = None,
                         sharing: pulumi.Input[Optional['GadgetSharingArgs']] = None,
                         __props__=None):
                pass
        '''))
    (package / "widget" / "_inputs.py").write_text(textwrap.dedent('''
        class GadgetSharingArgs:
            def __init__(__self__, *,
                         resource_policy: Any):
                """
                :param Any resource_policy: A resource-based policy document for shared access.
                """
        '''))
    found = sorted(policygen.scan(package))
    assert found == [("fake:widget/gadget:Gadget", "accessPolicy", "resource"),
                     ("fake:widget/gadget:Gadget", "sharing.resourcePolicy", "resource")]


def test_managed_policy_snapshot_is_dated_sourced_and_small():
    from policies import managedpolicies

    data = managedpolicies.snapshot()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"]) and re.fullmatch(r"[0-9a-f]{40}", data["commit"])
    assert "iann0036/iam-dataset" in data["source"] and "MIT" in data["source"]
    assert managedpolicies.SNAPSHOT_FILE.stat().st_size < 2_000_000 and len(data["policies"]) > 1000
    assert managedpolicies.document("AdministratorAccess")["Statement"] == [
        {"Action": ["*"], "Effect": "Allow", "Resource": "*"}]
    assert all(s["Effect"] == "Allow" for statements in data["policies"].values() for s in statements)


def test_managed_policy_refresh_reads_an_iam_dataset_checkout(tmp_path, monkeypatch):
    from policies import managedpolicies

    folder = tmp_path / "aws" / "managedpolicies"
    folder.mkdir(parents=True)
    (folder / "Broad.json").write_text(json.dumps({"arn": "arn:aws:iam::aws:policy/team/Broad", "document": {
        "Statement": [{"Sid": "x", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                      {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}}))
    (folder / "Gone.json").write_text(json.dumps({"arn": None, "deprecated": True}))
    target = tmp_path / "out.json.gz"
    monkeypatch.setattr(managedpolicies, "SNAPSHOT_FILE", target)
    assert managedpolicies.main([str(tmp_path), "--commit", "a" * 40, "--date", "2026-01-02"]) == 0
    data = json.loads(gzip.decompress(target.read_bytes()))
    assert data["policies"] == {"team/Broad": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert (data["commit"], data["date"]) == ("a" * 40, "2026-01-02")
    assert managedpolicies.main([str(tmp_path / "nowhere"), "--commit", "a", "--date", "d"]) == 2


# Properties the split-shape, cost and storage rules read, checked against the installed SDK (python names).
READS = {
    t.DEFAULT_SECURITY_GROUP: ["ingress"], t.SECURITY_GROUP_RULE: ["security_group_id", "type", "protocol"],
    t.SECURITY_GROUP_INGRESS_RULE: ["security_group_id", "ip_protocol", "cidr_ipv4", "cidr_ipv6"],
    t.LB_LISTENER: ["load_balancer_arn", "port", "default_actions"], t.LB_LISTENER_RULE: ["listener_arn", "actions"],
    t.LB: ["security_groups", "load_balancer_type"],
    t.DYNAMODB_TABLE_REPLICA: ["global_table_arn", "point_in_time_recovery", "deletion_protection_enabled"],
    t.APPAUTOSCALING_TARGET: ["service_namespace", "resource_id", "scalable_dimension", "max_capacity"],
    t.LAMBDA_PROVISIONED_CONCURRENCY: ["function_name", "provisioned_concurrent_executions"],
    t.LAMBDA_FUNCTION: ["logging_config", "name", "memory_size", "timeout"],
    t.ECS_SERVICE: ["desired_count", "scheduling_strategy"],
    t.RDS_INSTANCE: ["engine", "instance_class", "multi_az"], t.RDS_CLUSTER_INSTANCE: ["engine", "instance_class"],
    t.RDS_CLUSTER: ["engine", "serverlessv2_scaling_configuration", "db_cluster_instance_class"],
    t.ELASTICACHE_CLUSTER: ["node_type", "num_cache_nodes", "replication_group_id"],
    t.ELASTICACHE_REPLICATION_GROUP: ["node_type", "num_node_groups", "replicas_per_node_group", "num_cache_clusters"],
    t.OPENSEARCH_DOMAIN: ["cluster_config"], t.EC2_INSTANCE: ["instance_type"],
    t.ECR_REGISTRY_SCANNING: ["scan_type", "rules"], t.ECR_REPOSITORY: ["name", "image_scanning_configuration"],
    t.S3_BUCKET: ["bucket", "acl", "grants", "policy"], t.S3_BUCKET_ACL_V2: ["bucket", "acl", "access_control_policy"],
    t.S3_BUCKET_ACL: ["bucket", "acl", "access_control_policy"], t.S3_BUCKET_POLICY: ["bucket", "policy"],
    t.S3_BUCKET_PUBLIC_ACCESS_BLOCK: ["bucket", "block_public_acls", "ignore_public_acls", "block_public_policy",
                                      "restrict_public_buckets"],
    t.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK: ["block_public_acls", "restrict_public_buckets"],
    t.S3_OWNERSHIP_CONTROLS: ["bucket", "rule"], t.SNS_TOPIC: ["kms_master_key_id"],
    t.SQS_QUEUE: ["kms_master_key_id", "sqs_managed_sse_enabled"], t.SSM_PARAMETER: ["name", "type", "value"],
    t.BUDGET: ["cost_filters", "cost_types", "notifications", "limit_amount"],
}


def test_types_and_properties_the_new_rules_read_exist_in_the_sdk():
    inputs = datagen.scan_resource_inputs()
    for type_, props in READS.items():
        assert type_ in inputs, type_
        missing = [p for p in props if p not in inputs[type_]]
        assert not missing, (type_, missing)
