"""pulumi-aws v7 type tokens the rules look at, and where each keeps its policy documents.

Property names are the engine's camelCase names; tests/policies/test_schema_and_data.py checks
every (type, property) pair here against the installed pulumi-aws SDK. Policy-bearing properties
(of pulumi-aws and aws-native types) come from generated data: data/policy-properties.json.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi_policy.proxy import UnknownValueError

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
ROLE_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
USER_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive"
GROUP_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive"
SSO_MANAGED_POLICY_ATTACHMENT = "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
LAMBDA_LAYER_VERSION_PERMISSION = "aws:lambda/layerVersionPermission:LayerVersionPermission"
LAMBDA_RESOURCE_POLICY = "aws:lambda/resourcePolicy:ResourcePolicy"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_ACCESS_POINT = "aws:s3/accessPoint:AccessPoint"
SECRET = "aws:secretsmanager/secret:Secret"
EFS_FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ECR_REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
ECR_REPOSITORY_CREATION_TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
KMS_REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
KMS_EXTERNAL_KEY = "aws:kms/externalKey:ExternalKey"
KMS_REPLICA_EXTERNAL_KEY = "aws:kms/replicaExternalKey:ReplicaExternalKey"
ECS_CLUSTER_CAPACITY_PROVIDERS = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
ECS_SERVICE = "aws:ecs/service:Service"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
BEDROCK_PROVISIONED_THROUGHPUT = "aws:bedrock/provisionedModelThroughput:ProvisionedModelThroughput"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LB = "aws:lb/loadBalancer:LoadBalancer"
ALB = "aws:alb/loadBalancer:LoadBalancer"
BUDGET = "aws:budgets/budget:Budget"
USER_POOL = "aws:cognito/userPool:UserPool"
GRAPHQL_API = "aws:appsync/graphQLApi:GraphQLApi"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP_EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
LB_LISTENER = "aws:lb/listener:Listener"
ALB_LISTENER = "aws:alb/listener:Listener"
LB_LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
ALB_LISTENER_RULE = "aws:alb/listenerRule:ListenerRule"
DYNAMODB_TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
APPAUTOSCALING_TARGET = "aws:appautoscaling/target:Target"
LAMBDA_PROVISIONED_CONCURRENCY = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
ELASTICACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
ELASTICACHE_REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
OPENSEARCH_DOMAIN = "aws:opensearch/domain:Domain"
EC2_INSTANCE = "aws:ec2/instance:Instance"
ECR_REGISTRY_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
S3_BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
S3_BUCKET_ACL_V2 = "aws:s3/bucketAclV2:BucketAclV2"
S3_BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_OWNERSHIP_CONTROLS = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
S3_ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
S3_OBJECT = "aws:s3/bucketObject:BucketObject"
S3_OBJECT_V2 = "aws:s3/bucketObjectv2:BucketObjectv2"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
# aws-native (CloudFormation-shaped) types the security rules also read
NATIVE_SECURITY_GROUP = "aws-native:ec2:SecurityGroup"
NATIVE_SECURITY_GROUP_INGRESS = "aws-native:ec2:SecurityGroupIngress"
NATIVE_SNS_TOPIC = "aws-native:sns:Topic"
NATIVE_SQS_QUEUE = "aws-native:sqs:Queue"
NATIVE_LAMBDA_FUNCTION = "aws-native:lambda:Function"
NATIVE_ECS_TASK_DEFINITION = "aws-native:ecs:TaskDefinition"
ROUTE53_ZONE = "aws:route53/zone:Zone"
WAF_WEB_ACL = "aws:wafv2/webAcl:WebAcl"
AWSX_VPC = "awsx:ec2:Vpc"
AWS_PROVIDER = "pulumi:providers:aws"

def _policy_properties() -> dict[str, tuple[tuple[str, str], ...]]:
    """type -> ((property path, kind), ...) from data/policy-properties.json (policies/datagen.py)."""
    data = json.loads((Path(__file__).resolve().parent / "data" / "policy-properties.json").read_text("utf-8"))
    return {token: tuple((path, kind) for path, kind in entries)
            for provider in data["providers"].values() for token, entries in provider["types"].items()}


# Every policy-bearing property of every provider type, generated from the provider SDKs: kind is
# "identity" (grants to the holder), "trust" (who may assume a role) or "resource" (a resource
# policy, whose `Resource: "*"` means the resource). Paths use `.` into a block, `[]` over a list.
POLICY_PROPERTIES = _policy_properties()


def policy_documents(props: Any, path: str, label: str = "", in_item: bool = False) -> Iterator[tuple[str, Any]]:
    """(label, value) of every non-empty value at `path`: `inlinePolicies[app]` for a list item's
    document (items labelled by name), `resourcePolicy.policyDocument` for a nested one. Reading an
    unknown value raises UnknownValueError (callers skip what it hides)."""
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    key = head[:-2] if many else head
    value = props.get(key) if isinstance(props, Mapping) else None
    if not value:
        return
    here = label if in_item and not rest and not many else (f"{label}.{key}" if label else key)
    if not many:
        if rest:
            yield from policy_documents(value, rest, here)
        else:
            yield here, value
        return
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return
    for i in range(len(value)):
        try:  # an unknown item hides only itself
            item = value[i]
            if not rest:
                found = [(f"{here}[{i}]", item)] if item else []
            elif isinstance(item, Mapping):
                name = item.get("name") or item.get("policyName") or i
                found = list(policy_documents(item, rest, f"{here}[{name}]", in_item=True))
            else:
                found = []
        except UnknownValueError:
            continue
        yield from found


def _first(kind: str, token_prefix: str = "aws:") -> dict[str, str]:
    """type -> its first top-level property of `kind` (pulumi-aws types; the compatibility view)."""
    return {token: next(p for p, k in entries if k == kind) for token, entries in POLICY_PROPERTIES.items()
            if token.startswith(token_prefix) and any(k == kind and "." not in p and "[]" not in p for p, k in entries)
            and token != ROLE}


# Identity policies: (type, property); Role keeps them in inlinePolicies[].policy.
IDENTITY_POLICY_PROPS = _first("identity")
# Resource policies attached to (or inline on) a resource; their `Resource: "*"` means the resource.
RESOURCE_POLICY_PROPS = _first("resource")
KMS_POLICY_TYPES = frozenset({KMS_KEY, KMS_KEY_POLICY, KMS_REPLICA_KEY, KMS_EXTERNAL_KEY, KMS_REPLICA_EXTERNAL_KEY,
                              "aws-native:kms:Key", "aws-native:kms:ReplicaKey"})
SQS_POLICY_TYPES = frozenset({SQS_QUEUE, SQS_QUEUE_POLICY, "aws-native:sqs:QueueInlinePolicy"})
KMS_KEY_TYPES = frozenset({KMS_KEY, KMS_REPLICA_KEY, KMS_EXTERNAL_KEY, KMS_REPLICA_EXTERNAL_KEY})

# Managed-policy attachments: (type, property, is_list).
MANAGED_POLICY_PROPS = {
    ROLE: ("managedPolicyArns", True),
    ROLE_POLICY_ATTACHMENT: ("policyArn", False),
    POLICY_ATTACHMENT: ("policyArn", False),
    USER_POLICY_ATTACHMENT: ("policyArn", False),
    GROUP_POLICY_ATTACHMENT: ("policyArn", False),
    ROLE_POLICY_ATTACHMENTS_EXCLUSIVE: ("policyArns", True),
    USER_POLICY_ATTACHMENTS_EXCLUSIVE: ("policyArns", True),
    GROUP_POLICY_ATTACHMENTS_EXCLUSIVE: ("policyArns", True),
    SSO_MANAGED_POLICY_ATTACHMENT: ("managedPolicyArn", False),
}
# The same for aws-native types (kept apart: the SDK check of MANAGED_POLICY_PROPS reads pulumi-aws).
NATIVE_MANAGED_POLICY_PROPS = {
    "aws-native:iam:Role": ("managedPolicyArns", True),
    "aws-native:iam:User": ("managedPolicyArns", True),
    "aws-native:iam:Group": ("managedPolicyArns", True),
    "aws-native:sso:PermissionSet": ("managedPolicies", True),
}
MANAGED_POLICY_HOLDERS = {**MANAGED_POLICY_PROPS, **NATIVE_MANAGED_POLICY_PROPS}


def _holders(*kinds: str) -> frozenset:
    return frozenset(token for token, entries in POLICY_PROPERTIES.items() if any(k in kinds for _, k in entries))


IDENTITY_HOLDERS = _holders("identity")
PRINCIPAL_HOLDERS = _holders("trust", "resource")  # documents that name principals
DOCUMENT_HOLDERS = _holders("identity", "trust", "resource")
