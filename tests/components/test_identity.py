"""Identity component under mocks: the user pool's security settings per stack, the web client, groups,
federated providers and their secrets, and the post-confirmation trigger's wiring and permissions."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from components import iam
from components import identity as ident
from components.config import ConfigError, parse
from components.identity import Identity, IdentityArgs
from tests.conftest import build
from tools import program
from tools.mocks import ACCOUNT_ID, SECRET_SIG, SECRET_VALUE_SIG

TABLE_NAME = "users-1a2b3c4"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/{TABLE_NAME}"
POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
IDP = "aws:cognito/identityProvider:IdentityProvider"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

PROD_IDENTITY = {
    "mfa": "ON", "deletionProtection": True, "threatProtection": "ENFORCED",
    "callbackUrls": ["https://app.example.com/auth/callback"], "logoutUrls": ["https://app.example.com/"],
    "domainPrefix": "example-aiplatform-prod",
    "email": {"sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/example.com",
              "fromAddress": "aiplatform <no-reply@example.com>"},
}
FEDERATED = {
    "aiplatform:identity": {**PROD_IDENTITY, "google": {"clientId": "1234.apps.googleusercontent.com"},
                            "apple": {"clientId": "com.example.web", "teamId": "TEAM123456", "keyId": "KEY1234567"}},
}
FEDERATED_SECRETS = {
    "aiplatform:googleClientSecret": "google-client-secret-value",
    "aiplatform:applePrivateKey": "-----BEGIN PRIVATE KEY-----\nMIGTAgEA\n-----END PRIVATE KEY-----",
}


def _identity(cfg, opts):
    return Identity("identity", IdentityArgs(
        config=cfg.identity, users_table_arn=TABLE_ARN, users_table_name=TABLE_NAME,
        log_retention_days=cfg.log_retention_days, secrets=cfg.secrets), opts)


@pytest.fixture(scope="module")
def dev():
    return build(_identity, "dev")[0]


@pytest.fixture(scope="module")
def prod():
    return build(_identity, "prod")[0]


@pytest.fixture(scope="module")
def federated():
    return build(_identity, "prod", overrides=FEDERATED, secret_overrides=FEDERATED_SECRETS)[0]


@pytest.fixture(scope="module")
def custom_groups():
    overrides = {"aiplatform:identity": {"mfa": "OPTIONAL", "deletionProtection": False, "threatProtection": "AUDIT",
                                         "groups": ["USER", "OPS", "ADMIN"], "defaultGroup": "OPS"}}
    return build(_identity, "dev", overrides=overrides)[0]


def _one(monitor, type_):
    regs = monitor.of_type(type_)
    assert len(regs) == 1, f"expected one {type_}, got {[r.name for r in regs]}"
    return regs[0]


def _pool(monitor) -> dict:
    return _one(monitor, POOL).plain_inputs


def _client(monitor) -> dict:
    return _one(monitor, CLIENT).plain_inputs


def _identity_config(stack="prod", **changes):
    raw, secrets = program.stack_config(stack)
    return dataclasses.replace(parse(raw, stack, secrets).identity, **changes)


# --- user pool ------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,mfa", [("dev", "OPTIONAL"), ("prod", "ON")])
def test_mfa_follows_config_and_totp_is_the_configured_factor(stack, mfa, request):
    pool = _pool(request.getfixturevalue(stack))
    assert pool["mfaConfiguration"] == mfa
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert "smsConfiguration" not in pool  # SMS MFA would need a role and an external id


def test_mfa_off_is_refused_by_config_and_by_the_builder():
    raw, secrets = program.stack_config("dev", overrides={"aiplatform:identity": {
        "mfa": "OFF", "deletionProtection": False, "threatProtection": "OFF"}})
    with pytest.raises(ConfigError, match=r"Pulumi\.dev\.yaml: identity\.mfa must not be OFF"):
        parse(raw, "dev", secrets)
    with pytest.raises(ValueError, match="identity.mfa must be ON or OPTIONAL"):
        ident.user_pool_args(_identity_config(mfa="OFF"), "arn")


def test_password_policy_is_twelve_characters_with_all_four_classes(dev):
    policy = _pool(dev)["passwordPolicy"]
    assert policy["minimumLength"] >= 12
    assert all(policy[k] is True for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols"))
    assert policy["temporaryPasswordValidityDays"] == 3


def test_user_role_schema_is_pinned_because_cognito_schemas_are_add_only(dev, prod):
    # Changing this breaks updates of every existing pool: edit only together with a migration plan.
    expected = [{
        "name": "user_role", "attributeDataType": "String", "mutable": True, "required": False,
        "developerOnlyAttribute": False, "stringAttributeConstraints": {"minLength": "1", "maxLength": "32"},
    }]
    assert _pool(dev)["schemas"] == expected
    assert _pool(prod)["schemas"] == expected
    assert all(len(a["name"]) <= 20 for a in expected)


def test_email_is_the_sign_in_name_and_is_verified_with_a_code(dev):
    pool = _pool(dev)
    assert pool["usernameAttributes"] == ["email"]
    assert pool["usernameConfiguration"] == {"caseSensitive": False}
    assert pool["autoVerifiedAttributes"] == ["email"]
    template = pool["verificationMessageTemplate"]
    assert template["defaultEmailOption"] == "CONFIRM_WITH_CODE"
    assert "{####}" in template["emailMessage"]
    assert pool["userAttributeUpdateSettings"] == {"attributesRequireVerificationBeforeUpdates": ["email"]}
    assert "aliasAttributes" not in pool  # conflicts with usernameAttributes


def test_account_recovery_is_by_verified_email_only(prod):
    assert _pool(prod)["accountRecoverySetting"] == {"recoveryMechanisms": [{"name": "verified_email", "priority": 1}]}


def test_dev_pool_is_unprotected_essentials_without_threat_protection(dev):
    pool = _pool(dev)
    assert pool["deletionProtection"] == "INACTIVE"
    assert pool["userPoolAddOns"] == {"advancedSecurityMode": "OFF"}
    assert pool["userPoolTier"] == "ESSENTIALS"
    assert "passwordHistorySize" not in pool["passwordPolicy"]
    assert not dev.of_type("aws:cognito/riskConfiguration:RiskConfiguration")


def test_prod_pool_is_protected_and_enforces_threat_protection_on_the_plus_tier(prod):
    pool = _pool(prod)
    assert pool["deletionProtection"] == "ACTIVE"
    assert pool["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"}
    assert pool["userPoolTier"] == "PLUS"  # Cognito refuses threat protection on other tiers
    assert pool["passwordPolicy"]["passwordHistorySize"] == 5
    risk = _one(prod, "aws:cognito/riskConfiguration:RiskConfiguration").plain_inputs
    assert risk["compromisedCredentialsRiskConfiguration"]["actions"] == {"eventAction": "BLOCK"}
    assert risk["accountTakeoverRiskConfiguration"]["actions"]["highAction"] == {"eventAction": "BLOCK", "notify": False}


def test_audit_mode_needs_plus_tier_but_no_enforcement_settings(custom_groups):
    pool = _pool(custom_groups)
    assert pool["userPoolAddOns"] == {"advancedSecurityMode": "AUDIT"} and pool["userPoolTier"] == "PLUS"
    assert not custom_groups.of_type("aws:cognito/riskConfiguration:RiskConfiguration")


@pytest.mark.parametrize("mode,tier", [("OFF", "ESSENTIALS"), ("AUDIT", "PLUS"), ("ENFORCED", "PLUS")])
def test_tier_follows_threat_protection(mode, tier):
    assert ident.user_pool_tier(_identity_config(threat_protection=mode)) == tier


# --- groups ---------------------------------------------------------------------------------
def test_default_groups_with_admin_taking_precedence(dev):
    groups = {g.plain_inputs["name"]: g.plain_inputs["precedence"] for g in dev.of_type("aws:cognito/userGroup:UserGroup")}
    assert groups == {"ADMIN": 0, "USER": 1, "RESEARCHER": 2}
    assert _one(dev, "aiplatform:identity:Identity").outputs["groupNames"] == ["ADMIN", "USER", "RESEARCHER"]


def test_configured_groups_and_default_group_reach_the_pool_and_the_trigger(custom_groups):
    groups = {g.plain_inputs["name"]: g.plain_inputs["precedence"]
              for g in custom_groups.of_type("aws:cognito/userGroup:UserGroup")}
    assert groups == {"ADMIN": 0, "USER": 1, "OPS": 2}
    pool_id = _one(custom_groups, POOL).id
    assert all(g.plain_inputs["userPoolId"] == pool_id for g in custom_groups.of_type("aws:cognito/userGroup:UserGroup"))
    assert _one(custom_groups, FUNCTION).plain_inputs["environment"]["variables"]["DEFAULT_GROUP"] == "OPS"


# --- app client -----------------------------------------------------------------------------
def test_web_client_is_public_srp_only_and_hides_whether_users_exist(dev):
    client = _client(dev)
    assert client["generateSecret"] is False
    assert client["explicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["preventUserExistenceErrors"] == "ENABLED"
    assert client["enableTokenRevocation"] is True
    assert client["userPoolId"] == _one(dev, POOL).id


@pytest.mark.parametrize("stack,access,id_,refresh", [("dev", 60, 60, 30), ("prod", 30, 30, 7)])
def test_token_validity_comes_from_config_with_explicit_units(stack, access, id_, refresh, request):
    client = _client(request.getfixturevalue(stack))
    assert (client["accessTokenValidity"], client["idTokenValidity"], client["refreshTokenValidity"]) == (access, id_, refresh)
    assert client["tokenValidityUnits"] == {"accessToken": "minutes", "idToken": "minutes", "refreshToken": "days"}


def test_clients_cannot_write_the_role_attribute(prod):
    client = _client(prod)
    assert "custom:user_role" in client["readAttributes"]
    assert "custom:user_role" not in client["writeAttributes"]
    assert client["writeAttributes"]  # an empty/missing list would mean "all standard attributes"


def test_oauth_code_flow_uses_the_configured_urls(prod):
    client = _client(prod)
    assert client["allowedOauthFlowsUserPoolClient"] is True
    assert client["allowedOauthFlows"] == ["code"]
    assert client["callbackUrls"] == ["https://app.example.com/auth/callback"]
    assert client["logoutUrls"] == ["https://app.example.com/"]
    assert {"openid", "email"} <= set(client["allowedOauthScopes"])


def test_no_oauth_without_callback_urls():
    args = ident.client_args(_identity_config(callback_urls=(), logout_urls=(), google=None, apple=None), "pool")
    assert args.allowed_oauth_flows_user_pool_client is False
    assert args.allowed_oauth_flows is None and args.callback_urls is None and args.logout_urls is None


def test_logout_urls_without_callbacks_are_a_config_error():
    raw, secrets = program.stack_config("dev", overrides={"aiplatform:identity": {
        "mfa": "ON", "deletionProtection": False, "threatProtection": "OFF", "logoutUrls": ["https://a.example.com/"]}})
    with pytest.raises(ConfigError, match=r"identity\.logoutUrls needs callbackUrls"):
        parse(raw, "dev", secrets)


def test_hosted_ui_domain_only_when_a_prefix_is_configured(dev, prod):
    assert not dev.of_type("aws:cognito/userPoolDomain:UserPoolDomain")
    assert _one(dev, "aiplatform:identity:Identity").outputs.get("domain") is None
    domain = _one(prod, "aws:cognito/userPoolDomain:UserPoolDomain").plain_inputs
    assert domain["domain"] == "example-aiplatform-prod" and domain["managedLoginVersion"] == 1
    outputs = _one(prod, "aiplatform:identity:Identity").outputs
    assert outputs["hostedUiUrl"] == "https://example-aiplatform-prod.auth.us-east-1.amazoncognito.com"


# --- federated identity providers -----------------------------------------------------------
def test_no_identity_providers_unless_configured(dev, prod):
    for monitor in (dev, prod):
        assert not monitor.of_type(IDP)
        assert _client(monitor)["supportedIdentityProviders"] == ["COGNITO"]


def test_google_and_apple_providers_when_configured(federated):
    idps = {r.plain_inputs["providerName"]: r for r in federated.of_type(IDP)}
    assert set(idps) == {"Google", "SignInWithApple"}
    google, apple = idps["Google"].plain_inputs, idps["SignInWithApple"].plain_inputs
    assert google["providerType"] == "Google" and apple["providerType"] == "SignInWithApple"
    assert google["providerDetails"]["client_id"] == "1234.apps.googleusercontent.com"
    assert set(google["providerDetails"]["authorize_scopes"].split()) == {"openid", "email", "profile"}
    assert {k: apple["providerDetails"][k] for k in ("client_id", "team_id", "key_id")} == {
        "client_id": "com.example.web", "team_id": "TEAM123456", "key_id": "KEY1234567"}
    for idp in (google, apple):
        assert idp["attributeMapping"]["email"] == "email"
        assert idp["userPoolId"] == _one(federated, POOL).id


def test_provider_secrets_are_registered_as_pulumi_secrets(federated):
    idps = {r.plain_inputs["providerName"]: r.inputs["providerDetails"] for r in federated.of_type(IDP)}
    for details, key, value in ((idps["Google"], "client_secret", FEDERATED_SECRETS["aiplatform:googleClientSecret"]),
                                (idps["SignInWithApple"], "private_key", FEDERATED_SECRETS["aiplatform:applePrivateKey"])):
        assert details[key] == {SECRET_SIG: SECRET_VALUE_SIG, "value": value}
        assert not isinstance(details["client_id"], dict)  # identifiers stay readable


def test_client_lists_the_providers_after_they_exist_and_can_write_mapped_attributes(federated):
    client_reg = _one(federated, CLIENT)
    client = client_reg.plain_inputs
    assert client["supportedIdentityProviders"] == ["COGNITO", "Google", "SignInWithApple"]
    assert {r.urn for r in federated.of_type(IDP)} <= set(client_reg.dependencies)
    for idp in federated.of_type(IDP):
        mapped = set(idp.plain_inputs["attributeMapping"]) - {"username"}
        assert mapped <= set(client["writeAttributes"]), "Cognito fails federated sign-in on unwritable mapped attributes"


def test_federated_config_needs_its_secret_stored_encrypted():
    raw, _ = program.stack_config("prod", overrides={**FEDERATED, **FEDERATED_SECRETS})
    with pytest.raises(ConfigError, match=r"googleClientSecret must be stored encrypted"):
        parse(raw, "prod", [])


def test_builder_refuses_a_provider_without_its_secret():
    raw, _ = program.stack_config("prod", overrides={**FEDERATED, **FEDERATED_SECRETS})
    cfg = parse(raw, "prod", list(FEDERATED_SECRETS)).identity
    with pytest.raises(ValueError, match="applePrivateKey is missing"):
        ident.identity_providers(cfg, {"googleClientSecret": "x"})


# --- post-confirmation trigger --------------------------------------------------------------
def test_pool_invokes_the_trigger_function(dev):
    function = _one(dev, FUNCTION)
    assert _pool(dev)["lambdaConfig"] == {"postConfirmation": function.outputs["arn"]}


def test_trigger_function_settings(prod):
    fn = _one(prod, FUNCTION)
    inputs = fn.plain_inputs
    assert inputs["runtime"] == "python3.12"
    assert inputs["handler"] == "identity.post_confirmation.handler"
    assert inputs["timeout"] <= 10 and 128 <= inputs["memorySize"] <= 256
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert inputs["environment"]["variables"] == {"USERS_TABLE": TABLE_NAME, "DEFAULT_GROUP": "USER"}
    assert "vpcConfig" not in inputs  # Cognito and DynamoDB are reached over the public endpoints
    group = _one(prod, "aws:cloudwatch/logGroup:LogGroup")
    assert group.plain_inputs["retentionInDays"] == 90
    assert inputs["loggingConfig"]["logGroup"] == group.plain_inputs["name"]
    assert group.urn in fn.dependencies  # the group exists before the function can log
    base_policy = next(p for p in prod.of_type(ROLE_POLICY) if "dynamodb:PutItem" in p.plain_inputs["policy"])
    assert base_policy.urn in fn.dependencies  # no invocation before the function may write its item


def test_trigger_code_is_the_identity_package_without_bytecode(dev):
    code = _one(dev, FUNCTION).inputs["code"]
    package = code["assets"]["identity"]["assets"]
    assert {"__init__.py", "post_confirmation.py"} <= set(package)
    assert not any("__pycache__" in k or k.endswith(".pyc") for k in package)
    assert package["post_confirmation.py"]["path"] == str(ident.TRIGGER_PACKAGE / "post_confirmation.py")
    module, _, attr = ident.TRIGGER_HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(f"app.{module}"), attr))


def test_trigger_role_is_assumable_only_by_lambda_in_this_account(dev):
    trust = iam.statements(_one(dev, "aws:iam/role:Role").plain_inputs["assumeRolePolicy"])
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": ["sts:AssumeRole"],
                      "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}}]


def test_trigger_role_policies_grant_exactly_what_the_handler_does(dev):
    role = _one(dev, "aws:iam/role:Role")
    pool = _one(dev, POOL)
    log_group = _one(dev, "aws:cloudwatch/logGroup:LogGroup")
    policies = dev.of_type(ROLE_POLICY)
    assert len(policies) == 2 and all(p.plain_inputs["role"] == role.id for p in policies)
    granted = sorted((tuple(s["Action"]), tuple(s["Resource"]))
                     for p in policies for s in iam.statements(p.plain_inputs["policy"]))
    assert all(s["Effect"] == "Allow" and "Condition" not in s
               for p in policies for s in iam.statements(p.plain_inputs["policy"]))
    assert granted == sorted([
        (("dynamodb:PutItem",), (TABLE_ARN,)),
        (("cognito-idp:AdminAddUserToGroup",), (pool.outputs["arn"],)),
        (("logs:CreateLogStream", "logs:PutLogEvents"), (log_group.outputs["arn"] + ":log-stream:*",)),
        (("xray:PutTelemetryRecords", "xray:PutTraceSegments"), ("*",)),
    ])


def test_pool_grant_is_a_separate_policy_declared_after_the_pool(dev):
    """The pool names the function and the role names the pool: the pool grant must not be part of
    what the function waits for, or the three would form a cycle."""
    fn = _one(dev, FUNCTION)
    pool = _one(dev, POOL)
    pool_policy = next(p for p in dev.of_type(ROLE_POLICY) if "cognito-idp" in p.plain_inputs["policy"])
    assert pool.urn in pool_policy.dependencies
    assert pool_policy.urn not in fn.dependencies
    assert fn.urn in pool.dependencies


def test_only_this_pool_may_invoke_the_trigger(dev):
    permission = _one(dev, "aws:lambda/permission:Permission").plain_inputs
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "cognito-idp.amazonaws.com"
    assert permission["sourceArn"] == _one(dev, POOL).outputs["arn"]
    assert permission["sourceAccount"] == ACCOUNT_ID
    assert permission["function"] == _one(dev, FUNCTION).outputs["name"]


def test_autonamed_function_and_role_fit_aws_name_limits(dev):
    for type_ in (FUNCTION, "aws:iam/role:Role"):
        reg = _one(dev, type_)
        assert len(reg.name) <= ident.MAX_AUTONAME
        assert "name" not in reg.plain_inputs  # auto-named: Pulumi adds an 8-character suffix
    with pytest.raises(ValueError, match="too long"):
        ident.trigger_resource_name("x" * 40)


# --- component ------------------------------------------------------------------------------
def test_every_child_is_parented_to_the_component(federated):
    component = _one(federated, "aiplatform:identity:Identity")
    children = [r for r in federated.registrations.values() if r.type not in (component.type, "pulumi:providers:aws")]
    assert len(children) >= 15
    for reg in children:
        assert reg.parent == component.urn, reg.urn
        assert reg.urn.split("::")[2].startswith("aiplatform:identity:Identity$")


def test_outputs_are_registered(dev):
    outputs = _one(dev, "aiplatform:identity:Identity").outputs
    pool = _one(dev, POOL)
    fn = _one(dev, FUNCTION)
    assert outputs["userPoolId"] == pool.id and outputs["userPoolArn"] == pool.outputs["arn"]
    assert outputs["clientId"] == _one(dev, CLIENT).id
    assert outputs["issuerUrl"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool.id}"
    assert outputs["triggerFunctionArn"] == fn.outputs["arn"]
    assert outputs["triggerFunctionName"] == fn.outputs["name"]


# --- production mail and protection ---------------------------------------------------------
def test_prod_mail_goes_through_ses_as_developer_and_dev_uses_cognitos_sender(dev, prod):
    assert _pool(prod)["emailConfiguration"] == {
        "emailSendingAccount": "DEVELOPER", "sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/example.com",
        "fromEmailAddress": "aiplatform <no-reply@example.com>"}
    assert "emailConfiguration" not in _pool(dev)


@pytest.mark.parametrize("email,message", [
    (None, "identity.email is required when deletionProtection is on"),
    ({"sourceArn": f"arn:aws:ses:eu-west-1:{ACCOUNT_ID}:identity/corp.test", "fromAddress": "a@corp.test"},
     "identity.email.sourceArn must be an SES identity in the user pool's region us-east-1, got eu-west-1"),
    ({"sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/corp.test", "fromAddress": "a@other.test"},
     "identity.email.fromAddress 'a@other.test' is not covered by the SES identity 'corp.test'"),
    ({"sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/ops@corp.test", "fromAddress": "Ops <a@corp.test>"},
     "identity.email.fromAddress 'a@corp.test' is not covered by the SES identity 'ops@corp.test'"),
    ({"sourceArn": "arn:aws:sns:us-east-1:1:topic", "fromAddress": "a@corp.test"}, "identity.email.sourceArn must be"),
    ({"sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/corp.test", "fromAddress": "a@mail.corp.test",
      "typo": 1}, "identity.email.typo is not a known setting"),
])
def test_ses_mail_config_is_required_in_production_and_checked(email, message):
    identity = {k: v for k, v in PROD_IDENTITY.items() if k != "email"}
    if email is not None:
        identity["email"] = email
    raw, secrets = program.stack_config("prod", overrides={"aiplatform:identity": identity})
    with pytest.raises(ConfigError) as err:
        parse(raw, "prod", secrets)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_subdomain_sender_of_a_verified_domain_is_accepted():
    identity = {**PROD_IDENTITY, "email": {"sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/corp.test",
                                           "fromAddress": "App <no-reply@mail.corp.test>", "replyTo": "help@corp.test"}}
    raw, secrets = program.stack_config("prod", overrides={"aiplatform:identity": identity})
    email = parse(raw, "prod", secrets).identity.email
    assert (email.from_address, email.reply_to) == ("App <no-reply@mail.corp.test>", "help@corp.test")


def test_pool_is_protected_with_deletion_protection_and_domain_is_deleted_before_replacement(dev, prod):
    assert _one(prod, POOL).protect is True
    assert _one(dev, POOL).protect is False
    domain = _one(prod, "aws:cognito/userPoolDomain:UserPoolDomain")
    assert domain.options["deleteBeforeReplace"] is True
