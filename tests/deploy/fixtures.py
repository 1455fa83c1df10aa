"""Contract-complete stack outputs built by hand (with the program's own builders), in the shapes
`pulumi stack output --json` and `pulumi stack export` give them."""

from __future__ import annotations

import copy
import json
from typing import Any

from app.deploy.outputs import OFFLINE_CIPHERTEXT, SECRET_SIG, SECRET_SIG_KEY
from components import outputs
from components.config import IdentityConfig

REGION = "us-east-1"
ACCOUNT = "123456789012"
API_KEY = "da2-abcdefghijklmnopqrstuvwxyz"
POOL = "us-east-1_AbCdEfGhI"
CLIENT = "1example23456789abcdefghij"
URL = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com/graphql"
RUNTIME_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/aiplatform_dev_magi-AbCdEf1234"


def stack_outputs(api_key: bool = False, oauth: bool = False, agents: bool = True) -> dict[str, Any]:
    """Every output of the contract, as plain values (secrets unmasked)."""
    cfg = IdentityConfig(mfa="OPTIONAL", deletion_protection=False, threat_protection="OFF",
                         callback_urls=("https://app.example.com/cb",), logout_urls=("https://app.example.com/",),
                         domain_prefix="example-app" if oauth else None)
    domain = outputs.oauth_domain("example-app", REGION) if oauth else None
    modes = ["AMAZON_COGNITO_USER_POOLS", "AWS_IAM"] + (["API_KEY"] if api_key else [])
    amplify = outputs.amplify_outputs(
        REGION,
        {**outputs.identity_settings(cfg), "user_pool_id": POOL, "user_pool_client_id": CLIENT, "oauth_domain": domain},
        {"url": URL, "default_authorization_type": modes[0], "authorization_types": modes,
         "api_key": API_KEY if api_key else None},
        outputs.agents_settings(REGION, RUNTIME_ARN, "live", CLIENT) if agents else None)
    tables = outputs.tables_output(REGION, {
        key: {"name": f"data-{key}-1a2b3c4", "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/data-{key}-1a2b3c4",
              "stream_arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/data-{key}-1a2b3c4/stream/2026-01-01T00:00:00.000",
              "replicas": []}
        for key in ("users", "sessions", "conversations", "messages", "agentPresets", "traceSteps", "agentUsage")})
    values: dict[str, Any] = {
        "region": REGION,
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-0a", "subnet-0b"],
        "privateSubnetIds": ["subnet-1a", "subnet-1b"],
        "sessionSecurityGroupId": "sg-0123456789abcdef0",
        "loadBalancerSecurityGroupId": None,
        "userPoolId": POOL,
        "userPoolClientId": CLIENT,
        "userPoolArn": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{POOL}",
        "identityIssuerUrl": f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}",
        "userPoolGroups": ["ADMIN", "USER", "RESEARCHER"],
        "oauthDomain": domain,
        "oauthCallbackUrls": ["https://app.example.com/cb"],
        "oauthLogoutUrls": ["https://app.example.com/"],
        "graphqlUrl": URL,
        "graphqlRealtimeUrl": URL.replace("https://", "wss://").replace("appsync-api", "appsync-realtime-api"),
        "graphqlApiId": "abcdefghijklmnopqrstuvwxyz",
        "graphqlDefaultAuthMode": "AMAZON_COGNITO_USER_POOLS",
        "graphqlAuthModes": modes,
        "tables": tables,
        "sessionClusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/sessions-1a2b3c4",
        "sessionTaskDefinitionFamily": "aiplatform-dev-session",
        "sessionRepositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sessions-1a2b3c4",
        "sessionApiFunctionName": "sessions-api-1a2b3c4",
        "editorAccess": "public",
        "budgetName": "aiplatform-dev-monthly",
        "budgetTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:cost-alerts-1a2b3c4",
        "alarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms-1a2b3c4",
        "dashboardName": "aiplatform-dev",
        "amplifyOutputs": amplify,
        "agentRuntimeArn": RUNTIME_ARN if agents else None,
        "agentEndpointName": "live" if agents else None,
        "agentInvocationUrl": amplify["custom"]["agents"]["invocation_url"] if agents else None,
        "agentAuthorizerClientId": CLIENT if agents else None,
        "agentRepositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/agents-repo-1a2b3c4" if agents else None,
    }
    if api_key:
        values["graphqlApiKey"] = API_KEY
    if not oauth:
        del values["oauthDomain"]  # the program leaves it out without a hosted UI
    return values


def secret_names(values: dict) -> list[str]:
    return ["graphqlApiKey", "amplifyOutputs"] if "graphqlApiKey" in values else []


def pulumi_json(values: dict, show_secrets: bool = False) -> str:
    """What `pulumi stack output --json [--show-secrets]` prints."""
    shown = dict(values)
    if not show_secrets:
        for name in secret_names(values):
            shown[name] = "[secret]"
    return json.dumps(shown, indent=4)


def envelope(value: Any, decrypted: bool) -> dict:
    if decrypted:
        return {SECRET_SIG_KEY: SECRET_SIG, "plaintext": json.dumps(value)}
    return {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": OFFLINE_CIPHERTEXT}


def export_doc(values: dict, decrypted: bool = False) -> dict:
    """A minimal `pulumi stack export` (v3) whose stack resource carries ``values``."""
    outs = copy.deepcopy(values)
    for name in secret_names(values):
        outs[name] = envelope(outs[name], decrypted)
    return {"version": 3, "deployment": {
        "manifest": {"time": "2026-01-01T00:00:00+00:00", "magic": "x", "version": "v3"},
        "resources": [{"urn": "urn:pulumi:dev::aiplatform::pulumi:pulumi:Stack::aiplatform-dev", "custom": False,
                       "type": "pulumi:pulumi:Stack", "outputs": outs}]}}
