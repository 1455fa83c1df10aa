"""Security baseline: advisory in dev, mandatory in prod (per the stack's pack config)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .. import awstypes as t
from ..model import Enforcement, Resource, Severity, known, num, resource_rule


@resource_rule(
    name="security-dynamodb-baseline",
    concern="security",
    severity=Severity.HIGH,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.DYNAMODB_TABLE, t.DYNAMODB_TABLE_REPLICA}),
    description="DynamoDB tables need point-in-time recovery (on every replica, inline or TableReplica), KMS "
                "encryption and deletion protection.",
    remediation="Set pointInTimeRecovery.enabled, serverSideEncryption.enabled and deletionProtectionEnabled "
                "(and pointInTimeRecovery on each replica).",
    config={
        "requirePitr": {"type": "boolean", "default": True, "description": "Require point-in-time recovery."},
        "requireKmsEncryption": {"type": "boolean", "default": True,
                                 "description": "Require serverSideEncryption.enabled (AWS managed or customer key)."},
        "requireDeletionProtection": {"type": "boolean", "default": True,
                                      "description": "Require deletionProtectionEnabled."},
    },
)
def dynamodb_baseline(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    p = r.props
    if r.type == t.DYNAMODB_TABLE_REPLICA:
        # A replica declared on its own: its PITR and deletion protection are its own settings.
        if cfg.get("requirePitr", True) and not p.get("pointInTimeRecovery"):
            yield "TableReplica has no pointInTimeRecovery"
        if cfg.get("requireDeletionProtection", True) and not p.get("deletionProtectionEnabled"):
            yield "TableReplica deletionProtectionEnabled is not set"
        return
    if cfg.get("requirePitr", True):
        pitr = p.get("pointInTimeRecovery")
        if not (isinstance(pitr, Mapping) and pitr.get("enabled")):
            yield "pointInTimeRecovery is not enabled"
        for replica in p.get("replicas") or []:
            if not replica.get("pointInTimeRecovery"):
                yield f"replica {replica.get('regionName')} has no pointInTimeRecovery"
    if cfg.get("requireKmsEncryption", True):
        sse = p.get("serverSideEncryption")
        if not (isinstance(sse, Mapping) and sse.get("enabled")):
            yield "serverSideEncryption is not enabled (AWS owned key only)"
    if cfg.get("requireDeletionProtection", True) and not p.get("deletionProtectionEnabled"):
        yield "deletionProtectionEnabled is not set"


@resource_rule(
    name="security-cognito-baseline",
    concern="security",
    severity=Severity.HIGH,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.USER_POOL}),
    description="Cognito user pools need MFA (not OFF) and a password policy of at least 12 characters with "
                "lower, upper, number and symbol.",
    remediation="Set mfaConfiguration ON or OPTIONAL (with a TOTP factor) and passwordPolicy.minimumLength >= 12 "
                "with all four require* flags.",
    config={
        "minPasswordLength": {"type": "integer", "minimum": 6, "maximum": 99, "default": 12,
                              "description": "Minimum passwordPolicy.minimumLength."},
    },
)
def cognito_baseline(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    p = r.props
    if (p.get("mfaConfiguration") or "OFF") == "OFF":
        yield "mfaConfiguration is OFF"
    policy = p.get("passwordPolicy")
    minimum = cfg.get("minPasswordLength", 12)
    if not isinstance(policy, Mapping):
        yield f"no passwordPolicy (AWS default minimum length is 8, needs {minimum})"
        return
    if (policy.get("minimumLength") or 8) < minimum:
        yield f"passwordPolicy.minimumLength {num(policy.get('minimumLength') or 8)} is below {minimum}"
    missing = [k for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
               if not policy.get(k)]
    if missing:
        yield f"passwordPolicy does not set {', '.join(missing)}"


@resource_rule(
    name="security-appsync-baseline",
    concern="security",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.GRAPHQL_API}),
    description="AppSync APIs must not rely on API keys alone and must log to CloudWatch; where config asks "
                "(prod), introspection must be disabled.",
    remediation="Use AMAZON_COGNITO_USER_POOLS or AWS_IAM as an authentication type and set logConfig with "
                "fieldLogLevel ERROR or higher and a cloudwatchLogsRoleArn; set introspectionConfig DISABLED "
                "(api.introspection: false in the stack config).",
    config={
        "requireIntrospectionDisabled": {
            "type": "boolean", "default": False,
            "description": "Flag APIs whose introspectionConfig is not DISABLED (AWS's default is ENABLED)."},
    },
)
def appsync_baseline(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    p = r.props
    if cfg.get("requireIntrospectionDisabled") and (p.get("introspectionConfig") or "ENABLED") != "DISABLED":
        yield "introspection is enabled (introspectionConfig is not DISABLED): the schema is readable by any caller"
    modes = [p.get("authenticationType")]
    modes += [a.get("authenticationType") for a in p.get("additionalAuthenticationProviders") or []]
    if all(m == "API_KEY" for m in modes):
        yield "API_KEY is the only authentication type"
    log = p.get("logConfig")
    if not isinstance(log, Mapping):
        yield "logConfig is not set: no CloudWatch logging"
    elif (log.get("fieldLogLevel") or "NONE") == "NONE" or not log.get("cloudwatchLogsRoleArn"):
        yield "logConfig needs fieldLogLevel other than NONE and a cloudwatchLogsRoleArn"


_CREDENTIAL_VALUE = re.compile(
    r"(?:^|[^A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?:$|[^A-Z0-9])|-----BEGIN [A-Z ]*PRIVATE KEY-----|"
    r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bsk_live_[A-Za-z0-9]{16,}")
_REFERENCE_VALUE = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm|kms):", re.IGNORECASE)


@resource_rule(
    name="security-no-plaintext-secrets",
    concern="security",
    severity=Severity.HIGH,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.LAMBDA_FUNCTION, t.ECS_TASK_DEFINITION}),
    description="No plaintext secrets in Lambda or container environment variables.",
    remediation="Store the value in Secrets Manager or SSM and pass its ARN/name (containers: the `secrets` "
                "block with valueFrom); read it at run time.",
    config={
        "secretNamePattern": {"type": "string", "format": "regex",
                              "default": "(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)",
                              "description": "Variable names that hold secrets."},
        "referenceNamePattern": {"type": "string", "format": "regex",
                                 "default": "(?i)(_ARN|_NAME|_ID|_PARAM|_PARAMETER|_PATH|_URL|_TTL|_SECONDS|_MINUTES)$",
                                 "description": "Names that refer to a secret rather than hold it."},
    },
)
def no_plaintext_secrets(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    secret_name = re.compile(cfg.get("secretNamePattern") or "(?!)")
    reference_name = re.compile(cfg.get("referenceNamePattern") or "(?!)")
    for where, name, value in _environment(r):
        if not isinstance(value, str) or not value or _REFERENCE_VALUE.match(value):
            continue
        if _CREDENTIAL_VALUE.search(value):
            yield f"{where} {name} holds what looks like a credential"
        elif secret_name.search(name) and not reference_name.search(name):
            yield f"{where} {name} holds a plaintext value for a secret-like name"


def _environment(r: Resource) -> Iterator[tuple[str, str, Any]]:
    p = r.props
    if r.type == t.LAMBDA_FUNCTION:
        env = p.get("environment")
        variables = env.get("variables") if isinstance(env, Mapping) else None
        if isinstance(variables, Mapping):
            for name in variables:
                value = known(lambda: variables[name])
                yield "environment", name, value
        return
    raw = p.get("containerDefinitions")
    try:
        containers = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return
    for container in containers if isinstance(containers, list) else []:
        if not isinstance(container, Mapping):
            continue
        for item in container.get("environment") or []:
            if isinstance(item, Mapping):
                yield f"container {container.get('name')} environment", str(item.get("name")), item.get("value")


@resource_rule(
    name="security-ecr-scan-on-push",
    concern="security",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.ECR_REPOSITORY}),
    description="ECR repositories scan images on push.",
    remediation="Set imageScanningConfiguration.scanOnPush = true.",
)
def ecr_scan_on_push(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    scanning = r.props.get("imageScanningConfiguration")
    if not (isinstance(scanning, Mapping) and scanning.get("scanOnPush")):
        yield "imageScanningConfiguration.scanOnPush is not enabled"
