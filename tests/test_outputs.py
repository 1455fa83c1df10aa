"""The stack outputs contract and its builders: amplify_outputs.json validates against Amplify's published
schema, tables_output covers every region, bad input is refused by name."""

from __future__ import annotations

import json

import jsonschema
import pytest

from app.deploy import contract
from components import outputs
from components.config import IdentityConfig, FederatedProvider
from components.data import PLATFORM_TABLES
from components.identity import OAUTH_SCOPES, PASSWORD_MIN_LENGTH, group_precedences
from tests import published_schemas

REGION = "us-east-1"
URL = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com/graphql"


@pytest.fixture(scope="module")
def schema_validator():
    schema = published_schemas.load(published_schemas.AMPLIFY_OUTPUTS)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def identity_cfg(**overrides) -> IdentityConfig:
    base = dict(mfa="OPTIONAL", deletion_protection=False, threat_protection="OFF",
                callback_urls=("http://localhost:3000/auth/callback",), logout_urls=("http://localhost:3000/",))
    return IdentityConfig(**{**base, **overrides})


def identity(cfg: IdentityConfig, domain=None, **extra) -> dict:
    return {**outputs.identity_settings(cfg), "user_pool_id": "us-east-1_abcdefghi",
            "user_pool_client_id": "1example23456789abcdefghij", "oauth_domain": domain, **extra}


def api(key=None, modes=("AMAZON_COGNITO_USER_POOLS", "AWS_IAM")) -> dict:
    return {"url": URL, "default_authorization_type": "AMAZON_COGNITO_USER_POOLS",
            "authorization_types": list(modes) + (["API_KEY"] if key else []), "api_key": key}


def assert_valid(validator, doc):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{list(errors[0].path)}: {errors[0].message}"


# --- contract ----------------------------------------------------------------------------------
def test_contract_names_match_the_leads_list():
    assert list(contract.OUTPUT_NAMES) == [
        "region", "vpcId", "publicSubnetIds", "privateSubnetIds", "sessionSecurityGroupId", "loadBalancerSecurityGroupId",
        "userPoolId", "userPoolClientId", "userPoolArn", "identityIssuerUrl", "userPoolGroups", "oauthDomain",
        "oauthCallbackUrls", "oauthLogoutUrls",
        "graphqlUrl", "graphqlRealtimeUrl", "graphqlApiId", "graphqlDefaultAuthMode", "graphqlAuthModes",
        "graphqlApiKey", "tables",
        "sessionClusterArn", "sessionTaskDefinitionFamily", "sessionRepositoryUrl", "sessionApiFunctionName",
        "editorAccess", "budgetName", "budgetTopicArn", "costGuardStatus", "alarmTopicArn", "dashboardName",
        "amplifyOutputs",
        "agentRuntimeArn", "agentEndpointName", "agentInvocationUrl", "agentAuthorizerClientId", "agentRepositoryUrl"]
    optional = {n for n, s in contract.OUTPUT_NAMES.items() if s.optional}
    assert optional == {"oauthDomain", "graphqlApiKey", "dashboardName", "loadBalancerSecurityGroupId",
                        "costGuardStatus", *contract.AGENT_OUTPUTS}
    assert {n: s.secret for n, s in contract.OUTPUT_NAMES.items() if s.secret != "never"} == {
        "graphqlApiKey": "always", "amplifyOutputs": "with-api-key"}
    assert outputs.OUTPUT_NAMES is contract.OUTPUT_NAMES
    assert all(s.doc.strip() and "\n" not in s.doc for s in contract.OUTPUT_NAMES.values())


def test_contract_table_keys_are_the_data_components_tables():
    assert set(contract.TABLE_KEYS) == set(PLATFORM_TABLES)


def test_contract_refuses_a_public_env_name_for_a_secret():
    with pytest.raises(ValueError, match="graphqlApiKey: a secret must never get a NEXT_PUBLIC_ variable"):
        contract.OutputSpec("graphqlApiKey", "str", "key", secret="always", env="NEXT_PUBLIC_API_KEY")


def test_table_env_names():
    assert contract.table_env_name("agentPresets") == "DYNAMODB_TABLE_AGENT_PRESETS"
    assert contract.table_env_name("users") == "DYNAMODB_TABLE_USERS"


# --- amplify_outputs -----------------------------------------------------------------------------
def test_minimal_outputs_validate_and_carry_the_pool(schema_validator):
    doc = outputs.amplify_outputs(REGION, identity(identity_cfg()), api())
    assert_valid(schema_validator, doc)
    auth, data = doc["auth"], doc["data"]
    assert doc["version"] == "1.4"
    assert auth["user_pool_id"] == "us-east-1_abcdefghi" and auth["aws_region"] == REGION
    assert "identity_pool_id" not in auth and "oauth" not in auth
    assert auth["mfa_configuration"] == "OPTIONAL" and auth["mfa_methods"] == ["TOTP"]
    assert auth["password_policy"] == {"min_length": PASSWORD_MIN_LENGTH, "require_lowercase": True,
                                       "require_uppercase": True, "require_numbers": True, "require_symbols": True}
    assert auth["groups"] == [{"ADMIN": {"precedence": 0}}, {"USER": {"precedence": 1}},
                              {"RESEARCHER": {"precedence": 2}}]
    assert data == {"aws_region": REGION, "url": URL, "default_authorization_type": "AMAZON_COGNITO_USER_POOLS",
                    "authorization_types": ["AWS_IAM"]}


def test_group_precedence_matches_the_identity_component():
    cfg = identity_cfg(groups=("USER", "ADMIN", "OPS"))
    doc = outputs.amplify_outputs(REGION, identity(cfg), api())
    assert [(next(iter(g)), next(iter(g.values()))["precedence"]) for g in doc["auth"]["groups"]] \
        == group_precedences(cfg.groups)


def test_required_mfa_maps_to_amplifys_required():
    doc = outputs.amplify_outputs(REGION, identity(identity_cfg(mfa="ON")), api())
    assert doc["auth"]["mfa_configuration"] == "REQUIRED"


def test_api_key_and_oauth_validate(schema_validator):
    cfg = identity_cfg(domain_prefix="example-app", callback_urls=("https://app.example.com/cb",),
                       logout_urls=("https://app.example.com/",),
                       google=FederatedProvider(client_id="g"), apple=FederatedProvider("a", "t", "k"))
    domain = outputs.oauth_domain("example-app", REGION)
    doc = outputs.amplify_outputs(REGION, identity(cfg, domain=domain), api(key="da2-abcdefghijklmnopqrstuvwxyz"))
    assert_valid(schema_validator, doc)
    assert doc["data"]["api_key"] == "da2-abcdefghijklmnopqrstuvwxyz"
    assert doc["data"]["authorization_types"] == ["AWS_IAM", "API_KEY"]
    assert doc["auth"]["oauth"] == {
        "identity_providers": ["GOOGLE", "SIGN_IN_WITH_APPLE"],
        "domain": "example-app.auth.us-east-1.amazoncognito.com",
        "scopes": list(OAUTH_SCOPES),
        "redirect_sign_in_uri": ["https://app.example.com/cb"],
        "redirect_sign_out_uri": ["https://app.example.com/"],
        "response_type": "code",
    }


def test_schema_would_catch_a_broken_document(schema_validator):
    """The validation above can fail: Amplify's schema rejects what we must not write."""
    doc = outputs.amplify_outputs(REGION, identity(identity_cfg()), api())
    broken = json.loads(json.dumps(doc))
    del broken["auth"]["user_pool_client_id"]
    broken["data"]["default_authorization_type"] = "COGNITO"
    assert len(list(schema_validator.iter_errors(broken))) == 2


@pytest.mark.parametrize("field, value, message", [
    ("user_pool_id", None, "amplify_outputs: identity.user_pool_id is required (the Cognito user pool id), got None"),
    ("user_pool_id", "", "amplify_outputs: identity.user_pool_id is required (the Cognito user pool id), got ''"),
    ("user_pool_client_id", None, "amplify_outputs: identity.user_pool_client_id is required"),
    ("oauth_domain", "https://x.auth.us-east-1.amazoncognito.com", "identity.oauth_domain must be the hosted UI host"),
    ("groups", "ADMIN", "identity.groups must be the group names in precedence order"),
    ("mfa_configuration", None, "identity.mfa_configuration is required (use identity_settings(cfg.identity))"),
])
def test_bad_identity_is_refused_by_name(field, value, message):
    with pytest.raises(outputs.OutputsContractError) as err:
        outputs.amplify_outputs(REGION, identity(identity_cfg(), **{field: value}), api())
    assert message in str(err.value)


def test_missing_user_pool_id_key_is_refused():
    ident = identity(identity_cfg())
    del ident["user_pool_id"]
    with pytest.raises(outputs.OutputsContractError, match=r"identity\.user_pool_id is required"):
        outputs.amplify_outputs(REGION, ident, api())


@pytest.mark.parametrize("a, message", [
    ({"url": "http://x/graphql"}, "api.url must be the https GraphQL endpoint"),
    ({"url": None}, "api.url is required (the AppSync GraphQL URL)"),
    ({"authorization_types": ["AWS_IAM"]}, "must include the default 'AMAZON_COGNITO_USER_POOLS'"),
    ({"authorization_types": ["AMAZON_COGNITO_USER_POOLS", "COGNITO"]}, "has 'COGNITO', not an AppSync"),
    ({"api_key": "da2-x"}, "api.api_key must be given exactly when API_KEY is among authorization_types"),
    ({"authorization_types": ["AMAZON_COGNITO_USER_POOLS", "API_KEY"]}, "api_key missing"),
])
def test_bad_api_is_refused_by_name(a, message):
    with pytest.raises(outputs.OutputsContractError) as err:
        outputs.amplify_outputs(REGION, identity(identity_cfg()), {**api(), **a})
    assert message in str(err.value)


def test_bad_region_is_refused():
    with pytest.raises(outputs.OutputsContractError, match="region must be an AWS region name, got 'US-EAST-1'"):
        outputs.amplify_outputs("US-EAST-1", identity(identity_cfg()), api())


def test_hosted_ui_without_logout_urls_fails_at_settings_time():
    cfg = identity_cfg(domain_prefix="example-app", logout_urls=())
    with pytest.raises(outputs.OutputsContractError, match="identity.logoutUrls is empty"):
        outputs.identity_settings(cfg)


def test_oauth_section_needs_redirects():
    ident = identity(identity_cfg(), domain=outputs.oauth_domain("x", REGION), logout_urls=[])
    with pytest.raises(outputs.OutputsContractError, match="identity.logout_urls must not be empty"):
        outputs.amplify_outputs(REGION, ident, api())


def test_builder_returns_plain_json():
    doc = outputs.amplify_outputs(REGION, identity(identity_cfg()), api())
    assert json.loads(json.dumps(doc)) == doc


# --- tables_output -----------------------------------------------------------------------------
def table(key, replicas=()):
    arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/{key}-abc"
    return {"name": f"{key}-abc", "arn": arn, "stream_arn": f"{arn}/stream/2026", "replicas": list(replicas)}


def test_tables_output_lists_every_region():
    replica = {"region_name": "ap-northeast-1", "arn": "arn:aws:dynamodb:ap-northeast-1:123456789012:table/users-abc",
               "stream_arn": "arn:aws:dynamodb:ap-northeast-1:123456789012:table/users-abc/stream/2026"}
    tables = {k: table(k, [replica] if k == "users" else []) for k in contract.TABLE_KEYS}
    out = outputs.tables_output(REGION, tables)
    assert set(out) == set(contract.TABLE_KEYS)
    assert out["users"] == {"name": "users-abc", "regions": {
        REGION: {"arn": tables["users"]["arn"], "streamArn": tables["users"]["stream_arn"]},
        "ap-northeast-1": {"arn": replica["arn"], "streamArn": replica["stream_arn"]}}}
    assert list(out["sessions"]["regions"]) == [REGION]


def test_tables_output_keeps_an_unreported_replica_stream_as_null():
    replica = {"region_name": "eu-west-1", "arn": "arn:aws:dynamodb:eu-west-1:123456789012:table/users-abc"}
    out = outputs.tables_output(REGION, {k: table(k, [replica]) for k in contract.TABLE_KEYS})
    assert out["users"]["regions"]["eu-west-1"]["streamArn"] is None


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.pop("messages"), "tables output: missing table(s) messages"),
    (lambda t: t["users"].update(arn=None), "tables output: table users: arn is required, got None"),
    (lambda t: t["users"].update(replicas=[{"arn": "x"}]), "table users: a replica has no region_name"),
    (lambda t: t["users"].update(replicas=[{"region_name": REGION, "arn": "x"}]),
     "table users: region us-east-1 appears twice"),
])
def test_tables_output_refuses_bad_input(mutate, message):
    tables = {k: table(k) for k in contract.TABLE_KEYS}
    mutate(tables)
    with pytest.raises(outputs.OutputsContractError) as err:
        outputs.tables_output(REGION, tables)
    assert message in str(err.value)


@pytest.mark.parametrize("stack, mfa", [("dev", "OPTIONAL"), ("prod", "REQUIRED")])
def test_each_stack_files_identity_gives_valid_outputs(schema_validator, stack, mfa):
    """The real stack configs (dev without, prod with a hosted UI) produce schema-valid documents."""
    from components import config as platform_config
    from tools import program

    raw, secrets = program.stack_config(stack)
    cfg = platform_config.parse(raw, stack, secrets)
    domain = outputs.oauth_domain(cfg.identity.domain_prefix, cfg.region) if cfg.identity.domain_prefix else None
    doc = outputs.amplify_outputs(cfg.region, identity(cfg.identity, domain=domain), api())
    assert_valid(schema_validator, doc)
    assert doc["auth"]["mfa_configuration"] == mfa
    assert ("oauth" in doc["auth"]) == (domain is not None)


# --- agents (custom.agents) ------------------------------------------------------------------------
RUNTIME_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/aiplatform_dev_magi-AbCdEf1234"
CLIENT = "1example23456789abcdefghij"


def test_agents_custom_section_validates_and_builds_the_invocation_url(schema_validator):
    agents = outputs.agents_settings(REGION, RUNTIME_ARN, "live", CLIENT)
    doc = outputs.amplify_outputs(REGION, identity(identity_cfg()), api(), agents)
    assert_valid(schema_validator, doc)
    custom = doc["custom"]["agents"]
    # botocore: POST /runtimes/{agentRuntimeArn}/invocations, the ARN one URL path segment.
    assert custom["invocation_url"] == (
        "https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/"
        "arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Faiplatform_dev_magi-AbCdEf1234"
        "/invocations?qualifier=live")
    assert custom == {"aws_region": REGION, "runtime_arn": RUNTIME_ARN, "endpoint_name": "live",
                      "invocation_url": custom["invocation_url"], "client_id": CLIENT, "token_use": "access"}
    assert "custom" not in outputs.amplify_outputs(REGION, identity(identity_cfg()), api())


@pytest.mark.parametrize("args, message", [
    ((REGION, "arn:aws:bedrock:us-east-1:123456789012:agent/X", "live", CLIENT), "agents.runtime_arn must be an AgentCore runtime ARN"),
    (("eu-west-1", RUNTIME_ARN, "live", CLIENT), "agents.runtime_arn is in us-east-1, not the stack's region eu-west-1"),
    ((REGION, RUNTIME_ARN, "live-1", CLIENT), "agents.endpoint_name must be an AgentCore endpoint name"),
    ((REGION, RUNTIME_ARN, "live", ""), "agents.client_id is required"),
])
def test_agents_settings_refuse_bad_input(args, message):
    with pytest.raises(outputs.OutputsContractError, match=message):
        outputs.agents_settings(*args)


def test_agents_for_another_app_client_are_refused():
    agents = outputs.agents_settings(REGION, RUNTIME_ARN, "live", "someotherclient")
    with pytest.raises(outputs.OutputsContractError, match="agents must come from agents_settings"):
        outputs.amplify_outputs(REGION, identity(identity_cfg()), api(), agents)
