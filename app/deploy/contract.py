"""The stack outputs contract: every output an app deployment may rely on, in one table.

The platform program exports exactly these names (``components/outputs.py`` re-exports this table and
a test keeps ``__main__.py`` in step); app tooling reads them (``app.deploy.outputs``). Renaming or
removing an entry breaks every app that reads it, so entries are only ever added.

Standard library only: app teams use this package without Pulumi installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional
from urllib.parse import quote

# Which values a spec's ``kind`` accepts (checked by the loader).
KINDS = ("str", "list", "object")
# ``secret``: never; always (the program exports it with pulumi.Output.secret); or only when the
# stack enables an AppSync API key (the key inside makes the whole value secret).
SECRECY = ("never", "always", "with-api-key")


@dataclass(frozen=True)
class OutputSpec:
    name: str
    kind: str
    doc: str
    optional: bool = False  # may be absent or null
    secret: str = "never"
    # Name in the app's .env; NEXT_PUBLIC_ ones reach the browser bundle, so only public values get one.
    env: Optional[str] = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"output {self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.secret not in SECRECY:
            raise ValueError(f"output {self.name}: secret must be one of {', '.join(SECRECY)}, got {self.secret!r}")
        if self.secret != "never" and self.env and self.env.startswith("NEXT_PUBLIC_"):
            raise ValueError(f"output {self.name}: a secret must never get a NEXT_PUBLIC_ variable")


def _specs(*specs: OutputSpec) -> Mapping[str, OutputSpec]:
    table = {s.name: s for s in specs}
    if len(table) != len(specs):
        raise ValueError("the outputs contract names an output twice")
    return MappingProxyType(table)


OUTPUT_NAMES: Mapping[str, OutputSpec] = _specs(
    # --- where ---
    OutputSpec("region", "str", "AWS region of the stack (primary region of the tables).",
               env="NEXT_PUBLIC_AWS_REGION"),
    # --- network ---
    OutputSpec("vpcId", "str", "VPC id."),
    OutputSpec("publicSubnetIds", "list", "Public subnet ids, one per availability zone."),
    OutputSpec("privateSubnetIds", "list", "Private subnet ids, one per availability zone."),
    OutputSpec("sessionSecurityGroupId", "str", "Security group of the session (IDE) tasks."),
    OutputSpec("loadBalancerSecurityGroupId", "str", "Security group of the editor load balancer; null unless "
               "sessions.editorAccess is private.", optional=True),
    # --- identity ---
    OutputSpec("userPoolId", "str", "Cognito user pool id.", env="NEXT_PUBLIC_USER_POOL_ID"),
    OutputSpec("userPoolClientId", "str", "Cognito app client id of the web app (public client, no secret).",
               env="NEXT_PUBLIC_USER_POOL_CLIENT_ID"),
    OutputSpec("userPoolArn", "str", "Cognito user pool ARN."),
    OutputSpec("identityIssuerUrl", "str", "Token issuer (iss claim) for verifying Cognito JWTs server side.",
               env="COGNITO_ISSUER_URL"),
    OutputSpec("userPoolGroups", "list", "Cognito group names, highest precedence (ADMIN) first."),
    OutputSpec("oauthDomain", "str", "Hosted UI domain (<prefix>.auth.<region>.amazoncognito.com), "
               "null without identity.domainPrefix.", optional=True, env="NEXT_PUBLIC_OAUTH_DOMAIN"),
    OutputSpec("oauthCallbackUrls", "list", "OAuth sign-in redirect URLs the app client accepts."),
    OutputSpec("oauthLogoutUrls", "list", "OAuth sign-out redirect URLs the app client accepts."),
    # --- API ---
    OutputSpec("graphqlUrl", "str", "AppSync GraphQL endpoint (https).", env="NEXT_PUBLIC_GRAPHQL_URL"),
    OutputSpec("graphqlRealtimeUrl", "str", "AppSync real-time (subscriptions) endpoint (wss).",
               env="NEXT_PUBLIC_GRAPHQL_REALTIME_URL"),
    OutputSpec("graphqlApiId", "str", "AppSync API id."),
    OutputSpec("graphqlDefaultAuthMode", "str", "Default AppSync authorization type (AMAZON_COGNITO_USER_POOLS).",
               env="NEXT_PUBLIC_GRAPHQL_AUTH_MODE"),
    OutputSpec("graphqlAuthModes", "list", "Every AppSync authorization type the API accepts, default first."),
    OutputSpec("graphqlApiKey", "str", "AppSync API key; only exported when api.apiKey.enabled.",
               optional=True, secret="always", env="GRAPHQL_API_KEY"),
    # --- data ---
    OutputSpec("tables", "object", "Per table key: {name, regions: {<region>: {arn, streamArn}}}."),
    # --- sessions ---
    OutputSpec("sessionClusterArn", "str", "ECS cluster running the session tasks."),
    OutputSpec("sessionTaskDefinitionFamily", "str", "Task definition family of the session (IDE) container."),
    OutputSpec("sessionRepositoryUrl", "str", "ECR repository URL for the session image."),
    OutputSpec("sessionApiFunctionName", "str", "Lambda function behind the session mutations.",
               env="SESSIONS_API_FUNCTION_NAME"),
    OutputSpec("editorAccess", "str", "How editors are reached: public (task IP) or private (TLS load balancer)."),
    # --- cost and operations ---
    OutputSpec("budgetName", "str", "AWS Budgets budget watching this stack's spend."),
    OutputSpec("budgetTopicArn", "str", "SNS topic receiving budget alerts."),
    OutputSpec("costGuardStatus", "str", "What the cost guard watches (account or this stack's tags) and whether "
               "it sees spend yet; absent on stacks deployed before it existed.", optional=True),
    OutputSpec("alarmTopicArn", "str", "SNS topic receiving CloudWatch alarms."),
    OutputSpec("dashboardName", "str", "CloudWatch dashboard name, when observability.dashboard is on.",
               optional=True),
    # --- for Amplify JS ---
    OutputSpec("amplifyOutputs", "object", "amplify_outputs.json (schema 1.4: auth, data and, with agents, "
               "custom.agents) for Amplify.configure(); secret when it carries an API key.", secret="with-api-key"),
    # --- agents (null, all of them, when agents.enabled is false) ---
    OutputSpec("agentRuntimeArn", "str", "AgentCore runtime ARN of the MAGI agents.", optional=True,
               env="NEXT_PUBLIC_AGENT_RUNTIME_ARN"),
    OutputSpec("agentEndpointName", "str", "Runtime endpoint the app invokes (the qualifier).", optional=True,
               env="NEXT_PUBLIC_AGENT_ENDPOINT_NAME"),
    OutputSpec("agentInvocationUrl", "str", "HTTPS InvokeAgentRuntime URL (escaped runtime ARN, ?qualifier=<endpoint>): "
               "POST with Authorization: Bearer <the user's Cognito access token>.", optional=True,
               env="NEXT_PUBLIC_AGENT_INVOCATION_URL"),
    OutputSpec("agentAuthorizerClientId", "str", "App client the runtime's JWT authorizer allows: the client_id claim "
               "of Cognito access tokens (the web app client).", optional=True, env="NEXT_PUBLIC_AGENT_CLIENT_ID"),
    OutputSpec("agentRepositoryUrl", "str", "ECR repository for the agent's ARM64 image.", optional=True),
)

# The agent outputs: all set with agents, all null without.
AGENT_OUTPUTS = ("agentRuntimeArn", "agentEndpointName", "agentInvocationUrl", "agentAuthorizerClientId",
                 "agentRepositoryUrl")
# What the app sends the runtime as the bearer token: Cognito access tokens carry client_id (which the
# authorizer checks); ID tokens carry aud instead and are refused.
AGENT_TOKEN_USE = "access"

REQUIRED_OUTPUTS = tuple(name for name, spec in OUTPUT_NAMES.items() if not spec.optional)

# The platform's table keys (components/data.py PLATFORM_TABLES; a test keeps them equal).
TABLE_KEYS = ("users", "sessions", "conversations", "messages", "agentPresets", "traceSteps", "agentUsage")
EDITOR_ACCESS = ("public", "private")
# AppSync authorization types (botocore appsync AuthenticationType).
AUTH_MODES = ("API_KEY", "AWS_IAM", "AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA")
DEFAULT_AUTH_MODE = "AMAZON_COGNITO_USER_POOLS"


def agent_invocation_url(region: str, runtime_arn: str, endpoint: str) -> str:
    """InvokeAgentRuntime over HTTPS (POST /runtimes/{agentRuntimeArn}/invocations, the ARN URL-encoded,
    the endpoint as ?qualifier=): how a caller holding an OAuth token invokes the runtime."""
    return (f"https://bedrock-agentcore.{region}.amazonaws.com/runtimes/{quote(runtime_arn, safe='')}"
            f"/invocations?qualifier={quote(endpoint, safe='')}")


def table_env_name(key: str) -> str:
    """agentPresets -> DYNAMODB_TABLE_AGENT_PRESETS."""
    snake = "".join(f"_{c}" if c.isupper() else c for c in key).upper()
    return f"DYNAMODB_TABLE_{snake}"
