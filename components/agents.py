"""Agents: the MAGI agent runtime on Amazon Bedrock AgentCore, its memory, model access and guardrail.

What it makes (config ``aiplatform:agents``, code in ``app/agents``):

* an ECR repository for the agent image (AgentCore runs ARM64 containers): scan on push, immutable
  tags, a lifecycle policy keeping the last N images; the runtime runs ``<repository>:<image tag>``;
* an AgentCore agent runtime (HTTP protocol, public network mode: it reaches Bedrock, DynamoDB and
  AppSync over AWS's endpoints, so the stack needs no NAT for it) whose inbound JWT authorizer accepts
  only access tokens of the platform's Cognito user pool issued to the web app client, and a named
  runtime endpoint the web app invokes (``invocation_url``);
* AgentCore memory (short-term events, expiring after ``memory.eventExpiryDays``);
* an optional Bedrock guardrail (content filters and prompt-attack filter) and a published version,
  which the runtime applies on every model call (``AGENT_GUARDRAIL_ID`` / ``_VERSION``);
* the runtime's log groups with the stack's retention (AgentCore writes to
  ``/aws/bedrock-agentcore/runtimes/<runtime id>-<endpoint>``; created here so they do not live forever);
* one execution role (``execution_statements``): exactly the configured models, exactly its image,
  its own logs, traces and metrics, its memory, its guardrail, the usage table and one GraphQL field.

Cognito access tokens carry the app client in ``client_id`` and have no ``aud`` claim, so the
authorizer pins ``allowedClients`` to the web app client (an ``allowedAudience`` would refuse every
access token). The web app sends the user's access token as ``Authorization: Bearer``; the runtime
passes that header, once validated, on to the agent, which identifies the user by its ``sub`` claim.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from app.deploy.contract import agent_invocation_url

from . import iam
from .config import PROJECT, AgentModel, AgentsConfig, partition_of
from .sessions import lifecycle_policy

TYPE = "aiplatform:agents:Agents"
AGENTCORE_SERVICE = "bedrock-agentcore.amazonaws.com"
MODEL_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")  # Converse(Stream) uses these
# Short-term memory: the agent writes each turn as an event and reads a session's recent turns back.
MEMORY_ACTIONS = ("bedrock-agentcore:CreateEvent", "bedrock-agentcore:GetEvent", "bedrock-agentcore:ListEvents",
                  "bedrock-agentcore:ListSessions")
# What AgentCore itself calls with the role when a request carries a user's JWT (AWS's execution role
# policy). GetWorkloadAccessTokenForUserId is left out: AWS recommends granting only the JWT form
# when callers present IdP tokens, as ours always do.
WORKLOAD_TOKEN_ACTIONS = ("bedrock-agentcore:GetWorkloadAccessToken",
                          "bedrock-agentcore:GetWorkloadAccessTokenForJWT")
# AgentCore's own metric namespace for what the ADOT SDK emits from inside the runtime.
AGENT_METRICS_NAMESPACE = "bedrock-agentcore"
# The one GraphQL field the runtime writes through (assistant Message + TraceSteps).
RECORD_REPLY_FIELD = "types/Mutation/fields/recordAgentReply"
LOG_GROUP_PREFIX = "/aws/bedrock-agentcore/runtimes/"
DEFAULT_ENDPOINT = "DEFAULT"  # AgentCore's own endpoint on every runtime
AUTHORIZATION_HEADER = "Authorization"
RUNTIME_NAME_MAX = 48


@dataclass(frozen=True)
class AgentsArgs:
    config: AgentsConfig
    stack: str
    region: str
    log_retention_days: int
    user_pool_id: pulumi.Input[str]
    user_pool_client_id: pulumi.Input[str]
    graphql_url: pulumi.Input[str]
    graphql_api_arn: pulumi.Input[str]
    usage_table_name: pulumi.Input[str]
    usage_table_arn: pulumi.Input[str]


@dataclass(frozen=True)
class AgentsBundle:
    runtime_name: str
    runtime_id: pulumi.Output[str]
    runtime_arn: pulumi.Output[str]
    endpoint_name: str
    metric_name: str  # AgentCore's Name dimension for this endpoint's metrics
    endpoint_arn: pulumi.Output[str]
    invocation_url: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    memory_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    authorizer_client_id: pulumi.Output[str]
    guardrail_id: Optional[pulumi.Output[str]]
    guardrail_version: Optional[pulumi.Output[str]]


# ---------------------------------------------------------------------------------------------
# Pure builders
# ---------------------------------------------------------------------------------------------
def runtime_name(stack: str) -> str:
    """aiplatform_<stack>_magi: AgentCore names allow letters, digits and underscores only."""
    name = f"{PROJECT}_{stack}_magi".replace("-", "_")
    if len(name) > RUNTIME_NAME_MAX:
        raise ValueError(f"agent runtime name {name!r} is longer than AgentCore's {RUNTIME_NAME_MAX} characters")
    return name


def metric_name(runtime: str, endpoint: str) -> str:
    """AgentCore's Name dimension on a runtime endpoint's metrics (Invocations, Latency, ...)."""
    return f"{runtime}::{endpoint}"


def memory_name(stack: str) -> str:
    return f"{PROJECT}_{stack}_magi_memory".replace("-", "_")


def discovery_url(region: str, user_pool_id: str) -> str:
    """The user pool's OIDC discovery document (AgentCore requires .../.well-known/openid-configuration)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}/.well-known/openid-configuration"


def invocation_url(region: str, runtime_arn: str, endpoint: str) -> str:
    """The URL the web app posts to (app/deploy/contract.py builds it, so app tooling can check it)."""
    return agent_invocation_url(region, runtime_arn, endpoint)


def log_group_names(runtime_id: str, endpoint: str) -> list[str]:
    """Where AgentCore writes a runtime's logs: one group per endpoint the runtime is invoked through."""
    return [f"{LOG_GROUP_PREFIX}{runtime_id}-{name}" for name in (endpoint, DEFAULT_ENDPOINT)]


def foundation_model_arn(region: str, model_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def model_grants(models: Mapping[str, AgentModel], region: str, account: str) -> list[iam.Statement]:
    """InvokeModel on exactly the configured models (Bedrock user guide, cross-Region inference):

    * a foundation model: its ARN in the stack's Region;
    * a geographic profile (``us.``...): the profile's ARN in the stack's Region, and the foundation
      model's ARN in every destination Region of the profile, usable only through that profile
      (``bedrock:InferenceProfileArn``): Bedrock authorizes the routed request where it runs;
    * a global profile: its ARN, the model in the stack's Region and the Region-less model ARN
      (``arn:aws:bedrock:::foundation-model/<model>``) AWS documents for global routing.
    """
    direct: set[str] = set()
    profiles: dict[str, set[str]] = {}  # profile ARN -> foundation-model ARNs it may route to
    part = partition_of(region)
    for model in models.values():
        if not model.is_profile:
            direct.add(foundation_model_arn(region, model.id, part))
            continue
        profile_arn = f"arn:{part}:bedrock:{region}:{account}:inference-profile/{model.id}"
        direct.add(profile_arn)
        if model.profile_regions == ("*",):
            targets = {foundation_model_arn(region, model.model_id, part), foundation_model_arn("", model.model_id, part)}
        else:
            targets = {foundation_model_arn(r, model.model_id, part) for r in model.profile_regions or ()}
        profiles.setdefault(profile_arn, set()).update(targets)
    stmts = [iam.Statement(actions=list(MODEL_ACTIONS), resources=sorted(direct), sid="InvokeConfiguredModels")]
    if profiles:
        stmts.append(iam.Statement(
            actions=list(MODEL_ACTIONS), resources=sorted(set().union(*profiles.values())),
            conditions={"StringEquals": {"bedrock:InferenceProfileArn": sorted(profiles)}},
            sid="InvokeThroughConfiguredProfiles"))
    return stmts


@dataclass(frozen=True)
class GrantRefs:
    """The ARNs the execution role is scoped to (Outputs allowed, except the account)."""

    account: str
    repository_arn: Any
    memory_arn: Any
    usage_table_arn: Any
    graphql_api_arn: Any
    guardrail_arn: Any = None


def execution_statements(cfg: AgentsConfig, region: str, refs: GrantRefs) -> list[iam.Statement]:
    """Everything the runtime may do before it exists; its logs and workload identity follow in
    ``runtime_statements`` (they name the runtime's id)."""
    stmts = [
        *model_grants(cfg.models, region, refs.account),
        # The registry login has no resource type; which image may be pulled is the next statement.
        iam.Statement(actions=["ecr:GetAuthorizationToken"], resources=["*"], sid="RegistryLogin"),
        iam.Statement(actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                      resources=[refs.repository_arn], sid="PullAgentImage"),
        iam.Statement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                               "xray:GetSamplingTargets"], resources=["*"], sid="WriteTraces"),
        # PutMetricData has no resource type: the namespace condition is what scopes it.
        iam.Statement(actions=["cloudwatch:PutMetricData"], resources=["*"], sid="PutAgentMetrics",
                      conditions={"StringEquals": {"cloudwatch:namespace": AGENT_METRICS_NAMESPACE}}),
        iam.Statement(actions=list(MEMORY_ACTIONS), resources=[refs.memory_arn], sid="UseAgentMemory"),
        # The per-user daily cap: one atomic ADD per invocation (app/agents).
        iam.Statement(actions=["dynamodb:UpdateItem"], resources=[refs.usage_table_arn], sid="CountInvocations"),
        iam.Statement(actions=["appsync:GraphQL"],
                      resources=[pulumi.Output.concat(refs.graphql_api_arn, "/", RECORD_REPLY_FIELD)],
                      sid="RecordAgentReply"),
    ]
    if refs.guardrail_arn is not None:
        stmts.append(iam.Statement(actions=["bedrock:ApplyGuardrail"], resources=[refs.guardrail_arn],
                                   sid="ApplyGuardrail"))
    return stmts


def runtime_statements(region: str, account: Any, runtime_id: Any, workload_identity_arn: Any) -> list[iam.Statement]:
    part = partition_of(region)
    groups = pulumi.Output.concat("arn:", part, ":logs:", region, ":", account, ":log-group:", LOG_GROUP_PREFIX,
                                  runtime_id, "-*")
    directory = pulumi.Output.concat("arn:", part, ":bedrock-agentcore:", region, ":", account,
                                     ":workload-identity-directory/default")
    return [
        # AWS's execution role policy: the runtime checks for and creates its log group, then writes.
        iam.Statement(actions=["logs:DescribeLogGroups"], resources=["*"], sid="FindLogGroups"),
        iam.Statement(actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"], resources=[groups],
                      sid="OwnLogGroups"),
        iam.Statement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[pulumi.Output.concat(groups, ":log-stream:*")], sid="WriteOwnLogs"),
        iam.Statement(actions=list(WORKLOAD_TOKEN_ACTIONS), resources=[directory, workload_identity_arn],
                      sid="OwnWorkloadToken"),
    ]


def environment(cfg: AgentsConfig, stack: str, *, memory_id: Any, usage_table: Any, graphql_url: Any,
                guardrail_id: Any = None, guardrail_version: Any = None) -> dict[str, Any]:
    """The runtime's environment: the contract with app/agents, plus AWS's OpenTelemetry distro
    settings. AgentCore injects the exporter endpoints and resource attributes (log group, runtime
    ARN) itself, so only the distro, the configurator and the service name are set here."""
    return {
        "AGENT_MODELS": json.dumps({role: m.id for role, m in cfg.models.items()}, sort_keys=True),
        "AGENT_GUARDRAIL_ID": guardrail_id if guardrail_id is not None else "",
        "AGENT_GUARDRAIL_VERSION": guardrail_version if guardrail_version is not None else "",
        "AGENT_MEMORY_ID": memory_id,
        "AGENT_USAGE_TABLE": usage_table,
        "AGENT_DAILY_INVOCATION_LIMIT": str(cfg.daily_invocations_per_user),
        "GRAPHQL_URL": graphql_url,
        "AGENT_OBSERVABILITY_ENABLED": "true",
        "OTEL_PYTHON_DISTRO": "aws_distro",
        "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
        "OTEL_SERVICE_NAME": runtime_name(stack),
    }


CONTENT_FILTERS = ("SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT")


def guardrail_args(cfg: AgentsConfig) -> dict[str, Any]:
    g = cfg.guardrail
    if g is None:
        raise ValueError("guardrail_args needs agents.guardrail to be enabled")
    filters = [{"type": f, "input_strength": g.content_filter_strength, "output_strength": g.content_filter_strength}
               for f in CONTENT_FILTERS]
    # Bedrock: the prompt-attack filter judges inputs only; its output strength must be NONE.
    filters.append({"type": "PROMPT_ATTACK", "input_strength": g.prompt_attack_strength, "output_strength": "NONE"})
    return {"blocked_input_messaging": g.blocked_message, "blocked_outputs_messaging": g.blocked_message,
            "content_policy_config": {"filters_configs": filters}}


# ---------------------------------------------------------------------------------------------
# Component
# ---------------------------------------------------------------------------------------------
class Agents(pulumi.ComponentResource):
    bundle: AgentsBundle

    def __init__(self, name: str, args: AgentsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        rt_name = runtime_name(args.stack)

        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            # A tag is what the runtime runs: immutable, so a push can never change a deployed agent.
            image_tag_mutability="IMMUTABLE",
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
            opts=child)
        aws.ecr.LifecyclePolicy(f"{name}-repo", repository=self.repository.name,
                                policy=lifecycle_policy(cfg.ecr_keep_images), opts=child)

        self.memory = aws.bedrock.AgentcoreMemory(
            f"{name}-memory", name=memory_name(args.stack), event_expiry_duration=cfg.memory_expiry_days,
            description=f"MAGI conversation context ({args.stack}); events expire after {cfg.memory_expiry_days} days",
            opts=child)

        self.guardrail: Optional[aws.bedrock.Guardrail] = None
        self.guardrail_version: Optional[aws.bedrock.GuardrailVersion] = None
        if cfg.guardrail is not None:
            self.guardrail = aws.bedrock.Guardrail(
                f"{name}-guardrail", name=f"{PROJECT}-{args.stack}-magi",
                description="Applied by the MAGI runtime to every model call", **guardrail_args(cfg), opts=child)
            # The runtime pins a published version, never the editable DRAFT.
            self.guardrail_version = aws.bedrock.GuardrailVersion(
                f"{name}-guardrail", guardrail_arn=self.guardrail.guardrail_arn,
                description="Pinned by the MAGI runtime", opts=child)

        # AgentCore assumes the role; the conditions are AWS's confused-deputy guard for this service:
        # "aws:SourceAccount": <account> and "aws:SourceArn" ArnLike "arn:aws:bedrock-agentcore:<region>:<account>:*".
        trust = iam.trust_policy(AGENTCORE_SERVICE, source_account=account,
                                 source_arn=pulumi.Output.concat("arn:", partition_of(args.region),
                                                                 ":bedrock-agentcore:", args.region, ":", account, ":*"))
        self.role = aws.iam.Role(f"{name}-runtime", description="MAGI agent runtime (Bedrock AgentCore)",
                                 assume_role_policy=trust, opts=child)
        guardrail_arn = self.guardrail.guardrail_arn if self.guardrail else None
        # Model ARNs are built as plain strings (sorted, deduplicated), so the account is resolved first.
        policy = account.apply(lambda acct: iam.document(execution_statements(cfg, args.region, GrantRefs(
            account=acct, repository_arn=self.repository.arn, memory_arn=self.memory.arn,
            usage_table_arn=args.usage_table_arn, graphql_api_arn=args.graphql_api_arn, guardrail_arn=guardrail_arn))))
        role_policy = aws.iam.RolePolicy(f"{name}-runtime", role=self.role.id, policy=policy, opts=child)

        env = environment(
            cfg, args.stack, memory_id=self.memory.id, usage_table=args.usage_table_name,
            graphql_url=args.graphql_url,
            guardrail_id=self.guardrail.guardrail_id if self.guardrail else None,
            guardrail_version=self.guardrail_version.version if self.guardrail_version else None)
        self.runtime = aws.bedrock.AgentcoreAgentRuntime(
            f"{name}-runtime",
            agent_runtime_name=rt_name,
            description=f"MAGI agents ({args.stack}): SOLOMON judges CASPAR, BALTHASAR and MELCHIOR",
            role_arn=self.role.arn,
            agent_runtime_artifact={"container_configuration": {
                "container_uri": pulumi.Output.concat(self.repository.repository_url, ":", cfg.image_tag)}},
            network_configuration={"network_mode": "PUBLIC"},
            protocol_configuration={"server_protocol": "HTTP"},
            authorizer_configuration={"custom_jwt_authorizer": {
                "discovery_url": pulumi.Output.from_input(args.user_pool_id).apply(
                    lambda pool: discovery_url(args.region, pool)),
                "allowed_clients": [args.user_pool_client_id],
            }},
            # AgentCore validates the bearer token, then hands it to the agent (only Authorization may be
            # passed this way, and only with a JWT authorizer): the agent takes the user from its sub claim,
            # never from the request body, to count invocations and own the reply.
            request_header_configuration={"request_header_allowlists": [AUTHORIZATION_HEADER]},
            lifecycle_configurations=[{"idle_runtime_session_timeout": cfg.idle_session_timeout_seconds,
                                       "max_lifetime": cfg.max_lifetime_seconds}],
            environment_variables=env,
            # The runtime validates it can pull its image with the role: the grants must exist first.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[role_policy])))

        # AgentCore creates one workload identity per runtime and reports its ARN.
        workload_arn = self.runtime.workload_identity_details.apply(lambda details: details[0].workload_identity_arn)
        self.runtime_policy = aws.iam.RolePolicy(
            f"{name}-runtime-logs", role=self.role.id,
            policy=iam.document(runtime_statements(args.region, account, self.runtime.agent_runtime_id, workload_arn)),
            opts=child)
        self.log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{suffix}", name=self.runtime.agent_runtime_id.apply(
                    lambda rid, i=i: log_group_names(rid, cfg.endpoint_name)[i]),
                retention_in_days=args.log_retention_days, opts=child)
            for i, suffix in enumerate(("endpoint-logs", "default-logs"))]

        self.endpoint = aws.bedrock.AgentcoreAgentRuntimeEndpoint(
            f"{name}-endpoint", name=cfg.endpoint_name, agent_runtime_id=self.runtime.agent_runtime_id,
            description=f"The endpoint the {args.stack} web app invokes",
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.runtime_policy])))

        self.bundle = AgentsBundle(
            runtime_name=rt_name,
            runtime_id=self.runtime.agent_runtime_id,
            runtime_arn=self.runtime.agent_runtime_arn,
            endpoint_name=cfg.endpoint_name,
            metric_name=metric_name(rt_name, cfg.endpoint_name),
            endpoint_arn=self.endpoint.agent_runtime_endpoint_arn,
            invocation_url=self.runtime.agent_runtime_arn.apply(
                lambda arn: invocation_url(args.region, arn, cfg.endpoint_name)),
            repository_url=self.repository.repository_url,
            memory_id=self.memory.id,
            role_arn=self.role.arn,
            authorizer_client_id=pulumi.Output.from_input(args.user_pool_client_id),
            guardrail_id=self.guardrail.guardrail_id if self.guardrail else None,
            guardrail_version=self.guardrail_version.version if self.guardrail_version else None,
        )
        self.register_outputs({
            "runtimeArn": self.bundle.runtime_arn,
            "endpointArn": self.bundle.endpoint_arn,
            "invocationUrl": self.bundle.invocation_url,
            "repositoryUrl": self.bundle.repository_url,
            "memoryId": self.bundle.memory_id,
            "roleArn": self.bundle.role_arn,
        })
