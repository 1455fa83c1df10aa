"""Identity: the Cognito user pool, its web app client, groups, optional Google / Apple sign-in, and
the post-confirmation trigger that turns a confirmed sign-up into a User item.

Feature plan: threat protection (AUDIT / ENFORCED) exists only on Cognito's PLUS tier, so the tier
follows ``identity.threatProtection``: OFF -> ESSENTIALS (what new pools get by default), anything
else -> PLUS (billed per monthly active user; see the cost notes in the product docs).

The trigger and the pool need each other: the pool names the function in ``lambda_config`` and the
function's role must be allowed to add users to groups of exactly this pool. The cycle is broken by
giving the role its pool grant in a second inline policy declared after the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from . import iam
from .config import IdentityConfig

TYPE = "aiplatform:identity:Identity"

# Cognito schema changes are add-only: an edit here breaks every later update of existing pools.
# tests/components/test_identity.py pins this exact shape so changing it is a deliberate act.
USER_ROLE_ATTRIBUTE = "user_role"  # custom attribute names are at most 20 characters
USER_ROLE_MAX_LENGTH = 32
PASSWORD_MIN_LENGTH = 12
TEMPORARY_PASSWORD_DAYS = 3
PASSWORD_HISTORY = 5  # remembered previous passwords, PLUS tier only (threat protection features)
VERIFICATION_SUBJECT = "Your verification code"
VERIFICATION_MESSAGE = "Your verification code is {####}. It expires in 24 hours."

# Attributes the web app may read and write. custom:user_role is readable but never writable by
# clients: otherwise a user could sign up (or update themselves) as ADMIN. Every attribute an
# identity provider maps must be writable, or federated sign-in fails.
READ_ATTRIBUTES = ("email", "email_verified", "name", f"custom:{USER_ROLE_ATTRIBUTE}")
WRITE_ATTRIBUTES = ("email", "name")
OAUTH_SCOPES = ("openid", "email", "profile", "aws.cognito.signin.user.admin")

# Cognito gives up on a trigger after 5 s; the function must finish inside that.
TRIGGER_TIMEOUT_SECONDS = 5
TRIGGER_MEMORY_MB = 128
TRIGGER_HANDLER = "identity.post_confirmation.handler"
TRIGGER_PACKAGE = Path(__file__).resolve().parent.parent / "app" / "identity"
# Lambda function and IAM role names are at most 64 characters; Pulumi appends an 8-character suffix.
MAX_AUTONAME = 56


@dataclass(frozen=True)
class IdentityArgs:
    config: IdentityConfig
    users_table_arn: pulumi.Input[str]
    users_table_name: pulumi.Input[str]
    log_retention_days: int
    # PlatformConfig.secrets: googleClientSecret / applePrivateKey as plain strings; wrapped here.
    secrets: Mapping[str, str]


@dataclass(frozen=True)
class IdentityOutputs:
    """What the component made, for other components and the stack outputs."""
    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    client_id: pulumi.Output[str]
    issuer_url: pulumi.Output[str]
    group_names: tuple[str, ...]
    trigger_function_name: pulumi.Output[str]
    trigger_function_arn: pulumi.Output[str]
    domain: Optional[pulumi.Output[str]] = None  # hosted UI prefix, when configured
    hosted_ui_url: Optional[pulumi.Output[str]] = None


# ---------------------------------------------------------------------------------------------
# Pure builders: config in, provider arguments out.
# ---------------------------------------------------------------------------------------------
def user_pool_tier(cfg: IdentityConfig) -> str:
    return "ESSENTIALS" if cfg.threat_protection == "OFF" else "PLUS"


def password_policy(cfg: IdentityConfig) -> aws.cognito.UserPoolPasswordPolicyArgs:
    return aws.cognito.UserPoolPasswordPolicyArgs(
        minimum_length=PASSWORD_MIN_LENGTH,
        require_lowercase=True,
        require_uppercase=True,
        require_numbers=True,
        require_symbols=True,
        temporary_password_validity_days=TEMPORARY_PASSWORD_DAYS,
        password_history_size=PASSWORD_HISTORY if user_pool_tier(cfg) == "PLUS" else None,
    )


def schema() -> list[aws.cognito.UserPoolSchemaArgs]:
    return [aws.cognito.UserPoolSchemaArgs(
        name=USER_ROLE_ATTRIBUTE,
        attribute_data_type="String",
        mutable=True,  # administrators change roles; clients cannot (not in WRITE_ATTRIBUTES)
        required=False,  # custom attributes can never be required
        developer_only_attribute=False,
        string_attribute_constraints=aws.cognito.UserPoolSchemaStringAttributeConstraintsArgs(
            min_length="1", max_length=str(USER_ROLE_MAX_LENGTH)),
    )]


def email_configuration(cfg: IdentityConfig) -> Optional[aws.cognito.UserPoolEmailConfigurationArgs]:
    """Mail through SES when configured (DEVELOPER: the SES identity's own quota and reputation);
    otherwise Cognito's built-in sender, whose small daily quota only suits development."""
    if cfg.email is None:
        return None
    return aws.cognito.UserPoolEmailConfigurationArgs(
        email_sending_account="DEVELOPER", source_arn=cfg.email.source_arn,
        from_email_address=cfg.email.from_address, reply_to_email_address=cfg.email.reply_to)


def user_pool_args(cfg: IdentityConfig, post_confirmation_arn: pulumi.Input[str]) -> aws.cognito.UserPoolArgs:
    if cfg.mfa not in ("ON", "OPTIONAL"):
        raise ValueError(f"identity.mfa must be ON or OPTIONAL, got {cfg.mfa!r}")
    return aws.cognito.UserPoolArgs(
        user_pool_tier=user_pool_tier(cfg),
        username_attributes=["email"],
        # Immutable after creation: e-mail addresses must not be case sensitive at sign-in.
        username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(case_sensitive=False),
        auto_verified_attributes=["email"],
        # A changed e-mail stays unused until the user confirms the new address.
        user_attribute_update_settings=aws.cognito.UserPoolUserAttributeUpdateSettingsArgs(
            attributes_require_verification_before_updates=["email"]),
        verification_message_template=aws.cognito.UserPoolVerificationMessageTemplateArgs(
            default_email_option="CONFIRM_WITH_CODE",
            email_subject=VERIFICATION_SUBJECT,
            email_message=VERIFICATION_MESSAGE,
        ),
        mfa_configuration=cfg.mfa,
        software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
        password_policy=password_policy(cfg),
        account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(recovery_mechanisms=[
            aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)]),
        admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=False),
        schemas=schema(),
        deletion_protection="ACTIVE" if cfg.deletion_protection else "INACTIVE",
        user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(advanced_security_mode=cfg.threat_protection),
        lambda_config=aws.cognito.UserPoolLambdaConfigArgs(post_confirmation=post_confirmation_arn),
        email_configuration=email_configuration(cfg),
    )


def group_precedences(groups: Sequence[str]) -> list[tuple[str, int]]:
    """(group, precedence): ADMIN 0 (lowest number wins in the token's cognito:preferred_role),
    the others in config order after it."""
    ordered = ["ADMIN"] + [g for g in groups if g != "ADMIN"] if "ADMIN" in groups else list(groups)
    return [(g, i) for i, g in enumerate(ordered)]


def identity_providers(cfg: IdentityConfig, secrets: Mapping[str, str]) -> list[tuple[str, dict]]:
    """(provider name, IdentityProvider keyword arguments without user_pool_id) per configured provider.
    Client secrets and private keys go in as Pulumi secrets so state and previews never show them."""
    out: list[tuple[str, dict]] = []
    if cfg.google:
        if not secrets.get("googleClientSecret"):
            raise ValueError("identity.google is configured but the secret googleClientSecret is missing")
        out.append(("Google", dict(
            provider_type="Google",
            provider_details={
                "client_id": cfg.google.client_id,
                "client_secret": pulumi.Output.secret(secrets["googleClientSecret"]),
                "authorize_scopes": "openid email profile",
            },
            attribute_mapping={"email": "email", "name": "name", "username": "sub"},
        )))
    if cfg.apple:
        if not secrets.get("applePrivateKey"):
            raise ValueError("identity.apple is configured but the secret applePrivateKey is missing")
        out.append(("SignInWithApple", dict(
            provider_type="SignInWithApple",
            provider_details={
                "client_id": cfg.apple.client_id,
                "team_id": cfg.apple.team_id,
                "key_id": cfg.apple.key_id,
                "private_key": pulumi.Output.secret(secrets["applePrivateKey"]),
                "authorize_scopes": "email name",
            },
            attribute_mapping={"email": "email", "username": "sub"},
        )))
    return out


def client_args(cfg: IdentityConfig, user_pool_id: pulumi.Input[str],
                provider_names: Sequence[str] = ()) -> aws.cognito.UserPoolClientArgs:
    """The web app's client: public (no secret), SRP sign-in, OAuth code flow when callbacks exist."""
    oauth = bool(cfg.callback_urls)
    if cfg.logout_urls and not oauth:
        raise ValueError("identity.logoutUrls needs identity.callbackUrls (both belong to the OAuth code flow)")
    return aws.cognito.UserPoolClientArgs(
        user_pool_id=user_pool_id,
        generate_secret=False,  # a browser app cannot keep a secret
        explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        prevent_user_existence_errors="ENABLED",
        enable_token_revocation=True,
        access_token_validity=cfg.access_token_minutes,
        id_token_validity=cfg.id_token_minutes,
        refresh_token_validity=cfg.refresh_token_days,
        token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
            access_token="minutes", id_token="minutes", refresh_token="days"),
        auth_session_validity=3,
        read_attributes=list(READ_ATTRIBUTES),
        write_attributes=list(WRITE_ATTRIBUTES),
        supported_identity_providers=["COGNITO", *provider_names],
        allowed_oauth_flows_user_pool_client=oauth,
        allowed_oauth_flows=["code"] if oauth else None,
        allowed_oauth_scopes=list(OAUTH_SCOPES) if oauth else None,
        callback_urls=list(cfg.callback_urls) if oauth else None,
        logout_urls=list(cfg.logout_urls) if oauth and cfg.logout_urls else None,
    )


def risk_configuration_args(user_pool_id: pulumi.Input[str]) -> aws.cognito.RiskConfigurationArgs:
    """What ENFORCED threat protection does: block known-leaked passwords, block high-risk sign-ins and
    ask for MFA (when the user has it) on medium risk. No e-mail notifications: they need an SES identity."""
    def action(kind: str, event: str):
        return getattr(aws.cognito, f"RiskConfigurationAccountTakeoverRiskConfigurationActions{kind}ActionArgs")(
            event_action=event, notify=False)

    return aws.cognito.RiskConfigurationArgs(
        user_pool_id=user_pool_id,
        compromised_credentials_risk_configuration=aws.cognito.RiskConfigurationCompromisedCredentialsRiskConfigurationArgs(
            actions=aws.cognito.RiskConfigurationCompromisedCredentialsRiskConfigurationActionsArgs(event_action="BLOCK"),
            event_filters=["SIGN_IN", "SIGN_UP", "PASSWORD_CHANGE"]),
        account_takeover_risk_configuration=aws.cognito.RiskConfigurationAccountTakeoverRiskConfigurationArgs(
            actions=aws.cognito.RiskConfigurationAccountTakeoverRiskConfigurationActionsArgs(
                high_action=action("High", "BLOCK"),
                medium_action=action("Medium", "MFA_IF_CONFIGURED"),
                low_action=action("Low", "NO_ACTION"))),
    )


def trigger_statements(users_table_arn: pulumi.Input[str], log_group_arn: pulumi.Input[str]) -> list[iam.Statement]:
    """The trigger's grants that do not need the pool: one conditional put on the users table, its own
    log group, X-Ray."""
    return [*iam.dynamodb_link(users_table_arn, ["dynamodb:PutItem"], sid="PutUserItem"),
            *iam.log_group_link(log_group_arn), iam.XRAY_WRITE]


def pool_statements(user_pool_arn: pulumi.Input[str]) -> list[iam.Statement]:
    return [iam.Statement(actions=["cognito-idp:AdminAddUserToGroup"], resources=[user_pool_arn],
                          sid="AddToDefaultGroup")]


def trigger_resource_name(component_name: str) -> str:
    """Logical name of the trigger function and its role; Pulumi's auto-name must fit AWS's 64."""
    name = f"{component_name}-post-confirmation"
    if len(name) > MAX_AUTONAME:
        raise ValueError(f"Identity component name {component_name!r} is too long: {name!r} must stay within "
                         f"{MAX_AUTONAME} characters (Lambda and IAM names allow 64 including Pulumi's suffix)")
    return name


def trigger_code(package: Path = TRIGGER_PACKAGE) -> pulumi.AssetArchive:
    """The package directory as the top-level package ``identity``: only its Python sources, so local
    __pycache__ files never change the archive (and the deployed code hash) between machines."""
    if not (package / "post_confirmation.py").is_file():
        raise FileNotFoundError(f"the post-confirmation trigger code is missing: {package / 'post_confirmation.py'}")
    files = sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    return pulumi.AssetArchive({"identity": pulumi.AssetArchive(
        {p.relative_to(package).as_posix(): pulumi.FileAsset(str(p)) for p in files})})


# ---------------------------------------------------------------------------------------------
# The component.
# ---------------------------------------------------------------------------------------------
class Identity(pulumi.ComponentResource):
    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    client_id: pulumi.Output[str]
    issuer_url: pulumi.Output[str]

    def __init__(self, name: str, args: IdentityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        cfg = args.config
        trigger_name = trigger_resource_name(name)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region

        # --- trigger function (declared first: the pool names it) ---
        self.trigger_log_group = aws.cloudwatch.LogGroup(
            trigger_name, name=f"/aiplatform/{pulumi.get_stack()}/{name}/post-confirmation",
            retention_in_days=args.log_retention_days, opts=child)
        self.trigger_role = aws.iam.Role(
            trigger_name,
            description="Cognito post-confirmation trigger: write the User item, join the default group",
            assume_role_policy=iam.trust_policy("lambda.amazonaws.com", source_account=account),
            opts=child)
        base_policy = aws.iam.RolePolicy(
            trigger_name, role=self.trigger_role.id,
            policy=iam.document(trigger_statements(args.users_table_arn, self.trigger_log_group.arn)),
            opts=child)
        self.trigger = aws.lambda_.Function(
            trigger_name,
            description="Cognito post-confirmation: create the User item and add the user to the default group",
            runtime=aws.lambda_.Runtime.PYTHON3D12,
            architectures=["arm64"],
            handler=TRIGGER_HANDLER,
            code=trigger_code(),
            role=self.trigger_role.arn,
            memory_size=TRIGGER_MEMORY_MB,
            timeout=TRIGGER_TIMEOUT_SECONDS,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables={
                "USERS_TABLE": args.users_table_name, "DEFAULT_GROUP": cfg.default_group}),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            # The handler prints one JSON object per line itself, so plain text format keeps it intact.
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=self.trigger_log_group.name),
            # The log group is a dependency through its name; the policy must exist before any invocation.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[base_policy])))

        # --- user pool ---
        # Users and their passwords cannot be rebuilt. protect follows deletionProtection (as the tables'
        # does): a replacing change (e.g. username attributes) stops at preview instead of creating a
        # second pool and then failing to delete the protected one mid-update. A caller's protect wins.
        protect = cfg.deletion_protection or bool(opts and opts.protect)
        self.user_pool = aws.cognito.UserPool(
            f"{name}-users", user_pool_args(cfg, self.trigger.arn),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=protect)))
        self.user_pool_id = self.user_pool.id
        self.user_pool_arn = self.user_pool.arn
        # The issuer (iss claim) is https:// + the pool's endpoint: cognito-idp.<region>.amazonaws.com/<id>.
        self.issuer_url = pulumi.Output.concat("https://", self.user_pool.endpoint)

        aws.iam.RolePolicy(
            f"{trigger_name}-pool", role=self.trigger_role.id,
            policy=iam.document(pool_statements(self.user_pool.arn)), opts=child)
        aws.lambda_.Permission(
            trigger_name, action="lambda:InvokeFunction", function=self.trigger.name,
            principal="cognito-idp.amazonaws.com", source_arn=self.user_pool.arn, source_account=account,
            opts=child)

        if cfg.threat_protection == "ENFORCED":
            aws.cognito.RiskConfiguration(f"{name}-risk", risk_configuration_args(self.user_pool.id), opts=child)

        self.groups = {
            group: aws.cognito.UserGroup(
                f"{name}-group-{group}", user_pool_id=self.user_pool.id, name=group, precedence=precedence,
                description=f"{group} users of the aiplatform {pulumi.get_stack()} stack", opts=child)
            for group, precedence in group_precedences(cfg.groups)
        }

        providers = [
            aws.cognito.IdentityProvider(f"{name}-idp-{provider.lower()}", user_pool_id=self.user_pool.id,
                                         provider_name=provider, opts=child, **kwargs)
            for provider, kwargs in identity_providers(cfg, args.secrets)
        ]
        # The client may only list providers that already exist in the pool: taking the names from the
        # provider resources' outputs makes it wait for them.
        self.client = aws.cognito.UserPoolClient(
            f"{name}-web", client_args(cfg, self.user_pool.id, [p.provider_name for p in providers]), opts=child)
        self.client_id = self.client.id

        self.domain: Optional[aws.cognito.UserPoolDomain] = None
        hosted_ui_url: Optional[pulumi.Output[str]] = None
        if cfg.domain_prefix:
            # Version 1 is the classic hosted UI; version 2 (managed login) also needs a branding resource.
            # A prefix is unique across AWS: a replacement must delete the old domain before creating
            # the new one, or the create fails on the name the old one still holds.
            self.domain = aws.cognito.UserPoolDomain(
                f"{name}-domain", domain=cfg.domain_prefix, user_pool_id=self.user_pool.id,
                managed_login_version=1,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)))
            hosted_ui_url = pulumi.Output.concat("https://", self.domain.domain, ".auth.", region,
                                                 ".amazoncognito.com")

        self.outputs = IdentityOutputs(
            user_pool_id=self.user_pool_id,
            user_pool_arn=self.user_pool_arn,
            client_id=self.client_id,
            issuer_url=self.issuer_url,
            group_names=tuple(self.groups),
            trigger_function_name=self.trigger.name,
            trigger_function_arn=self.trigger.arn,
            domain=self.domain.domain if self.domain else None,
            hosted_ui_url=hosted_ui_url,
        )
        self.register_outputs({
            "userPoolId": self.user_pool_id,
            "userPoolArn": self.user_pool_arn,
            "clientId": self.client_id,
            "issuerUrl": self.issuer_url,
            "groupNames": list(self.groups),
            "triggerFunctionName": self.trigger.name,
            "triggerFunctionArn": self.trigger.arn,
            "domain": self.outputs.domain,
            "hostedUiUrl": hosted_ui_url,
        })
