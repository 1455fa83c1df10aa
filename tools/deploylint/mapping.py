"""pulumi-aws resource types -> the AWS API operation that creates them, and the exceptions to the
generic property mapping.

The generic rule: a pulumi-aws property ``fooBar`` is the operation input member ``FooBar`` (compared
case-insensitively, so ``callbackUrls`` finds ``CallbackURLs``), nested objects and lists recurse the
same way. Only what the rule cannot do is written here, per type:

* ``root``: where the resource's properties land when the operation wraps them (CreateBudget's
  ``Budget``, PutTargets' ``Targets[]``);
* ``props``: renames, by property path (``attributes[].name`` is each attribute's ``name``). A target
  is a member path under the root (``Policies.PasswordPolicy``), ``/Member`` for a member of the
  operation input itself, or ``Operation:Member`` for a member of the other call the provider makes
  (``PutRetentionPolicy:retentionInDays``); a ``Target`` adds a converter for values the provider
  reshapes (a single ARN sent as a one-element list);
* ``skip``: properties no model member describes, with the reason the coverage report prints;
* ``provided``: required members (``Shape.Member``) the provider fills itself (ids, key schemas);
* ``name``: the property carrying the physical name; absent means Pulumi auto-names it;
* ``json``: properties whose string value is a JSON document of the member's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

Convert = Callable[[Any, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Target:
    member: str
    convert: Optional[Convert] = None


@dataclass(frozen=True)
class TypeMap:
    service: str
    operation: str
    root: str = ""
    props: Mapping[str, Union[str, Target]] = field(default_factory=dict)
    skip: Mapping[str, str] = field(default_factory=dict)
    provided: Mapping[str, str] = field(default_factory=dict)
    name: Optional[str] = None
    json: frozenset = frozenset()


def _as_list(value, _parent):
    return [value]


def _name_values(value, _parent):
    return {item.get("name"): item.get("values") for item in value or []}


def _budget_notifications(value, _parent):
    out = []
    for n in value or []:
        subscribers = [{"SubscriptionType": "SNS", "Address": a} for a in n.get("subscriberSnsTopicArns") or []]
        subscribers += [{"SubscriptionType": "EMAIL", "Address": a} for a in n.get("subscriberEmailAddresses") or []]
        out.append({"Notification": {k: n.get(k) for k in ("notificationType", "comparisonOperator", "threshold",
                                                            "thresholdType") if n.get(k) is not None},
                    "Subscribers": subscribers})
    return out


def _metric_stat(value, parent):
    metric = {k: value.get(k) for k in ("metricName", "namespace", "dimensions") if value.get(k) is not None}
    stat = {"Metric": metric, "Period": value.get("period"), "Stat": value.get("stat"), "Unit": value.get("unit")}
    return {k: v for k, v in stat.items() if v is not None}


def _replica_updates(value, _parent):
    # Each replica is one UpdateTable ReplicaUpdates Create; its PITR and tag propagation are later calls.
    return [{"Create": {k: v for k, v in (("RegionName", r.get("regionName")), ("KMSMasterKeyId", r.get("kmsKeyArn")))
                        if v is not None}} for r in value or []]


def _certificates(value, _parent):
    return [{"CertificateArn": value}]


def _rule_range(key: str) -> Convert:
    # A vpc security group rule is one range of one IpPermission, its description inside the range.
    def convert(value, parent):
        item = {key: value}
        if parent.get("description"):
            item["Description"] = parent["description"]
        return [item]
    return convert


def _group_pair(value, parent):
    item = {"GroupId": value}
    if parent.get("description"):
        item["Description"] = parent["description"]
    return [item]


def _scheme(value, _parent):
    return "internal" if value else "internet-facing"


def _queue_policy(value, _parent):
    return {"Policy": value}


ATTRIBUTE_MAP = "sent in the operation's Attributes map, whose values the model types only as strings"
TAGS_EC2 = "EC2 takes tags as TagSpecifications (resource type plus tags); values are the provider's default tags"

_SG_RULE = dict(
    root="IpPermissions[]",
    props={"securityGroupId": "/GroupId", "cidrIpv4": Target("IpRanges", _rule_range("CidrIp")),
           "cidrIpv6": Target("Ipv6Ranges", _rule_range("CidrIpv6")),
           "referencedSecurityGroupId": Target("UserIdGroupPairs", _group_pair),
           "prefixListId": Target("PrefixListIds", _rule_range("PrefixListId"))},
    skip={"description": "checked inside its range (IpRanges[].Description and the like)", "tags": TAGS_EC2},
)

TYPES: Mapping[str, TypeMap] = {
    # --- AppSync -------------------------------------------------------------------------------
    "aws:appsync/dataSource:DataSource": TypeMap(
        "appsync", "CreateDataSource",
        props={"dynamodbConfig.region": "awsRegion", "lambdaConfig.functionArn": "lambdaFunctionArn",
               "httpConfig.authorizationConfig.awsIamConfig": "awsIamConfig"}),
    "aws:appsync/function:Function": TypeMap("appsync", "CreateFunction", props={"dataSource": "dataSourceName"},
                                             skip={"code": "resolver code (its 32 KB limit is checked by the bundle tests)"}),
    "aws:appsync/graphQLApi:GraphQLApi": TypeMap(
        "appsync", "CreateGraphqlApi", name="name",
        skip={"schema": "sent by StartSchemaCreation as a blob (no model constraint)"}),
    "aws:appsync/resolver:Resolver": TypeMap(
        "appsync", "CreateResolver", props={"type": "typeName", "field": "fieldName", "dataSource": "dataSourceName"},
        skip={"code": "resolver code (its 32 KB limit is checked by the bundle tests)"}),
    "aws:appsync/apiKey:ApiKey": TypeMap("appsync", "CreateApiKey",
                                         skip={"expires": "RFC 3339 date the provider converts to epoch seconds"}),
    # --- Budgets -------------------------------------------------------------------------------
    "aws:budgets/budget:Budget": TypeMap(
        "budgets", "CreateBudget", root="Budget", name="name",
        props={"name": "BudgetName", "limitAmount": "BudgetLimit.Amount", "limitUnit": "BudgetLimit.Unit",
               "costFilters": Target("CostFilters", _name_values),
               "notifications": Target("/NotificationsWithSubscribers", _budget_notifications)},
        provided={"CreateBudgetRequest.AccountId": "the provider's caller account"}),
    "aws:budgets/budgetAction:BudgetAction": TypeMap(
        "budgets", "CreateBudgetAction",
        provided={"CreateBudgetActionRequest.AccountId": "the provider's caller account"}),
    # --- CloudWatch, EventBridge, Logs ----------------------------------------------------------
    "aws:cloudwatch/dashboard:Dashboard": TypeMap("cloudwatch", "PutDashboard", name="dashboardName"),
    "aws:cloudwatch/eventRule:EventRule": TypeMap("events", "PutRule", name="name"),
    "aws:cloudwatch/eventTarget:EventTarget": TypeMap(
        "events", "PutTargets", root="Targets[]", props={"rule": "/Rule", "targetId": "Id", "eventBusName": "/EventBusName"},
        provided={"Target.Id": "the provider generates a target id when none is given"}),
    "aws:cloudwatch/logGroup:LogGroup": TypeMap(
        "logs", "CreateLogGroup", name="name",
        props={"name": "logGroupName", "retentionInDays": "PutRetentionPolicy:retentionInDays"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": TypeMap(
        "cloudwatch", "PutMetricAlarm", name="name",
        props={"name": "AlarmName", "metricQueries": "Metrics",
               "metricQueries[].metric": Target("MetricStat", _metric_stat),
               "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile"}),
    # --- Cognito ---------------------------------------------------------------------------------
    "aws:cognito/userPool:UserPool": TypeMap(
        "cognito-idp", "CreateUserPool", name="name",
        props={"name": "PoolName", "schemas": "Schema", "passwordPolicy": "Policies.PasswordPolicy",
               "softwareTokenMfaConfiguration": "SetUserPoolMfaConfig:SoftwareTokenMfaConfiguration",
               "emailConfiguration.fromEmailAddress": "From",
               "userAttributeUpdateSettings.attributesRequireVerificationBeforeUpdates":
                   "AttributesRequireVerificationBeforeUpdate"},
        skip={"schemas[].numberAttributeConstraints": "not set by this program"}),
    "aws:cognito/userPoolClient:UserPoolClient": TypeMap("cognito-idp", "CreateUserPoolClient", name="name",
                                                         props={"name": "ClientName"}),
    "aws:cognito/userPoolDomain:UserPoolDomain": TypeMap("cognito-idp", "CreateUserPoolDomain"),
    "aws:cognito/userGroup:UserGroup": TypeMap("cognito-idp", "CreateGroup", name="name", props={"name": "GroupName"}),
    "aws:cognito/riskConfiguration:RiskConfiguration": TypeMap(
        "cognito-idp", "SetRiskConfiguration",
        props={"compromisedCredentialsRiskConfiguration.eventFilters": "EventFilter"}),
    "aws:cognito/identityProvider:IdentityProvider": TypeMap("cognito-idp", "CreateIdentityProvider"),
    # --- Cost Explorer ---------------------------------------------------------------------------
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor": TypeMap(
        "ce", "CreateAnomalyMonitor", root="AnomalyMonitor", name="name",
        props={"name": "MonitorName", "monitorSpecification": "MonitorSpecification"},
        json=frozenset({"monitorSpecification"})),
    "aws:costexplorer/anomalySubscription:AnomalySubscription": TypeMap(
        "ce", "CreateAnomalySubscription", root="AnomalySubscription", name="name",
        props={"name": "SubscriptionName", "monitorArnLists": "MonitorArnList",
               "thresholdExpression.dimension": "Dimensions"}),
    "aws:costexplorer/costAllocationTag:CostAllocationTag": TypeMap(
        "ce", "UpdateCostAllocationTagsStatus", root="CostAllocationTagsStatus[]"),
    # --- DynamoDB --------------------------------------------------------------------------------
    "aws:dynamodb/table:Table": TypeMap(
        "dynamodb", "CreateTable", name="name",
        props={"name": "TableName", "attributes": "AttributeDefinitions", "attributes[].name": "AttributeName",
               "attributes[].type": "AttributeType", "streamEnabled": "StreamSpecification.StreamEnabled",
               "streamViewType": "StreamSpecification.StreamViewType", "serverSideEncryption": "SSESpecification",
               "serverSideEncryption.kmsKeyArn": "KMSMasterKeyId",
               "globalSecondaryIndexes[].name": "IndexName", "globalSecondaryIndexes[].keySchemas": "KeySchema",
               "globalSecondaryIndexes[].projectionType": "Projection.ProjectionType",
               "globalSecondaryIndexes[].nonKeyAttributes": "Projection.NonKeyAttributes",
               "pointInTimeRecovery": "UpdateContinuousBackups:PointInTimeRecoverySpecification",
               "pointInTimeRecovery.enabled": "PointInTimeRecoveryEnabled",
               "ttl": "UpdateTimeToLive:TimeToLiveSpecification",
               "replicas": Target("UpdateTable:ReplicaUpdates", _replica_updates)},
        skip={"hashKey": "the provider builds KeySchema from hashKey/rangeKey",
              "rangeKey": "the provider builds KeySchema from hashKey/rangeKey",
              "globalSecondaryIndexes[].hashKey": "the provider builds the index KeySchema from hashKey/rangeKey",
              "globalSecondaryIndexes[].rangeKey": "the provider builds the index KeySchema from hashKey/rangeKey",
              },
        provided={"CreateTableInput.KeySchema": "built from hashKey/rangeKey",
                  "GlobalSecondaryIndex.KeySchema": "built from the index's hashKey/rangeKey",
                  "CreateTableInput.AttributeDefinitions": "from attributes"}),
    # --- EC2 / VPC -------------------------------------------------------------------------------
    "aws:ec2/flowLog:FlowLog": TypeMap(
        "ec2", "CreateFlowLogs",
        props={"vpcId": Target("ResourceIds", _as_list), "iamRoleArn": "DeliverLogsPermissionArn"},
        skip={"tags": TAGS_EC2},
        provided={"CreateFlowLogsRequest.ResourceType": "VPC, from vpcId"}),
    "aws:ec2/securityGroup:SecurityGroup": TypeMap(
        "ec2", "CreateSecurityGroup", name="name", props={"name": "GroupName"},
        skip={"revokeRulesOnDelete": "provider-only behaviour on delete", "tags": TAGS_EC2}),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": TypeMap("ec2", "AuthorizeSecurityGroupIngress", **_SG_RULE),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": TypeMap("ec2", "AuthorizeSecurityGroupEgress", **_SG_RULE),
    # --- ECR / ECS -------------------------------------------------------------------------------
    "aws:ecr/repository:Repository": TypeMap(
        "ecr", "CreateRepository", name="name",
        props={"name": "repositoryName", "encryptionConfigurations": Target("encryptionConfiguration", lambda v, p: v[0] if v else {})}),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": TypeMap(
        "ecr", "PutLifecyclePolicy", props={"repository": "repositoryName", "policy": "lifecyclePolicyText"}),
    "aws:ecs/cluster:Cluster": TypeMap("ecs", "CreateCluster", name="name", props={"name": "clusterName"}),
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": TypeMap(
        "ecs", "PutClusterCapacityProviders",
        props={"clusterName": "cluster", "defaultCapacityProviderStrategies": "defaultCapacityProviderStrategy"}),
    "aws:ecs/taskDefinition:TaskDefinition": TypeMap(
        "ecs", "RegisterTaskDefinition", json=frozenset({"containerDefinitions"})),
    # --- EFS (sessions.workspace efs) -----------------------------------------------------------------
    "aws:efs/fileSystem:FileSystem": TypeMap(
        "efs", "CreateFileSystem",
        # The provider sends the lifecycle policies with its second call, PutLifecycleConfiguration.
        props={"lifecyclePolicies": "PutLifecycleConfiguration:LifecyclePolicies"},
        provided={"CreateFileSystemRequest.CreationToken": "the provider generates a creation token when none is given"}),
    "aws:efs/mountTarget:MountTarget": TypeMap("efs", "CreateMountTarget"),
    "aws:efs/fileSystemPolicy:FileSystemPolicy": TypeMap("efs", "PutFileSystemPolicy"),
    # --- IAM -------------------------------------------------------------------------------------
    "aws:iam/policy:Policy": TypeMap("iam", "CreatePolicy", name="name",
                                     props={"name": "PolicyName", "policy": "PolicyDocument"}),
    "aws:iam/role:Role": TypeMap("iam", "CreateRole", name="name",
                                 props={"name": "RoleName", "assumeRolePolicy": "AssumeRolePolicyDocument"}),
    "aws:iam/rolePolicy:RolePolicy": TypeMap("iam", "PutRolePolicy", name="name",
                                             props={"name": "PolicyName", "role": "RoleName", "policy": "PolicyDocument"}),
    # --- Lambda ----------------------------------------------------------------------------------
    "aws:lambda/function:Function": TypeMap(
        "lambda", "CreateFunction", name="name",
        props={"name": "FunctionName", "reservedConcurrentExecutions": "PutFunctionConcurrency:ReservedConcurrentExecutions"},
        skip={"code": "a local archive the provider uploads as Code.ZipFile"},
        provided={"CreateFunctionRequest.Code": "uploaded from code"}),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": TypeMap("lambda", "PutFunctionEventInvokeConfig"),
    "aws:lambda/layerVersion:LayerVersion": TypeMap(
        "lambda", "PublishLayerVersion", name="layerName",
        skip={"code": "a local archive the provider uploads as Content.ZipFile"},
        provided={"PublishLayerVersionRequest.Content": "uploaded from code"}),
    "aws:lambda/permission:Permission": TypeMap(
        "lambda", "AddPermission", props={"function": "FunctionName"},
        provided={"AddPermissionRequest.StatementId": "the provider generates one when none is given"}),
    # --- ELBv2 -----------------------------------------------------------------------------------
    "aws:lb/loadBalancer:LoadBalancer": TypeMap(
        "elbv2", "CreateLoadBalancer", name="name",
        props={"loadBalancerType": "Type", "internal": Target("Scheme", _scheme)},
        skip={"idleTimeout": "a load balancer attribute (string values in the model); range in the known table",
              "dropInvalidHeaderFields": "a load balancer attribute (ModifyLoadBalancerAttributes, string values)"}),
    "aws:lb/listener:Listener": TypeMap(
        "elbv2", "CreateListener",
        props={"certificateArn": Target("Certificates", _certificates),
               "defaultActions[].fixedResponse": "FixedResponseConfig"}),
    # --- S3 (the sessions launch bucket) -----------------------------------------------------------
    "aws:s3/bucket:Bucket": TypeMap(
        "s3", "CreateBucket", name="bucket",
        skip={"forceDestroy": "provider behaviour on delete (empties the bucket first); no API member"}),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": TypeMap(
        "s3", "PutPublicAccessBlock", root="PublicAccessBlockConfiguration", props={"bucket": "/Bucket"}),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": TypeMap(
        "s3", "PutBucketEncryption", root="ServerSideEncryptionConfiguration", props={"bucket": "/Bucket"}),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": TypeMap(
        "s3", "PutBucketLifecycleConfiguration", root="LifecycleConfiguration",
        props={"bucket": "/Bucket", "rules[].id": "Rules[].ID"}),
    # --- Secrets Manager, SNS, SQS ---------------------------------------------------------------
    "aws:secretsmanager/secret:Secret": TypeMap(
        "secretsmanager", "CreateSecret", name="name",
        props={"recoveryWindowInDays": "DeleteSecret:RecoveryWindowInDays"}),
    "aws:sns/topic:Topic": TypeMap("sns", "CreateTopic", name="name", skip={"displayName": ATTRIBUTE_MAP}),
    "aws:sns/topicPolicy:TopicPolicy": TypeMap(
        "sns", "SetTopicAttributes", props={"arn": "TopicArn", "policy": "AttributeValue"},
        provided={"SetTopicAttributesInput.AttributeName": "Policy"}),
    "aws:sns/topicSubscription:TopicSubscription": TypeMap("sns", "Subscribe", props={"topic": "TopicArn"}),
    "aws:sqs/queue:Queue": TypeMap(
        "sqs", "CreateQueue", name="name", props={"name": "QueueName"},
        skip={"messageRetentionSeconds": ATTRIBUTE_MAP + "; range in the known table",
              "sqsManagedSseEnabled": ATTRIBUTE_MAP,
              "visibilityTimeoutSeconds": ATTRIBUTE_MAP + "; range in the known table"}),
    "aws:sqs/queuePolicy:QueuePolicy": TypeMap(
        "sqs", "SetQueueAttributes", props={"policy": Target("Attributes", _queue_policy)}),
    # --- Bedrock and AgentCore -------------------------------------------------------------------
    "aws:bedrock/guardrail:Guardrail": TypeMap(
        "bedrock", "CreateGuardrail", name="name",
        props={"contentPolicyConfig.filtersConfigs": "filtersConfig", "contentPolicyConfig.tierConfigs": "tierConfig",
               "topicPolicyConfig.topicsConfigs": "topicsConfig", "wordPolicyConfig.wordsConfigs": "wordsConfig",
               "wordPolicyConfig.managedWordListsConfigs": "managedWordListsConfig",
               "sensitiveInformationPolicyConfig.piiEntitiesConfigs": "piiEntitiesConfig",
               "sensitiveInformationPolicyConfig.regexesConfigs": "regexesConfig",
               "contextualGroundingPolicyConfig.filtersConfigs": "filtersConfig", "kmsKeyArn": "kmsKeyId"}),
    "aws:bedrock/guardrailVersion:GuardrailVersion": TypeMap(
        "bedrock", "CreateGuardrailVersion", props={"guardrailArn": "guardrailIdentifier"}),
    "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime": TypeMap(
        "bedrock-agentcore-control", "CreateAgentRuntime", name="agentRuntimeName",
        props={"lifecycleConfigurations": Target("lifecycleConfiguration", lambda v, p: v[0] if v else {}),
               "requestHeaderConfiguration.requestHeaderAllowlists": "requestHeaderAllowlist",
               "authorizerConfiguration.customJwtAuthorizer.allowedAudiences": "allowedAudience"}),
    "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint": TypeMap(
        "bedrock-agentcore-control", "CreateAgentRuntimeEndpoint", name="name"),
    "aws:bedrock/agentcoreMemory:AgentcoreMemory": TypeMap("bedrock-agentcore-control", "CreateMemory", name="name"),
}

# Not AWS resources: nothing to check against a service model.
NOT_AWS = {"pulumi:providers:aws": "the provider itself (its settings are checked by the stack config)"}
