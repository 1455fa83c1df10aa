"""Violating and compliant cases for every rule, run both as direct calls and as stack exports.

RESOURCE_CASES: (rule, type, inputs, expected substring or None for compliant, config)
STACK_CASES: (rule, [(type, inputs, name)], expected substring or None, config)
"""

from __future__ import annotations

import json

from policies import awstypes as t

from .helpers import allow, policy_doc

ACCOUNT = "123456789012"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sessions"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/session-task"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
OWN_TOPICS = f"arn:aws:sns:*:{ACCOUNT}:*"  # wildcards, but pinned to the account
LAMBDA_TRUST = policy_doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                           "Action": "sts:AssumeRole"})
SCOPED = policy_doc(allow(["dynamodb:GetItem", "dynamodb:PutItem"], [TABLE_ARN, f"{TABLE_ARN}/index/*"]))
TAGS = {"project": "proj", "environment": "test"}
SPOT = [{"capacityProvider": "FARGATE_SPOT", "weight": 3.0}, {"capacityProvider": "FARGATE", "weight": 1.0}]
CONTAINERS = json.dumps([{"name": "app", "image": "x", "environment": [{"name": "PORT", "value": "8080"}]}])
GOOD_TABLE = {"billingMode": "PAY_PER_REQUEST", "pointInTimeRecovery": {"enabled": True},
              "serverSideEncryption": {"enabled": True}, "deletionProtectionEnabled": True}


def _open_queue(condition: dict) -> dict:
    """A queue policy open to principal '*' under `condition`."""
    return {"queueUrl": "q", "policy": policy_doc({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                                   "Resource": "*", "Condition": condition})}


def _budget(limit: str = "50", kinds: tuple = ("ACTUAL", "FORECASTED"), **extra) -> dict:
    return {"budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": limit, "limitUnit": "USD",
            "notifications": [{"notificationType": k, "comparisonOperator": "GREATER_THAN", "threshold": 80.0,
                               "thresholdType": "PERCENTAGE", "subscriberEmailAddresses": ["a@example.com"]}
                              for k in kinds], **extra}


RESOURCE_CASES = [
    # iam-policy-document-valid
    ("iam-policy-document-valid", t.ROLE_POLICY, {"role": "r", "policy": "{not json"}, "not valid JSON", {}),
    ("iam-policy-document-valid", t.POLICY, {"policy": json.dumps({"Version": "2012-10-17"})}, "has no Statement", {}),
    ("iam-policy-document-valid", t.POLICY, {"policy": policy_doc({"Effect": "Permit", "Action": "s3:GetObject",
                                                                    "Resource": "*"})}, "Effect", {}),
    ("iam-policy-document-valid", t.POLICY, {"policy": SCOPED}, None, {}),
    ("iam-policy-document-valid", t.POLICY, {"policy": policy_doc({"Effect": "Allow", "Action": 5, "Resource": "*"})},
     "Action must be a string or a list of strings (got 5)", {}),
    ("iam-policy-document-valid", t.POLICY, {"policy": policy_doc({"Effect": "Allow", "Action": {"a": 1},
                                                                    "Resource": "*"})},
     'Action must be a string or a list of strings (got {"a": 1})', {}),
    ("iam-policy-document-valid", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"a": 1}})}, 'Resource must be a string', {}),
    ("iam-policy-document-valid", t.POLICY, {"policy": policy_doc({"Effect": "Allow", "Action": "s3:GetObject"})},
     "needs exactly one of Resource or NotResource", {}),
    ("iam-policy-document-valid", t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST, "inlinePolicies": [
        {"name": "p", "policy": policy_doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                            "Resource": "*"})}]}, "names a Principal", {}),
    # Trust and resource policies need no Resource (ECR repository policies and trust policies have none).
    ("iam-policy-document-valid", t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST}, None, {}),
    ("iam-policy-document-valid", t.ECR_REPOSITORY_POLICY, {"repository": "r", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "ecr:BatchGetImage"})},
     None, {}),
    # iam-no-wildcard-actions
    ("iam-no-wildcard-actions", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("*"))}, "every action", {}),
    ("iam-no-wildcard-actions", t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST, "inlinePolicies": [
        {"name": "app", "policy": policy_doc(allow(["DynamoDB:*"], TABLE_ARN))}]}, "every dynamodb action", {}),
    ("iam-no-wildcard-actions", t.POLICY, {"policy": policy_doc(
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, as_json=False)}, "NotAction", {}),
    ("iam-no-wildcard-actions", t.USER_POLICY, {"user": "u", "policy": policy_doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"})}, "NotResource", {}),
    ("iam-no-wildcard-actions", t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sqs:*",
         "Resource": "*"})}, "every sqs action", {}),
    # SQS's own default owner statement (SQS:* to the same account's root) passes; another account's does not.
    ("iam-no-wildcard-actions", t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": policy_doc(
        {"Sid": "__owner_statement", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "SQS:*", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"})}, None, {}),
    ("iam-no-wildcard-actions", t.SQS_QUEUE, {"policy": policy_doc(
        {"Sid": "__owner_statement", "Effect": "Allow", "Principal": {"AWS": ACCOUNT},
         "Action": "SQS:*", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"})}, None, {}),
    ("iam-no-wildcard-actions", t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
         "Action": "SQS:*", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"})}, "every sqs action", {}),
    ("iam-no-wildcard-actions", t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "SQS:*", "Resource": "*"})}, "every sqs action", {}),
    # A known Action '*' behind an unknown Resource is still judged (the unknown hides only the resource).
    ("iam-no-wildcard-actions", t.ROLE_POLICY, {"role": "r", "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}]}},
     "grants every action", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}]}}, None, {}),
    # An unknown list element hides only itself; an unknown condition value may restrict.
    ("iam-no-wildcard-actions", t.ROLE_POLICY, {"role": "r", "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "*"],
         "Resource": ["04da6b54-80e4-46f7-96ec-b56ff0331ba9"]}]}}, "Action '*' grants every action", {}),
    ("iam-no-open-principal", t.SNS_TOPIC_POLICY, {"arn": "t", "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["04da6b54-80e4-46f7-96ec-b56ff0331ba9", "*"]},
         "Action": "sns:Publish", "Resource": "*"}]}}, "allows principal '*'", {}),
    ("iam-no-open-principal", t.SNS_TOPIC_POLICY, {"arn": "t", "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:SourceArn": ["04da6b54-80e4-46f7-96ec-b56ff0331ba9"]}}}]}}, None, {}),
    ("iam-no-wildcard-actions", t.KMS_KEY, {"policy": policy_doc(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"})}, None, {}),
    ("iam-no-wildcard-actions", t.GROUP_POLICY, {"group": "g", "policy": policy_doc(
        {"Effect": "Deny", "Action": "*", "Resource": "*"})}, None, {}),
    ("iam-no-wildcard-actions", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("xray:*"))}, None,
     {"allowedServiceWildcards": ["xray:*"]}),
    ("iam-no-wildcard-actions", t.ROLE_POLICY, {"role": "r", "policy": SCOPED}, None, {}),
    ("iam-no-wildcard-actions", t.POLICY, {"policy": policy_doc(allow("iam:*?", ROLE_ARN))}, "every iam action", {}),
    ("iam-no-wildcard-actions", t.POLICY, {"policy": policy_doc(allow("*:Get*"))}, "matches actions of every service",
     {}),
    ("iam-no-wildcard-actions", t.POLICY, {"policy": policy_doc(allow("s3:*Object", "arn:aws:s3:::b/*"))}, None, {}),
    ("iam-no-wildcard-actions", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("xray:*?"))}, None,
     {"allowedServiceWildcards": ["xray:*"]}),
    ("iam-no-wildcard-actions", t.S3_BUCKET, {"bucket": "b", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:*",
         "Resource": "arn:aws:s3:::b/*"})}, "every s3 action", {}),
    ("iam-no-wildcard-actions", t.LAMBDA_RESOURCE_POLICY, {"resourceArn": "f", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "lambda:*",
         "Resource": "*"})}, "every lambda action", {}),
    ("iam-no-wildcard-actions", t.KMS_EXTERNAL_KEY, {"policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
         "Resource": "*"})}, None, {}),
    # iam-no-managed-admin-policies
    ("iam-no-managed-admin-policies", t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST,
                                               "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
     "AdministratorAccess", {}),
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"}, "AmazonDynamoDBFullAccess", {}),
    ("iam-no-managed-admin-policies", t.POLICY_ATTACHMENT,
     {"policyArn": "arn:aws:iam::aws:policy/job-function/SystemAdministrator", "roles": ["r"]},
     "SystemAdministrator", {}),
    ("iam-no-managed-admin-policies", t.USER_POLICY_ATTACHMENT,
     {"user": "u", "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}, "PowerUserAccess", {}),
    ("iam-no-managed-admin-policies", t.GROUP_POLICY_ATTACHMENT,
     {"group": "g", "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"}, "IAMFullAccess", {}),
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}, None, {}),
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonSSMFullAccess"}, None,
     {"allowlist": ["AmazonSSMFullAccess"]}),
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/MyFullAccess"}, None, {}),
    ("iam-no-managed-admin-policies", t.USER_POLICY_ATTACHMENTS_EXCLUSIVE,
     {"userName": "u", "policyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}, "AdministratorAccess", {}),
    ("iam-no-managed-admin-policies", t.GROUP_POLICY_ATTACHMENTS_EXCLUSIVE,
     {"groupName": "g", "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess",
                                       "arn:aws:iam::aws:policy/PowerUserAccess"]}, "PowerUserAccess", {}),
    ("iam-no-managed-admin-policies", t.SSO_MANAGED_POLICY_ATTACHMENT,
     {"instanceArn": "i", "permissionSetArn": "p", "managedPolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
     "AdministratorAccess", {}),
    ("iam-no-managed-admin-policies", t.SSO_MANAGED_POLICY_ATTACHMENT,
     {"instanceArn": "i", "permissionSetArn": "p", "managedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
     None, {}),
    # Judged by the document: a broad policy with an unusual name is caught, a missing one falls back to names.
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AWSAppSyncAdministrator"},
     "which grants: statement #0: Action 'appsync:*' grants every appsync action", {}),
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}, "Allow with NotAction", {}),
    ("iam-no-managed-admin-policies", t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST, "managedPolicyArns": [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess", "arn:aws:iam::aws:policy/SecurityAudit"]}, None, {}),
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/NotYetInTheSnapshotFullAccess"},
     "attaches AWS managed policy NotYetInTheSnapshotFullAccess (arn", {}),
    ("iam-no-managed-admin-policies", t.ROLE_POLICY_ATTACHMENT,
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/NotYetInTheSnapshot"}, None, {}),
    ("iam-no-managed-admin-policies", "aws-native:iam:Role", {"assumeRolePolicyDocument": {}, "managedPolicyArns": [
        "arn:aws:iam::aws:policy/AWSAppSyncAdministrator"]}, "grants every appsync action", {}),
    ("iam-no-managed-admin-policies", "aws-native:sso:PermissionSet", {"name": "ops", "managedPolicies": [
        "arn:aws:iam::aws:policy/SecurityAudit"]}, None, {}),
    # iam-no-wildcard-resource
    ("iam-no-wildcard-resource", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(
        allow(["dynamodb:GetItem", "ecr:GetAuthorizationToken"]))}, "dynamodb:GetItem", {}),
    ("iam-no-wildcard-resource", t.POLICY, {"policy": policy_doc(allow("iam:Put*"), as_json=False)},
     "iam:PutRolePolicy", {}),
    ("iam-no-wildcard-resource", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(
        allow(["ecr:GetAuthorizationToken", "xray:PutTraceSegments", "cloudwatch:PutMetricData"]))}, None, {}),
    ("iam-no-wildcard-resource", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("s3:GetObjct", "*"))},
     "unknown IAM action", {}),
    ("iam-no-wildcard-resource", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(
        allow("ec2:StopInstances", "*", Condition={"StringEquals": {"aws:ResourceTag/project": "proj"}}))}, None, {}),
    ("iam-no-wildcard-resource", t.ROLE_POLICY, {"role": "r", "policy": SCOPED}, None, {}),
    ("iam-no-wildcard-resource", t.POLICY, {"policy": policy_doc(allow("s3:GetObject", "arn:aws:s3:::*"))},
     "Resource 'arn:aws:s3:::*' on 1 action(s)", {}),
    ("iam-no-wildcard-resource", t.POLICY, {"policy": policy_doc(allow("dynamodb:GetItem",
                                                                       "arn:aws:dynamodb:*:*:table/*"))},
     "dynamodb:GetItem", {}),
    ("iam-no-wildcard-resource", t.POLICY, {"policy": policy_doc(allow(["s3:GetObject", "s3:ListAllMyBuckets"],
                                                                       ["arn:aws:s3:::assets/*", "arn:aws:s3:::*"]))},
     "on 1 action(s) that support resource-level permissions: s3:GetObject", {}),
    ("iam-no-wildcard-resource", t.POLICY, {"policy": policy_doc(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"))},
     None, {}),
    ("iam-no-wildcard-resource", t.POLICY, {"policy": policy_doc(allow("s3:GetObject", "arn:aws:s3:::assets/*"))},
     None, {}),
    ("iam-no-wildcard-resource", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow(
        "ec2:StopInstances", "*", Condition={"StringLike": {"aws:ResourceTag/project": "*"}}))},
     "ec2:StopInstances", {}),
    # iam-no-privilege-escalation
    ("iam-no-privilege-escalation", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("iam:PassRole"))},
     "iam:PassRole on '*'", {}),
    ("iam-no-privilege-escalation", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("iam:PassRole", ROLE_ARN))},
     "without an iam:PassedToService", {}),
    ("iam-no-privilege-escalation", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow(
        "iam:PassRole", ROLE_ARN, Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}))},
     None, {}),
    ("iam-no-privilege-escalation", t.POLICY, {"policy": policy_doc(allow(
        ["iam:CreatePolicyVersion", "iam:AttachRolePolicy"], f"arn:aws:iam::{ACCOUNT}:role/*"))},
     "privilege-escalation", {}),
    ("iam-no-privilege-escalation", t.POLICY, {"policy": policy_doc(allow("sts:AssumeRole"))}, "sts:AssumeRole", {}),
    ("iam-no-privilege-escalation", t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST, "inlinePolicies": [
        {"name": "read", "policy": policy_doc(allow(["secretsmanager:GetSecretValue", "kms:Decrypt"]))}]},
     "reads secrets", {}),
    ("iam-no-privilege-escalation", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow("ssm:GetParameters"))},
     "ssm:GetParameters", {}),
    ("iam-no-privilege-escalation", t.ROLE_POLICY, {"role": "r", "policy": policy_doc(allow(
        "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app-*"))}, None, {}),
    # iam-no-open-principal
    ("iam-no-open-principal", t.SNS_TOPIC_POLICY, {"arn": "t", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*"})}, "principal '*'", {}),
    ("iam-no-open-principal", t.ROLE, {"assumeRolePolicy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})}, "principal '*'", {}),
    ("iam-no-open-principal", t.ROLE, {"assumeRolePolicy": policy_doc(
        {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
         "Action": "sts:AssumeRoleWithWebIdentity"})}, "federated principal", {}),
    ("iam-no-open-principal", t.S3_BUCKET_POLICY, {"bucket": "b", "policy": policy_doc(
        {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*"})}, "NotPrincipal", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, {"queueUrl": "q", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:topic"}}})}, None, {}),
    ("iam-no-open-principal", t.S3_BUCKET_POLICY, {"bucket": "b", "policy": policy_doc(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}})}, None, {}),
    ("iam-no-open-principal", t.ROLE, {"assumeRolePolicy": LAMBDA_TRUST}, None, {}),
    ("iam-no-open-principal", t.SNS_TOPIC_POLICY, {"arn": "t", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*",
         "Condition": {"StringLike": {"aws:SourceArn": "*"}}})}, "principal '*'", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, _open_queue({"StringEquals": {"aws:SourceAccount": "*"}}),
     "principal '*'", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, _open_queue({"Null": {"aws:SourceArn": "false"}}), "principal '*'", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, _open_queue({"ArnLikeIfExists": {"aws:SourceArn": TOPIC_ARN}}),
     "principal '*'", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, _open_queue({"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}),
     "principal '*'", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, _open_queue({"ArnLike": {"aws:SourceArn": [TOPIC_ARN,
                                                                                            "arn:aws:sns:*:*:*"]}}),
     "principal '*'", {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, _open_queue({"ArnLike": {"aws:SourceArn": OWN_TOPICS}}), None, {}),
    ("iam-no-open-principal", t.SQS_QUEUE_POLICY, _open_queue({"StringEquals": {"aws:SourceAccount": ACCOUNT},
                                                               "Null": {"aws:SourceArn": "false"}}), None, {}),
    ("iam-no-open-principal", t.ROLE, {"assumeRolePolicy": policy_doc(
        {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
         "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"Null": {"cognito-identity.amazonaws.com:aud": "false"}}})}, "federated principal", {}),
    ("iam-no-open-principal", t.S3_BUCKET_V2, {"bucket": "b", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})},
     "principal '*'", {}),
    ("iam-no-open-principal", t.S3_BUCKET, {"bucket": "b", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        as_json=False)}, "principal '*'", {}),
    ("iam-no-open-principal", t.S3_ACCESS_POINT, {"bucket": "b", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/ap/object/*"})}, "principal '*'", {}),
    ("iam-no-open-principal", t.KMS_REPLICA_KEY, {"primaryKeyArn": "k", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})}, "principal '*'", {}),
    ("iam-no-open-principal", t.KMS_REPLICA_EXTERNAL_KEY, {"primaryKeyArn": "k", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})}, "principal '*'", {}),
    ("iam-no-open-principal", t.ECR_REPOSITORY_CREATION_TEMPLATE, {
        "prefix": "p", "appliedFors": ["PULL_THROUGH_CACHE"], "repositoryPolicy": policy_doc(
            {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"})}, "principal '*'", {}),
    ("iam-no-open-principal", t.LAMBDA_RESOURCE_POLICY, {"resourceArn": "f", "policy": policy_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": "*"})},
     "principal '*'", {}),
    ("iam-no-open-principal", t.S3_BUCKET_V2, {"bucket": "b", "policy": policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*"})}, None, {}),
    # lambda-permission-restricted
    ("lambda-permission-restricted", t.LAMBDA_PERMISSION, {"action": "lambda:InvokeFunction", "function": "f",
                                                           "principal": "*"}, "principal '*'", {}),
    ("lambda-permission-restricted", t.LAMBDA_PERMISSION, {"action": "lambda:InvokeFunction", "function": "f",
                                                           "principal": "events.amazonaws.com"}, "without sourceArn", {}),
    ("lambda-permission-restricted", t.LAMBDA_PERMISSION, {
        "action": "lambda:InvokeFunction", "function": "f", "principal": "events.amazonaws.com",
        "sourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/reaper"}, None, {}),
    ("lambda-permission-restricted", t.LAMBDA_PERMISSION, {"action": "lambda:InvokeFunction", "function": "f",
                                                           "principal": ACCOUNT}, None, {}),
    ("lambda-permission-restricted", t.LAMBDA_PERMISSION, {
        "action": "lambda:InvokeFunction", "function": "f", "principal": "s3.amazonaws.com",
        "sourceArn": "arn:aws:s3:::*"}, "matches every resource", {}),
    ("lambda-permission-restricted", t.LAMBDA_PERMISSION, {
        "action": "lambda:InvokeFunction", "function": "f", "principal": "s3.amazonaws.com",
        "sourceArn": "arn:aws:s3:::uploads"}, None, {}),
    ("lambda-permission-restricted", t.LAMBDA_LAYER_VERSION_PERMISSION, {
        "action": "lambda:GetLayerVersion", "layerName": "l", "principal": "*", "statementId": "s",
        "versionNumber": 1.0}, "every AWS account", {}),
    ("lambda-permission-restricted", t.LAMBDA_LAYER_VERSION_PERMISSION, {
        "action": "lambda:GetLayerVersion", "layerName": "l", "principal": "*", "organizationId": "o-abc123",
        "statementId": "s", "versionNumber": 1.0}, None, {}),
    ("lambda-permission-restricted", t.LAMBDA_LAYER_VERSION_PERMISSION, {
        "action": "lambda:GetLayerVersion", "layerName": "l", "principal": ACCOUNT, "statementId": "s",
        "versionNumber": 1.0}, None, {}),
    # cost-fargate-spot
    ("cost-fargate-spot", t.ECS_CLUSTER_CAPACITY_PROVIDERS, {
        "clusterName": "c", "capacityProviders": ["FARGATE"],
        "defaultCapacityProviderStrategies": [{"capacityProvider": "FARGATE", "weight": 1.0}]}, "FARGATE_SPOT", {}),
    ("cost-fargate-spot", t.ECS_CLUSTER_CAPACITY_PROVIDERS, {
        "clusterName": "c", "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "defaultCapacityProviderStrategies": SPOT}, None, {}),
    ("cost-fargate-spot", t.ECS_SERVICE, {"cluster": "c", "taskDefinition": "td", "launchType": "FARGATE"},
     "on-demand", {}),
    ("cost-fargate-spot", t.ECS_SERVICE, {"cluster": "c", "taskDefinition": "td", "capacityProviderStrategies": [
        {"capacityProvider": "FARGATE", "weight": 1.0, "base": 2.0}, {"capacityProvider": "FARGATE_SPOT", "weight": 1.0}]},
     "base of 2", {}),
    ("cost-fargate-spot", t.ECS_SERVICE, {"cluster": "c", "taskDefinition": "td", "capacityProviderStrategies": SPOT},
     None, {}),
    ("cost-fargate-spot", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "CAPACITY_PROVIDER_STRATEGY": json.dumps([{"capacityProvider": "FARGATE", "weight": 1}])}}},
     "CAPACITY_PROVIDER_STRATEGY", {}),
    ("cost-fargate-spot", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "CAPACITY_PROVIDER_STRATEGY": json.dumps([{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}])}}},
     None, {}),
    ("cost-fargate-spot", t.ECS_SERVICE, {"cluster": "c", "taskDefinition": "td", "launchType": "FARGATE"}, None,
     {"requireSpot": False}),
    # cost-fargate-task-size
    ("cost-fargate-task-size", t.ECS_TASK_DEFINITION, {"family": "f", "cpu": "4096", "memory": "8192",
                                                       "requiresCompatibilities": ["FARGATE"],
                                                       "containerDefinitions": CONTAINERS}, "exceeds the cap", {}),
    ("cost-fargate-task-size", t.ECS_TASK_DEFINITION, {"family": "f", "cpu": "256", "memory": "4096",
                                                       "requiresCompatibilities": ["FARGATE"],
                                                       "containerDefinitions": CONTAINERS}, "not a valid Fargate", {}),
    ("cost-fargate-task-size", t.ECS_TASK_DEFINITION, {"family": "f", "cpu": "1 vCPU", "memory": "2 GB",
                                                       "requiresCompatibilities": ["FARGATE"],
                                                       "containerDefinitions": CONTAINERS}, None, {}),
    ("cost-fargate-task-size", t.ECS_TASK_DEFINITION, {"family": "f", "cpu": "8192", "memory": "16384",
                                                       "requiresCompatibilities": ["EC2"],
                                                       "containerDefinitions": CONTAINERS}, None, {}),
    ("cost-fargate-task-size", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SIZE_PRESETS": json.dumps({"small": {"cpu": 512, "memory": 1024}, "huge": {"cpu": 16384, "memory": 122880}})}}},
     "size 'huge': cpu 16384 exceeds the cap of 1024", {}),
    ("cost-fargate-task-size", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SIZE_PRESETS": json.dumps({"odd": {"cpu": "256", "memory": "4096"}})}}}, "not a valid Fargate", {
        "maxMemoryMiB": 8192}),
    ("cost-fargate-task-size", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SIZE_PRESETS": "{not json"}}}, "is not a JSON object of sizes", {}),
    ("cost-fargate-task-size", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SIZE_PRESETS": json.dumps({"x": {"cpu": 1.5, "memory": 2048}})}}}, "needs integer cpu and memory", {}),
    ("cost-fargate-task-size", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SESSION_SIZES": json.dumps({"big": {"cpu": 4096, "memory": 8192}})}}}, "environment SESSION_SIZES",
     {"sizePresetsEnvVar": "SESSION_SIZES"}),
    ("cost-fargate-task-size", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SIZE_PRESETS": json.dumps({"small": {"cpu": 512, "memory": 1024}, "default": {"cpu": "1024",
                                                                                     "memory": "2048"}})}}},
     None, {}),
    ("cost-fargate-task-size", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SIZE_PRESETS": json.dumps({"big": {"cpu": 4096, "memory": 8192}})}}}, None, {"maxCpu": 4096,
                                                                                      "maxMemoryMiB": 8192}),
    # cost-lambda-limits
    ("cost-lambda-limits", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "memorySize": 3008.0, "timeout": 30.0},
     "memorySize 3008", {}),
    ("cost-lambda-limits", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "memorySize": 256.0, "timeout": 900.0},
     "timeout 900", {}),
    ("cost-lambda-limits", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "memorySize": 256.0, "timeout": 30.0}, None, {}),
    ("cost-lambda-limits", t.LAMBDA_FUNCTION, {"role": ROLE_ARN}, None, {}),
    # cost-ecs-service-tasks
    ("cost-ecs-service-tasks", t.ECS_SERVICE, {"cluster": "c", "desiredCount": 50.0}, "desiredCount 50 exceeds", {}),
    ("cost-ecs-service-tasks", t.ECS_SERVICE, {"cluster": "c", "desiredCount": 10 ** 400},
     "desiredCount 1000000000...(401 digits) exceeds", {}),
    ("cost-ecs-service-tasks", t.ECS_SERVICE, {"cluster": "c", "desiredCount": float("inf")}, "is not finite", {}),
    ("cost-ecs-service-tasks", t.ECS_SERVICE, {"cluster": "c", "schedulingStrategy": "DAEMON"}, "DAEMON", {}),
    ("cost-ecs-service-tasks", t.APPAUTOSCALING_TARGET, {"serviceNamespace": "ecs", "resourceId": "service/c/web",
                                                         "scalableDimension": "ecs:service:DesiredCount",
                                                         "minCapacity": 1.0, "maxCapacity": 100.0},
     "maxCapacity 100 exceeds the cap of 2", {}),
    ("cost-ecs-service-tasks", t.ECS_SERVICE, {"cluster": "c", "desiredCount": 2.0}, None, {}),
    ("cost-ecs-service-tasks", t.APPAUTOSCALING_TARGET, {"serviceNamespace": "ecs", "resourceId": "service/c/web",
                                                         "scalableDimension": "ecs:service:DesiredCount",
                                                         "minCapacity": 1.0, "maxCapacity": 8.0}, None,
     {"maxDesiredCount": 8}),
    # cost-lambda-provisioned-concurrency
    ("cost-lambda-provisioned-concurrency", t.LAMBDA_PROVISIONED_CONCURRENCY, {
        "functionName": "f", "qualifier": "live", "provisionedConcurrentExecutions": 5.0},
     "provisionedConcurrentExecutions 5 exceeds the cap of 0", {}),
    ("cost-lambda-provisioned-concurrency", t.APPAUTOSCALING_TARGET, {
        "serviceNamespace": "lambda", "resourceId": "function:f:live",
        "scalableDimension": "lambda:function:ProvisionedConcurrency", "minCapacity": 0.0, "maxCapacity": 500.0},
     "maxCapacity 500 exceeds", {}),
    ("cost-lambda-provisioned-concurrency", t.LAMBDA_PROVISIONED_CONCURRENCY, {
        "functionName": "f", "qualifier": "live", "provisionedConcurrentExecutions": float("nan")}, "NaN", {}),
    ("cost-lambda-provisioned-concurrency", t.LAMBDA_PROVISIONED_CONCURRENCY, {
        "functionName": "f", "qualifier": "live", "provisionedConcurrentExecutions": 2.0}, None,
     {"maxProvisionedConcurrency": 2}),
    # cost-log-retention
    ("cost-log-retention", t.LOG_GROUP, {"name": "/aws/lambda/x"}, "kept forever", {}),
    ("cost-log-retention", t.LOG_GROUP, {"retentionInDays": 365.0}, "exceeds the cap", {}),
    ("cost-log-retention", t.LOG_GROUP, {"retentionInDays": 15.0}, "not a CloudWatch retention value", {}),
    ("cost-log-retention", t.LOG_GROUP, {"retentionInDays": 14.0}, None, {}),
    # cost-required-tags (the export fixture's provider carries project/environment default tags)
    ("cost-required-tags", t.DYNAMODB_TABLE, {**GOOD_TABLE, "tags": {"project": ""}}, "project, owner", {
        "requiredTags": ["project", "environment", "owner"]}),
    ("cost-required-tags", t.LOG_GROUP, {"retentionInDays": 14.0, "tags": {"owner": "platform"}}, None,
     {"requiredTags": ["project", "environment", "owner"]}),
    # security-dynamodb-baseline
    ("security-dynamodb-baseline", t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST"}, "pointInTimeRecovery", {}),
    ("security-dynamodb-baseline", t.DYNAMODB_TABLE, {**GOOD_TABLE, "replicas": [{"regionName": "ap-northeast-1"}]},
     "replica ap-northeast-1", {}),
    ("security-dynamodb-baseline", t.DYNAMODB_TABLE, {**GOOD_TABLE, "deletionProtectionEnabled": False},
     "deletionProtectionEnabled", {}),
    ("security-dynamodb-baseline", t.DYNAMODB_TABLE, {**GOOD_TABLE, "replicas": [
        {"regionName": "ap-northeast-1", "pointInTimeRecovery": True}]}, None, {}),
    ("security-dynamodb-baseline", t.DYNAMODB_TABLE_REPLICA, {"globalTableArn": TABLE_ARN},
     "TableReplica has no pointInTimeRecovery", {}),
    ("security-dynamodb-baseline", t.DYNAMODB_TABLE_REPLICA, {"globalTableArn": TABLE_ARN,
                                                             "pointInTimeRecovery": True,
                                                             "deletionProtectionEnabled": True}, None, {}),
    # security-encryption-at-rest
    ("security-encryption-at-rest", t.SNS_TOPIC, {"name": "alerts"}, "kmsMasterKeyId is not set", {}),
    ("security-encryption-at-rest", t.SNS_TOPIC, {"kmsMasterKeyId": "alias/app"}, None, {}),
    ("security-encryption-at-rest", t.NATIVE_SNS_TOPIC, {"topicName": "t"}, "kmsMasterKeyId is not set", {}),
    ("security-encryption-at-rest", t.NATIVE_SQS_QUEUE, {"sqsManagedSseEnabled": False}, "sqsManagedSseEnabled", {}),
    ("security-encryption-at-rest", t.SQS_QUEUE, {"sqsManagedSseEnabled": False}, "sqsManagedSseEnabled is false", {}),
    ("security-encryption-at-rest", t.SQS_QUEUE, {"name": "q"}, None, {}),
    ("security-encryption-at-rest", t.SQS_QUEUE, {"sqsManagedSseEnabled": False, "kmsMasterKeyId": "alias/aws/sqs"},
     None, {}),
    # security-cognito-baseline
    ("security-cognito-baseline", t.USER_POOL, {"name": "p"}, "mfaConfiguration is OFF", {}),
    ("security-cognito-baseline", t.USER_POOL, {"mfaConfiguration": "ON", "passwordPolicy": {
        "minimumLength": 8.0, "requireLowercase": True, "requireUppercase": True, "requireNumbers": True,
        "requireSymbols": True}}, "below 12", {}),
    ("security-cognito-baseline", t.USER_POOL, {"mfaConfiguration": "OPTIONAL", "passwordPolicy": {
        "minimumLength": 12.0, "requireLowercase": True, "requireUppercase": True, "requireNumbers": True}},
     "requireSymbols", {}),
    ("security-cognito-baseline", t.USER_POOL, {"mfaConfiguration": "OPTIONAL", "passwordPolicy": {
        "minimumLength": 14.0, "requireLowercase": True, "requireUppercase": True, "requireNumbers": True,
        "requireSymbols": True}}, None, {}),
    # security-appsync-baseline
    ("security-appsync-baseline", t.GRAPHQL_API, {"authenticationType": "API_KEY", "name": "a"}, "API_KEY", {}),
    ("security-appsync-baseline", t.GRAPHQL_API, {"authenticationType": "AMAZON_COGNITO_USER_POOLS",
                                                  "logConfig": {"fieldLogLevel": "NONE", "cloudwatchLogsRoleArn": ROLE_ARN}},
     "fieldLogLevel", {}),
    ("security-appsync-baseline", t.GRAPHQL_API, {
        "authenticationType": "API_KEY", "additionalAuthenticationProviders": [
            {"authenticationType": "AMAZON_COGNITO_USER_POOLS"}],
        "logConfig": {"fieldLogLevel": "ERROR", "cloudwatchLogsRoleArn": ROLE_ARN}}, None, {}),
    # introspection: only judged where config asks; absent means AWS's default, ENABLED
    ("security-appsync-baseline", t.GRAPHQL_API, {
        "authenticationType": "AWS_IAM", "logConfig": {"fieldLogLevel": "ERROR", "cloudwatchLogsRoleArn": ROLE_ARN}},
     "introspection is enabled", {"requireIntrospectionDisabled": True}),
    ("security-appsync-baseline", t.GRAPHQL_API, {
        "authenticationType": "AWS_IAM", "introspectionConfig": "ENABLED",
        "logConfig": {"fieldLogLevel": "ERROR", "cloudwatchLogsRoleArn": ROLE_ARN}}, None, {}),
    ("security-appsync-baseline", t.GRAPHQL_API, {
        "authenticationType": "AWS_IAM", "introspectionConfig": "DISABLED",
        "logConfig": {"fieldLogLevel": "ERROR", "cloudwatchLogsRoleArn": ROLE_ARN}}, None,
     {"requireIntrospectionDisabled": True}),
    # security-no-plaintext-secrets
    ("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "DB_PASSWORD": "hunter2"}}}, "DB_PASSWORD", {}),
    ("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SETTINGS": "key=AKIAABCDEFGHIJKLMNOP"}}}, "credential", {}),
    ("security-no-plaintext-secrets", t.ECS_TASK_DEFINITION, {"family": "f", "containerDefinitions": json.dumps([
        {"name": "app", "image": "x", "environment": [{"name": "GITHUB_TOKEN", "value": "abc"}]}])}, "GITHUB_TOKEN", {}),
    ("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "API_KEY_SECRET_ARN": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-key",
        "TOKEN_TABLE_NAME": "tokens", "TABLE_NAME": "sessions"}}}, None, {}),
    # Abbreviated and camelCase secret names; credentials in URLs; LLM and other API key shapes.
    *[("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        name: "s3cr3t-value"}}}, f"{name} holds a plaintext value for a secret-like name", {})
      for name in ("DB_PASS", "SMTP_PWD", "API_TOKEN", "dbPassword", "JWT_SIGNING_KEY", "OAUTH_CLIENT_SECRET",
                   "REDIS_AUTH_KEY", "SENTRY_DSN", "db-pw")],
    *[("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "CONFIG": value}}}, "CONFIG holds what looks like a credential", {})
      for value in ("sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4", "sk-ant-api03-" + "x" * 40,
                    "sk-proj-" + "Ab1" * 12, "AIza" + "B" * 35, "hf_" + "a" * 34, "github_pat_" + "1" * 50,
                    "glpat-" + "abcdefghij0123456789", "SG." + "a" * 22 + "." + "b" * 43)],
    ("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "DATABASE_URL": "postgres://app:hunter2@db.example.com:5432/app"}}},
     "DATABASE_URL holds a URL with an embedded password", {}),
    ("security-no-plaintext-secrets", t.ECS_TASK_DEFINITION, {"family": "f", "containerDefinitions": json.dumps([
        {"name": "app", "image": "x", "environment": [{"name": "BROKER_URL", "value": "amqp://u:p4ss@mq:5672/"}]}])},
     "BROKER_URL holds a URL with an embedded password", {}),
    ("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "SETTING": "Zq8Lw2Rt6Yp0Mn4Vb7Xc1Kd5Hs9Gf3Ja"}}}, "long random token", {}),
    ("security-no-plaintext-secrets", t.NATIVE_LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "OPENAI_KEY": "sk-" + "Zq8Lw2Rt6Yp0Mn4Vb7Xc1Kd5Hs9Gf3JaZq8Lw2Rt6Yp0"}}}, "OPENAI_KEY holds what looks like a credential",
     {}),
    ("security-no-plaintext-secrets", t.NATIVE_ECS_TASK_DEFINITION, {"containerDefinitions": [
        {"name": "app", "image": "x", "environment": [{"name": "SMTP_PWD", "value": "pw"}]}]}, "SMTP_PWD", {}),
    ("security-no-plaintext-secrets", t.SSM_PARAMETER, {"name": "/app/db-password", "type": "String",
                                                        "value": "hunter2"}, "secret-like name", {}),
    # Must pass: references, placeholders, URLs without passwords, hex digests, SecureString parameters.
    ("security-no-plaintext-secrets", t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "environment": {"variables": {
        "DATABASE_URL": "postgres://db.example.com:5432/app", "DB_URL": "postgres://app:${DB_PASSWORD}@db:5432/app",
        "PASSENGER_COUNT": "4", "COMPASS_MODE": "north", "TOKEN_TTL_SECONDS": "3600",
        "IMAGE_DIGEST": "sha256:" + "a1" * 32, "COMMIT": "0123456789abcdef0123456789abcdef01234567",
        "SECRET_ARN": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db", "DB_PASSWORD": "${DB_PASSWORD}",
        "TABLE_NAME": "data-sessions-004b83e"}}}, None, {}),
    ("security-no-plaintext-secrets", t.SSM_PARAMETER, {"name": "/app/db-password", "type": "SecureString",
                                                        "value": "hunter2"}, None, {}),
]

def _registry_scanning(frequency: str, *filters: str) -> tuple:
    return (t.ECR_REGISTRY_SCANNING, {"scanType": "ENHANCED", "rules": [
        {"scanFrequency": frequency, "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters]}]},
        "registry")


VPC_PROPS = {"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": 3.0}

STACK_CASES = [
    ("cost-nat-gateway-count", [(t.AWSX_VPC, VPC_PROPS, "vpc")], "3 NAT gateways", {}),
    ("cost-nat-gateway-count", [(t.AWSX_VPC, {"natGateways": {"strategy": "Single"}}, "vpc"),
                                (t.NAT_GATEWAY, {"subnetId": "s"}, "extra")], "2 NAT gateways", {}),
    ("cost-nat-gateway-count", [(t.AWSX_VPC, {"availabilityZoneNames": ["us-east-1a", "us-east-1b"]}, "vpc")],
     "2 NAT gateways", {}),
    ("cost-nat-gateway-count", [(t.AWSX_VPC, {"natGateways": {"strategy": "Single"}}, "vpc")], None, {}),
    ("cost-nat-gateway-count", [(t.AWSX_VPC, VPC_PROPS, "vpc")], None, {"maxNatGateways": 3}),
    ("cost-budget-required", [(t.LOG_GROUP, {"retentionInDays": 14.0}, "lg")], "no aws:budgets", {}),
    ("cost-budget-required", [(t.BUDGET, _budget(kinds=("ACTUAL",)), "b")], "no FORECASTED", {}),
    ("cost-budget-required", [(t.BUDGET, _budget(limit="5000"), "b")], "outside", {}),
    ("cost-budget-required", [(t.BUDGET, {**_budget(), "timeUnit": "DAILY"}, "b")], "no aws:budgets", {}),
    ("cost-budget-required", [(t.BUDGET, _budget(), "b")], None, {}),
    ("cost-budget-required", [(t.BUDGET, _budget(costFilters=[{"name": "TagKeyValue", "values": ["user:environment$test"]}]),
                               "b")], None, {}),
    ("cost-budget-required", [(t.BUDGET, _budget(costFilters=[{"name": "Service", "values": ["Amazon Simple Storage Service"]}]),
                               "b")], "costFilters Service Amazon Simple Storage Service leaves all other spend uncounted", {}),
    ("cost-budget-required", [(t.BUDGET, _budget(costFilters=[{"name": "TagKeyValue", "values": ["user:team$x"]}]),
                               "b")], "costFilters TagKeyValue on team counts only spend tagged so", {}),
    ("cost-budget-required", [(t.BUDGET, _budget(costTypes={"includeSubscription": False, "includeCredit": False}),
                               "b")], "costTypes includeSubscription false", {}),
    ("cost-budget-required", [(t.BUDGET, {**_budget(), "notifications": [
        {"notificationType": k, "comparisonOperator": "GREATER_THAN", "threshold": 5000.0, "thresholdType": "PERCENTAGE",
         "subscriberEmailAddresses": ["a@example.com"]} for k in ("ACTUAL", "FORECASTED")]}, "b")],
     "ACTUAL notification alerts only at 5000% of the limit", {}),
    ("cost-budget-required", [(t.BUDGET, {**_budget("50"), "notifications": [
        {"notificationType": k, "comparisonOperator": "GREATER_THAN", "threshold": 400.0,
         "thresholdType": "ABSOLUTE_VALUE", "subscriberEmailAddresses": ["a@example.com"]}
        for k in ("ACTUAL", "FORECASTED")]}, "b")], "alerts only at 800% of the limit", {}),
    ("cost-budget-required", [(t.BUDGET, {**_budget("50"), "notifications": [
        {"notificationType": k, "comparisonOperator": "GREATER_THAN", "threshold": 40.0,
         "thresholdType": "ABSOLUTE_VALUE", "subscriberEmailAddresses": ["a@example.com"]}
        for k in ("ACTUAL", "FORECASTED")]}, "b")], None, {}),
    ("cost-budget-required", [(t.BUDGET, {**_budget(), "notifications": [
        {"notificationType": k, "comparisonOperator": "GREATER_THAN", "threshold": float("nan"),
         "thresholdType": "PERCENTAGE", "subscriberEmailAddresses": ["a@example.com"]}
        for k in ("ACTUAL", "FORECASTED")]}, "b")], "alerts only at an unusable threshold", {}),
    ("cost-fixed-monthly-estimate", [(t.BUDGET, _budget("50"), "b"), (t.NAT_GATEWAY, {"subnetId": "s"}, "nat")],
     "exceeds 50% of the $50 budget", {}),
    ("cost-fixed-monthly-estimate", [(t.BUDGET, _budget("5000"), "b"),
                                     (t.EC2_INSTANCE, {"instanceType": "p5.48xlarge"}, "gpu")],
     "fixed cost not estimated (ec2 instance class 'p5.48xlarge' is not in the price table)", {}),
    ("cost-fixed-monthly-estimate", [(t.BUDGET, _budget("5000"), "b"),
                                     (t.EC2_INSTANCE, {"instanceType": "p5.48xlarge"}, "gpu")], None,
     {"reportUnpriced": False}),
    ("cost-fixed-monthly-estimate", [(t.BUDGET, _budget("50"), "b"),
                                     (t.RDS_INSTANCE, {"engine": "postgres", "instanceClass": "db.r6g.large",
                                                       "multiAz": True}, "db")], "exceeds 50% of the $50 budget", {}),
    ("cost-fixed-monthly-estimate", [(t.BUDGET, _budget("50"), "b"), (t.KMS_KEY, {"description": "k"}, "key"),
                                     (t.SECRET, {"name": "s"}, "secret")], None, {}),
    # cost-dynamodb-capacity (tables with TableReplica resources: test_split_shapes.py)
    ("cost-dynamodb-capacity", [(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 5.0,
                                                    "writeCapacity": 500.0}, "tb")], "writeCapacity 500", {}),
    ("cost-dynamodb-capacity", [(t.DYNAMODB_TABLE, {"readCapacity": 5.0, "writeCapacity": 5.0, "globalSecondaryIndexes": [
        {"name": "byOwner", "hashKey": "owner", "projectionType": "ALL", "readCapacity": 80.0, "writeCapacity": 5.0}]},
                                 "tb")], "GSI byOwner readCapacity", {}),
    ("cost-dynamodb-capacity", [(t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST", "replicas": [
        {"regionName": "ap-northeast-1"}, {"regionName": "eu-west-1"}]}, "tb")], "2 replicas", {}),
    ("cost-dynamodb-capacity", [(t.DYNAMODB_TABLE, {"billingMode": "PAY_PER_REQUEST", "replicas": [
        {"regionName": "ap-northeast-1"}]}, "tb")], None, {}),
    ("cost-dynamodb-capacity", [(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": 5.0,
                                                    "writeCapacity": 5.0}, "tb"),
                                (t.APPAUTOSCALING_TARGET, {"serviceNamespace": "dynamodb", "resourceId": "table/tb",
                                                           "scalableDimension": "dynamodb:table:WriteCapacityUnits",
                                                           "minCapacity": 5.0, "maxCapacity": 40000.0}, "scale")],
     "maxCapacity 40000 exceeds the cap of 25", {}),
    ("cost-dynamodb-capacity", [(t.APPAUTOSCALING_TARGET, {"serviceNamespace": "dynamodb", "resourceId": "table/tb",
                                                           "scalableDimension": "dynamodb:index:ReadCapacityUnits",
                                                           "minCapacity": 1.0, "maxCapacity": 20.0}, "scale")],
     None, {}),
    ("cost-dynamodb-capacity", [(t.DYNAMODB_TABLE, {"billingMode": "PROVISIONED", "readCapacity": float("nan"),
                                                    "writeCapacity": 10 ** 400}, "tb")], "is not a number", {}),
    # cost-lambda-log-group
    ("cost-lambda-log-group", [(t.LAMBDA_FUNCTION, {"name": "worker", "role": "r"}, "fn")],
     "no LogGroup in the stack for /aws/lambda/worker", {}),
    ("cost-lambda-log-group", [(t.LAMBDA_FUNCTION, {"name": "worker", "role": "r"}, "fn"),
                               (t.LOG_GROUP, {"name": "/aws/lambda/worker", "retentionInDays": 14.0}, "lg")], None, {}),
    ("cost-lambda-log-group", [(t.LAMBDA_FUNCTION, {"name": "worker", "role": "r",
                                                    "loggingConfig": {"logGroup": "/app/worker", "logFormat": "JSON"}},
                                "fn"), (t.LOG_GROUP, {"name": "/app/worker", "retentionInDays": 14.0}, "lg")], None, {}),
    ("cost-lambda-log-group", [(t.LAMBDA_FUNCTION, {"name": "worker", "role": "r",
                                                    "loggingConfig": {"logGroup": "/shared/all", "logFormat": "JSON"}},
                                "fn")], "'/shared/all' is not declared in this stack", {}),
    # security-ecr-scan-on-push (registry-level scanning covers repositories without their own setting)
    ("security-ecr-scan-on-push", [(t.ECR_REPOSITORY, {"name": "ide"}, "repo")], "scanOnPush is not enabled", {}),
    ("security-ecr-scan-on-push", [(t.ECR_REPOSITORY, {"imageScanningConfiguration": {"scanOnPush": True}}, "repo")],
     None, {}),
    ("security-ecr-scan-on-push", [(t.ECR_REPOSITORY, {"name": "ide"}, "repo"),
                                   _registry_scanning("CONTINUOUS_SCAN", "*")], None, {}),
    ("security-ecr-scan-on-push", [(t.ECR_REPOSITORY, {"name": "sessions/ide"}, "repo"),
                                   _registry_scanning("SCAN_ON_PUSH", "sessions")], None, {}),
    ("security-ecr-scan-on-push", [(t.ECR_REPOSITORY, {"name": "tools/ide"}, "repo"),
                                   _registry_scanning("SCAN_ON_PUSH", "sessions/*")], "no registry scanning rule", {}),
    ("security-ecr-scan-on-push", [(t.ECR_REPOSITORY, {"name": "ide"}, "repo"),
                                   _registry_scanning("MANUAL", "*")], "no registry scanning rule covers 'ide'", {}),
    # security-s3-public-access (buckets with their ACL/block/policy resources: test_split_shapes.py)
    ("security-s3-public-access", [(t.S3_BUCKET, {"bucket": "b", "acl": "public-read-write"}, "b")],
     "b grants public access through ACL 'public-read-write'", {}),
    ("security-s3-public-access", [(t.S3_BUCKET, {"bucket": "b"}, "b"),
                                   (t.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK, {"blockPublicAcls": True, "ignorePublicAcls": True,
                                                                       "blockPublicPolicy": True,
                                                                       "restrictPublicBuckets": True}, "acct")], None, {}),
    # security-no-public-ingress (single resources; split shapes are in test_split_shapes.py)
    ("security-no-public-ingress", [(t.SECURITY_GROUP, {"ingress": [
        {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/0"]}]}, "sg")], "tcp port 22", {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP_RULE, {"type": "ingress", "protocol": "-1", "fromPort": 0.0,
                                                             "toPort": 0.0, "securityGroupId": "sg-1",
                                                             "ipv6CidrBlocks": ["::/0"]}, "r")], "all traffic", {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP_INGRESS_RULE, {
        "ipProtocol": "tcp", "fromPort": 8080.0, "toPort": 8080.0, "cidrIpv4": "0.0.0.0/0",
        "securityGroupId": "sg-1"}, "r")], "tcp port 8080", {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP_INGRESS_RULE, {
        "ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrIpv4": "0.0.0.0/0",
        "securityGroupId": "sg-1"}, "r")], None, {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP_INGRESS_RULE, {
        "ipProtocol": "tcp", "fromPort": 8080.0, "toPort": 8080.0, "cidrIpv4": "203.0.113.0/24",
        "securityGroupId": "sg-1"}, "r")], None, {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP, {"ingress": [
        {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/1"]},
        {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["128.0.0.0/1"]}]}, "sg")],
     "100% of the public IPv4 space", {"worldShare": 0.9}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP, {"ingress": [
        {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/2", "64.0.0.0/2"]},
        {"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": ["128.0.0.0/1"]}]}, "sg")],
     "tcp port 22 open to 100% of the public IPv4 space (sg ingress[0]: 0.0.0.0/2, 64.0.0.0/2; sg ingress[1]: "
     "128.0.0.0/1)", {"worldShare": 0.9}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 22.0,
                                                             "toPort": 22.0, "securityGroupId": "sg-1",
                                                             "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}, "r")],
     "tcp port 22", {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP_INGRESS_RULE, {
        "ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrIpv6": "::/1", "securityGroupId": "sg-1"}, "r")],
     "100% of the public IPv6 space", {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP, {"ingress": [
        {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["10.0.0.0/8", "172.16.0.0/12"]},
        {"protocol": "tcp", "fromPort": 3389.0, "toPort": 3389.0, "cidrBlocks": ["0.0.0.0/2"]},
        {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}]}, "sg")],
     None, {}),
    # ICMP type 3 code 4 (path-MTU discovery) from anywhere passes; every ICMP type does not.
    ("security-no-public-ingress", [(t.SECURITY_GROUP, {"ingress": [
        {"protocol": "icmp", "fromPort": 3.0, "toPort": 4.0, "cidrBlocks": ["0.0.0.0/0"]}]}, "sg")], None, {}),
    ("security-no-public-ingress", [(t.SECURITY_GROUP, {"ingress": [
        {"protocol": "icmp", "fromPort": -1.0, "toPort": -1.0, "cidrBlocks": ["0.0.0.0/0"]}]}, "sg")],
     "icmp every type", {}),
    ("security-no-public-ingress", [(t.DEFAULT_SECURITY_GROUP, {"vpcId": "vpc-1", "ingress": [
        {"protocol": "tcp", "fromPort": 0.0, "toPort": 65535.0, "cidrBlocks": ["0.0.0.0/0"]}]}, "default")],
     "tcp ports 0-442", {}),
]

# Pack rules judge the other policies' config: (rule, [(type, inputs, name)], pack config, expected or None).
# Offline, a config pack-config-valid would report is refused before any rule runs (ConfigError, exit 2).
WORKER = (t.LAMBDA_FUNCTION, {"role": ROLE_ARN, "memorySize": 256.0, "timeout": 30.0}, "worker")


def _lambda_suppression(resource: str, expires: str) -> dict:
    return {"cost-lambda-limits": {"suppressions": [{"resource": resource, "reason": "old batch job",
                                                     "expires": expires}]}}


PACK_CASES = [
    ("pack-suppression-expired", [WORKER], _lambda_suppression("gone-*", "2026-01-31"),
     "cost-lambda-limits: suppression 'gone-*' (old batch job, expired 2026-01-31) matches no resource"),
    ("pack-suppression-expired", [WORKER], _lambda_suppression("gone-*", "2026-12-31"), None),
    # Matching a checked resource, it is reported by cost-lambda-limits itself ("still configured").
    ("pack-suppression-expired", [WORKER], _lambda_suppression("worker", "2026-01-31"), None),
    ("pack-config-valid", [WORKER], _lambda_suppression("worker", "2026-02-30"),
     "suppressions/0/expires: '2026-02-30' is not a calendar date"),
    ("pack-config-valid", [WORKER], {"cost-lambda-limits": {"maxMemoryMB": 512}},
     "Additional properties are not allowed ('maxMemoryMB' was unexpected)"),
    ("pack-config-valid", [WORKER], {"security-no-plaintext-secrets": {"secretNamePattern": "(unclosed"}},
     "secretNamePattern: invalid regular expression"),
    ("pack-config-valid", [WORKER], {"cost-lambda-limits": {"maxMemoryMb": 512}}, None),
]
