"""Security baseline: advisory in dev, mandatory in prod (per the stack's pack config)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .. import awstypes as t
from ..links import items
from ..model import Enforcement, Resource, Severity, known, num, resource_rule, stack_rule


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


# Credential shapes: cloud keys, private keys, SCM/chat/payment tokens and the LLM providers' API keys.
_CREDENTIAL_VALUE = re.compile(
    r"(?:^|[^A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?:$|[^A-Z0-9])|-----BEGIN [A-Z ]*PRIVATE KEY-----|"
    r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{40,}|\bglpat-[A-Za-z0-9_-]{20,}|"
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}|\b[sr]k_live_[A-Za-z0-9]{16,}|\bnpm_[A-Za-z0-9]{36}\b|"
    r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|"
    r"\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}|\bAIza[0-9A-Za-z_-]{35}\b|\bhf_[A-Za-z0-9]{30,}|"
    r"\bgsk_[A-Za-z0-9]{40,}|\bxai-[A-Za-z0-9]{40,}|\br8_[A-Za-z0-9]{30,}|\bpplx-[A-Za-z0-9]{40,}")
# A URL with a password in its authority part (postgres://user:pass@host); placeholders do not count.
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<password>[^/\s@]+)@", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^(\$\{.*\}|\{\{.*\}\}|%s|<.*>|\*+|x+|\$[A-Z_]+)$", re.IGNORECASE)
_REFERENCE_VALUE = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm|kms):", re.IGNORECASE)
_TOKEN_VALUE = re.compile(r"^[A-Za-z0-9_\-+=]{32,}$")


def _random_token(value: str) -> bool:
    """A long random-looking string (mixed case and digits, high entropy): the shape of generated keys.
    Hex digests and words do not qualify (one case only, or low entropy)."""
    if not _TOKEN_VALUE.match(value) or not (re.search(r"[a-z]", value) and re.search(r"[A-Z]", value)
                                             and re.search(r"\d", value)):
        return False
    counts = [value.count(c) for c in set(value)]
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    return entropy >= 4.0


def credential_problem(value: str) -> Optional[str]:
    """Why a plain value looks like a credential, or None."""
    if _CREDENTIAL_VALUE.search(value):
        return "holds what looks like a credential"
    match = _URL_PASSWORD.search(value)
    if match and not _PLACEHOLDER.match(match.group("password")):
        return "holds a URL with an embedded password"
    if _random_token(value):
        return "holds what looks like a generated secret (a long random token)"
    return None


def name_tokens(name: str) -> str:
    """`dbPassword`, `DB-PASS` and `db.pass` all as `DB_PASSWORD`-style upper snake case."""
    return re.sub(r"[^A-Z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).upper()).strip("_")


_SECRET_NAMES = (r"(?:^|_)(PASS|PASSWD|PASSWORD|PASSPHRASE|PWD|PW|SECRETS?|TOKENS?|API_?KEYS?|PRIVATE_?KEY|"
                 r"CREDENTIALS?|CREDS|ACCESS_?KEY|SECRET_?KEY|SIGNING_?KEY|ENCRYPTION_?KEY|MASTER_?KEY|"
                 r"CLIENT_?SECRET|AUTH_?KEY|DSN|CONN(ECTION)?_?STR(ING)?)(?:$|_)")


@resource_rule(
    name="security-no-plaintext-secrets",
    concern="security",
    severity=Severity.HIGH,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.LAMBDA_FUNCTION, t.ECS_TASK_DEFINITION, t.SSM_PARAMETER, t.NATIVE_LAMBDA_FUNCTION,
                     t.NATIVE_ECS_TASK_DEFINITION}),
    description="No plaintext secrets in Lambda or container environment variables or String SSM parameters: a "
                "value shaped like a credential (cloud, SCM, chat, payment and LLM API keys such as sk-/sk-ant-, "
                "private keys, a URL with a password, a long random token), or any literal under a secret-like "
                "name (names compared as upper snake case token by token, so DB_PASS, SMTP_PWD, dbPassword and "
                "API_TOKEN count and PASSENGER does not); ARNs and *_ARN/_NAME/_ID... names pass.",
    remediation="Store the value in Secrets Manager or SSM and pass its ARN/name (containers: the `secrets` "
                "block with valueFrom; parameters: type SecureString); read it at run time.",
    config={
        "secretNamePattern": {"type": "string", "format": "regex", "default": _SECRET_NAMES,
                              "description": "Names (as UPPER_SNAKE tokens) that hold secrets."},
        "referenceNamePattern": {"type": "string", "format": "regex",
                                 "default": "(_ARN|_NAME|_ID|_PARAM|_PARAMETER|_PATH|_URL|_TTL|_SECONDS|_MINUTES|"
                                            "_HEADER|_FILE|_ENDPOINT|_LENGTH|_EXPIRY|_EXPIRES|_LIFETIME)$",
                                 "description": "Names (as UPPER_SNAKE tokens) that refer to a secret rather than "
                                                "hold it; their values are still checked for credential shapes."},
    },
)
def no_plaintext_secrets(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    secret_name = re.compile(cfg.get("secretNamePattern") or "(?!)")
    reference_name = re.compile(cfg.get("referenceNamePattern") or "(?!)")
    for where, name, value in _plain_values(r):
        if not isinstance(value, str) or not value or _REFERENCE_VALUE.match(value):
            continue
        problem = credential_problem(value)
        tokens = name_tokens(name)
        if problem:
            yield f"{where} {name} {problem}"
        elif secret_name.search(tokens) and not reference_name.search(tokens) and not _PLACEHOLDER.match(value):
            yield f"{where} {name} holds a plaintext value for a secret-like name"


def _plain_values(r: Resource) -> Iterator[tuple[str, str, Any]]:
    p = r.props
    if r.type == t.SSM_PARAMETER:
        if known(lambda: p.get("type")) == "String":  # SecureString is encrypted; StringList rarely a secret
            yield "String parameter", str(known(lambda: p.get("name")) or r.name), known(lambda: p.get("value"))
        return
    if r.type in (t.LAMBDA_FUNCTION, t.NATIVE_LAMBDA_FUNCTION):
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
    for container in items(containers):
        if not isinstance(container, Mapping):
            continue
        for item in container.get("environment") or []:
            if isinstance(item, Mapping):
                yield f"container {container.get('name')} environment", str(item.get("name")), item.get("value")


@stack_rule(
    name="security-ecr-scan-on-push",
    concern="security",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.ADVISORY,
    description="ECR repositories have their images scanned: imageScanningConfiguration.scanOnPush, or a "
                "RegistryScanningConfiguration in the stack (basic or enhanced) with a SCAN_ON_PUSH or "
                "CONTINUOUS_SCAN rule whose repository filter matches the repository name (a filter without '*' "
                "matches names containing it; '*' matches any characters).",
    remediation="Set imageScanningConfiguration.scanOnPush = true, or declare aws.ecr.RegistryScanningConfiguration "
                "with a rule covering the repository.",
)
def ecr_scan_on_push(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    filters = [f for r in resources if r.type == t.ECR_REGISTRY_SCANNING for f in _registry_filters(r)]
    for repo in (r for r in resources if r.type == t.ECR_REPOSITORY):
        scanning = known(lambda: repo.props.get("imageScanningConfiguration"), {"scanOnPush": True})
        if isinstance(scanning, Mapping) and known(lambda: scanning.get("scanOnPush"), True):
            continue
        name = known(lambda: repo.props.get("name") or repo.name, None)
        if name is None or any(_filter_matches(f, name) for f in filters):
            continue
        yield repo.urn, ("imageScanningConfiguration.scanOnPush is not enabled and no registry scanning rule "
                         f"covers {name!r}")


def _registry_filters(r: Resource) -> list[str]:
    """Filters of the rules that scan automatically; an unknown filter could match anything."""
    out = []
    for rule in known(lambda: list(r.props.get("rules") or []), []):
        if not isinstance(rule, Mapping) or known(lambda: rule.get("scanFrequency")) not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
            continue
        for f in known(lambda: list(rule.get("repositoryFilters") or []), []):
            value = known(lambda: f.get("filter"), "*") if isinstance(f, Mapping) else None
            if isinstance(value, str):
                out.append(value)
    return out


def _filter_matches(pattern: str, name: str) -> bool:
    if "*" not in pattern:
        return pattern in name
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), name) is not None
