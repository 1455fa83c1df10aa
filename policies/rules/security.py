"""Security baseline: advisory in dev, mandatory in prod (per the stack's pack config)."""

from __future__ import annotations

import ipaddress
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
    types=frozenset({t.DYNAMODB_TABLE}),
    description="DynamoDB tables need point-in-time recovery (on every replica), KMS encryption and deletion protection.",
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


# Address space that is not reachable from the internet: private, shared, loopback, link-local,
# documentation, benchmarking, multicast and reserved IPv4 blocks. IPv6's public space is 2000::/3.
_NON_PUBLIC_V4 = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"))
_PUBLIC_V4 = 2 ** 32 - sum(n.num_addresses for n in _NON_PUBLIC_V4)
_PUBLIC_V6 = ipaddress.ip_network("2000::/3")


def _network(cidr: Any) -> Optional[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError:
        return None


def _overlap(a: Any, b: Any) -> int:
    """Addresses two CIDR blocks share (one contains the other, or they are disjoint)."""
    if a.subnet_of(b):
        return a.num_addresses
    if b.subnet_of(a):
        return b.num_addresses
    return 0


def public_share(cidrs: Sequence[Any]) -> tuple[float, float]:
    """Shares (0..1) of the public IPv4 and IPv6 address space that the CIDRs cover together."""
    nets = [n for n in (_network(c) for c in cidrs) if n is not None]
    v4 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 4))
    v6 = list(ipaddress.collapse_addresses(n for n in nets if n.version == 6))
    covered_v4 = sum(n.num_addresses - sum(_overlap(n, x) for x in _NON_PUBLIC_V4) for n in v4)
    covered_v6 = sum(_overlap(n, _PUBLIC_V6) for n in v6)
    return covered_v4 / _PUBLIC_V4, covered_v6 / _PUBLIC_V6.num_addresses


@dataclass(frozen=True)
class _Ingress:
    label: str
    protocol: str  # lower-cased; "-1" = all
    from_port: Any
    to_port: Any
    cidrs: tuple[str, ...]

    def covers(self, other: "_Ingress") -> bool:
        """Whether this entry admits every packet `other` admits (so their sources add up)."""
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol != other.protocol or other.protocol in ("-1", "all"):
            return False
        try:
            return float(self.from_port) <= float(other.from_port) and float(other.to_port) <= float(self.to_port)
        except (TypeError, ValueError):
            return False


def _cidr_list(values: Any) -> list[str]:
    # An unknown CIDR is left out: it cannot be judged, and the others still count.
    return [c for c in (known(lambda: values[i]) for i in range(len(values or []))) if isinstance(c, str)]


@resource_rule(
    name="security-no-public-ingress",
    concern="security",
    severity=Severity.HIGH,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.SECURITY_GROUP, t.SECURITY_GROUP_RULE, t.SECURITY_GROUP_INGRESS_RULE}),
    description="Security groups allow ingress from the internet (0.0.0.0/0, ::/0, or CIDRs that together cover "
                "most of the public address space, e.g. 0.0.0.0/1 + 128.0.0.0/1) only on TCP 443.",
    remediation="Restrict the source CIDR (or use a load balancer / prefix list); only HTTPS may be world-open.",
    config={
        "allowedPorts": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                         "default": [443], "description": "TCP ports that may be open to the world."},
        "worldShare": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5,
                       "description": "Share of the public IPv4 or IPv6 address space from which a port counts "
                                      "as open to the world (sources of all entries admitting the port add up)."},
    },
)
def no_public_ingress(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = set(cfg.get("allowedPorts", [443]))
    threshold = cfg.get("worldShare", 0.5)
    p = r.props
    entries: list[_Ingress] = []
    if r.type == t.SECURITY_GROUP:
        for i, rule in enumerate(p.get("ingress") or []):
            cidrs = _cidr_list(rule.get("cidrBlocks")) + _cidr_list(rule.get("ipv6CidrBlocks"))
            entries.append(_Ingress(f"ingress[{i}]", str(rule.get("protocol")).lower(), rule.get("fromPort"),
                                    rule.get("toPort"), tuple(cidrs)))
    elif r.type == t.SECURITY_GROUP_RULE:
        if p.get("type") != "ingress":
            return
        cidrs = _cidr_list(p.get("cidrBlocks")) + _cidr_list(p.get("ipv6CidrBlocks"))
        entries.append(_Ingress("rule", str(p.get("protocol")).lower(), p.get("fromPort"), p.get("toPort"),
                                tuple(cidrs)))
    else:
        cidrs = [c for c in (known(lambda: p.get("cidrIpv4")), known(lambda: p.get("cidrIpv6"))) if isinstance(c, str)]
        entries.append(_Ingress("rule", str(p.get("ipProtocol")).lower(), p.get("fromPort"), p.get("toPort"),
                                tuple(cidrs)))
    for entry in entries:
        if not entry.cidrs:
            continue
        if entry.protocol in ("tcp", "6") and entry.from_port == entry.to_port and entry.from_port in allowed:
            continue
        # Every entry admitting at least this entry's traffic adds its sources to this port range.
        sources = [c for other in entries if other.covers(entry) or other is entry for c in other.cidrs]
        share_v4, share_v6 = public_share(sources)
        if max(share_v4, share_v6) < threshold:
            continue
        ports = "all ports" if entry.protocol in ("-1", "all") else \
            f"{entry.protocol} {num(entry.from_port)}-{num(entry.to_port)}"
        together = "" if sources == list(entry.cidrs) else f" (with the other entries: {', '.join(sources)})"
        spaces = ", ".join(f"{share:.0%} of the public {kind} space"
                           for kind, share in (("IPv4", share_v4), ("IPv6", share_v6)) if share >= threshold)
        yield f"{entry.label} opens {ports} to {', '.join(entry.cidrs)}{together}: {spaces}"
