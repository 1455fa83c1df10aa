"""pulumi-aws v7 type tokens the rules look at, and where each keeps its policy documents.

Property names are the engine's camelCase names; tests/policies/test_schema_and_data.py checks
every (type, property) pair here against the installed pulumi-aws SDK.
"""

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
ROUTE53_ZONE = "aws:route53/zone:Zone"
WAF_WEB_ACL = "aws:wafv2/webAcl:WebAcl"
AWSX_VPC = "awsx:ec2:Vpc"
AWS_PROVIDER = "pulumi:providers:aws"

# Identity policies: (type, property); Role keeps them in inlinePolicies[].policy.
IDENTITY_POLICY_PROPS = {
    ROLE_POLICY: "policy",
    POLICY: "policy",
    USER_POLICY: "policy",
    GROUP_POLICY: "policy",
}
# Resource policies attached to (or inline on) a resource; their `Resource: "*"` means the resource.
RESOURCE_POLICY_PROPS = {
    SNS_TOPIC: "policy",
    SNS_TOPIC_POLICY: "policy",
    SQS_QUEUE: "policy",
    SQS_QUEUE_POLICY: "policy",
    S3_BUCKET: "policy",
    S3_BUCKET_V2: "policy",
    S3_BUCKET_POLICY: "policy",
    S3_ACCESS_POINT: "policy",
    SECRET: "policy",
    SECRET_POLICY: "policy",
    ECR_REPOSITORY_POLICY: "policy",
    ECR_REGISTRY_POLICY: "policy",
    ECR_REPOSITORY_CREATION_TEMPLATE: "repositoryPolicy",
    KMS_KEY: "policy",
    KMS_KEY_POLICY: "policy",
    KMS_REPLICA_KEY: "policy",
    KMS_EXTERNAL_KEY: "policy",
    KMS_REPLICA_EXTERNAL_KEY: "policy",
    LAMBDA_RESOURCE_POLICY: "policy",
}
KMS_POLICY_TYPES = frozenset({KMS_KEY, KMS_KEY_POLICY, KMS_REPLICA_KEY, KMS_EXTERNAL_KEY, KMS_REPLICA_EXTERNAL_KEY})
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

IDENTITY_HOLDERS = frozenset({ROLE, *IDENTITY_POLICY_PROPS})
DOCUMENT_HOLDERS = frozenset({ROLE, *IDENTITY_POLICY_PROPS, *RESOURCE_POLICY_PROPS})
