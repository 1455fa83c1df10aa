"""aiplatform: compose the platform's components from typed stack config and export the outputs.

Stack differences live in Pulumi.<stack>.yaml only; nothing here branches on the stack name.
"""

import pulumi

from components import config
from components import outputs as contract
from components.agents import Agents, AgentsArgs
from components.api import Api, ApiArgs
from components.cost_guard import CostGuard, CostGuardArgs
from components.data import Data, DataArgs
from components.identity import TRIGGER_TIMEOUT_SECONDS, Identity, IdentityArgs
from components.network import Network, NetworkArgs
from components.observability import AgentRuntimeRef, FunctionRef, Observability, ObservabilityArgs
from components.provider import aws_provider, child_options
from components.sessions import Sessions, SessionsArgs

# What the budget action denies the session starter: the calls that start Fargate spend.
SESSION_START_ACTIONS = ("ecs:RunTask", "ecs:StartTask")

cfg = config.load()
# What amplify_outputs.json says about the pool follows from config; checked before any resource.
identity_settings = contract.identity_settings(cfg.identity)
opts = child_options(aws_provider(cfg))

network = Network("network", NetworkArgs(
    config=cfg.network, region=cfg.region, log_retention_days=cfg.log_retention_days,
    editor_port=cfg.sessions.editor_port, editor_access=cfg.sessions.editor_access,
    editor_allowed_cidrs=cfg.sessions.allowed_cidrs, efs_workspace=cfg.sessions.efs_workspace), opts)

data = Data("data", DataArgs(config=cfg.data, region=cfg.region), opts)

identity = Identity("identity", IdentityArgs(
    config=cfg.identity, users_table_arn=data.tables["users"].arn, users_table_name=data.tables["users"].name,
    log_retention_days=cfg.log_retention_days, secrets=cfg.secrets), opts)

# The GraphQL API invokes the sessions API function, whose handlers publish status changes back
# through the GraphQL API: the function's ARN and name are deferred until Sessions exists.
sessions_fn_arn, resolve_sessions_fn_arn = pulumi.deferred_output()
sessions_fn_name, resolve_sessions_fn_name = pulumi.deferred_output()
api = Api("api", ApiArgs(
    config=cfg.api, region=cfg.region, log_retention_days=cfg.log_retention_days,
    user_pool_id=identity.outputs.user_pool_id, tables=data.tables,
    sessions_function_arn=sessions_fn_arn, sessions_function_name=sessions_fn_name), opts)

# The sessions Lambdas learn the deny policy's ARN (to report "budget limit reached"), while the cost
# guard needs the roles that launch tasks to deny: a deferred output breaks the cycle.
deny_policy_arn, resolve_deny_policy_arn = pulumi.deferred_output()
sessions = Sessions("sessions", SessionsArgs(
    config=cfg.sessions, region=cfg.region, log_retention_days=cfg.log_retention_days,
    public_subnet_ids=network.public_subnet_ids, private_subnet_ids=network.private_subnet_ids,
    session_security_group_id=network.session_security_group_id,
    load_balancer_security_group_id=network.load_balancer_security_group_id,
    sessions_table_name=data.tables["sessions"].name, sessions_table_arn=data.tables["sessions"].arn,
    graphql_url=api.bundle.graphql_url, graphql_api_arn=api.bundle.arn,
    budget_deny_policy_arn=deny_policy_arn,
    # efs workspaces: the mount targets' group, and the file system protected like the tables.
    **({"workspace_security_group_id": network.workspace_security_group_id, "session_subnet_count": cfg.network.azs}
       if cfg.sessions.efs_workspace else {}),
    protect_workspaces=cfg.data.deletion_protection,
    # Private editors sign in with the platform's user pool (an app client of the load balancer's own).
    **({"user_pool_id": identity.outputs.user_pool_id, "user_pool_arn": identity.outputs.user_pool_arn,
        "user_pool_domain": identity.outputs.domain} if cfg.sessions.editor_access == "private" else {})), opts)
resolve_sessions_fn_arn(sessions.bundle.api_function_arn)
resolve_sessions_fn_name(sessions.bundle.api_function_name)

cost = CostGuard("cost", CostGuardArgs(
    config=cfg.cost_guard, stack=cfg.stack, tags=cfg.tags,
    throttled_roles=list(sessions.bundle.starter_roles), deny_actions=SESSION_START_ACTIONS), opts)
resolve_deny_policy_arn(cost.bundle.deny_policy_arn)

# The MAGI agents (agents.enabled): the web app calls the runtime directly with the user's Cognito
# access token; the runtime counts calls in agentUsage and writes replies through recordAgentReply.
agents = None
if cfg.agents is not None:
    agents = Agents("agents", AgentsArgs(
        config=cfg.agents, stack=cfg.stack, region=cfg.region, log_retention_days=cfg.log_retention_days,
        user_pool_id=identity.outputs.user_pool_id, user_pool_client_id=identity.outputs.client_id,
        graphql_url=api.bundle.graphql_url, graphql_api_arn=api.bundle.arn,
        usage_table_name=data.tables["agentUsage"].name, usage_table_arn=data.tables["agentUsage"].arn), opts)

lam = cfg.sessions.lambda_settings
observability = Observability("observability", ObservabilityArgs(
    config=cfg.observability, stack=cfg.stack, region=cfg.region,
    monthly_budget_usd=cfg.cost_guard.monthly_budget_usd, budget_name=cost.bundle.budget_name,
    cost_guard_inert=cost.bundle.inert_note,
    functions={
        **{f"sessions-{kind}": FunctionRef(name, lam.timeout_for(kind), lam.reserved_for(kind))
           for kind, name in sessions.bundle.function_names.items()},
        "post-confirmation": FunctionRef(identity.outputs.trigger_function_name, TRIGGER_TIMEOUT_SECONDS),
    },
    tables={key: table.name for key, table in data.tables.items()},
    table_indexes={key: table.index_names for key, table in data.tables.items()},
    graphql_api_id=api.bundle.api_id,
    sessions_cluster_name=sessions.bundle.cluster_name,
    agent_runtime=AgentRuntimeRef(
        runtime_arn=agents.bundle.runtime_arn, name=agents.bundle.metric_name, errors=cfg.agents.alarm_errors,
        throttles=cfg.agents.alarm_throttles, latency_p95_ms=cfg.agents.alarm_latency_p95_ms) if agents else None), opts)

pulumi.export("region", cfg.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("sessionSecurityGroupId", network.session_security_group_id)
pulumi.export("loadBalancerSecurityGroupId", network.load_balancer_security_group_id)
pulumi.export("userPoolId", identity.outputs.user_pool_id)
pulumi.export("userPoolArn", identity.outputs.user_pool_arn)
pulumi.export("userPoolClientId", identity.outputs.client_id)
pulumi.export("identityIssuerUrl", identity.outputs.issuer_url)
pulumi.export("userPoolGroups", identity_settings["groups"])
oauth_domain = (identity.outputs.domain.apply(lambda prefix: contract.oauth_domain(prefix, cfg.region))
                if identity.outputs.domain is not None else None)
pulumi.export("oauthDomain", oauth_domain)
pulumi.export("oauthCallbackUrls", list(cfg.identity.callback_urls))
pulumi.export("oauthLogoutUrls", list(cfg.identity.logout_urls))
pulumi.export("graphqlUrl", api.bundle.graphql_url)
pulumi.export("graphqlRealtimeUrl", api.bundle.realtime_url)
pulumi.export("graphqlApiId", api.bundle.api_id)
pulumi.export("graphqlDefaultAuthMode", api.bundle.default_auth_mode)
pulumi.export("graphqlAuthModes", api.bundle.auth_modes)
if api.bundle.api_key is not None:
    pulumi.export("graphqlApiKey", api.bundle.api_key)
pulumi.export("tables", pulumi.Output.all(**{
    key: pulumi.Output.all(name=g.table.name, arn=g.table.arn, stream_arn=g.table.stream_arn,
                           replicas=g.table.replicas)
    for key, g in data.global_tables.items()}).apply(lambda tables: contract.tables_output(cfg.region, tables)))
# With an API key inside, Output.all makes the whole value secret by itself.
pulumi.export("amplifyOutputs", pulumi.Output.all(
    pool=identity.outputs.user_pool_id, client=identity.outputs.client_id, domain=oauth_domain,
    url=api.bundle.graphql_url, modes=api.bundle.auth_modes, default=api.bundle.default_auth_mode,
    key=api.bundle.api_key, agent_arn=agents.bundle.runtime_arn if agents else None,
    agent_client=agents.bundle.authorizer_client_id if agents else None,
).apply(lambda v: contract.amplify_outputs(
    cfg.region,
    {**identity_settings, "user_pool_id": v["pool"], "user_pool_client_id": v["client"], "oauth_domain": v["domain"]},
    {"url": v["url"], "default_authorization_type": v["default"], "authorization_types": v["modes"],
     "api_key": v["key"]},
    contract.agents_settings(cfg.region, v["agent_arn"], agents.bundle.endpoint_name, v["agent_client"])
    if agents else None)))
pulumi.export("sessionClusterArn", sessions.bundle.cluster_arn)
pulumi.export("sessionTaskDefinitionFamily", sessions.bundle.task_definition_family)
pulumi.export("sessionRepositoryUrl", sessions.bundle.repository_url)
pulumi.export("sessionApiFunctionName", sessions.bundle.api_function_name)
pulumi.export("editorAccess", cfg.sessions.editor_access)
pulumi.export("budgetName", cost.bundle.budget_name)
pulumi.export("budgetTopicArn", cost.bundle.topic_arn)
pulumi.export("costGuardStatus", cost.bundle.status)
pulumi.export("alarmTopicArn", observability.bundle.topic_arn)
pulumi.export("dashboardName", observability.bundle.dashboard_name)
pulumi.export("agentRuntimeArn", agents.bundle.runtime_arn if agents else None)
pulumi.export("agentEndpointName", agents.bundle.endpoint_name if agents else None)
pulumi.export("agentInvocationUrl", agents.bundle.invocation_url if agents else None)
pulumi.export("agentAuthorizerClientId", agents.bundle.authorizer_client_id if agents else None)
pulumi.export("agentRepositoryUrl", agents.bundle.repository_url if agents else None)
