"""Least-privilege IAM rules (mandatory by default)."""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from pulumi_policy.proxy import unknown_checking_proxy

from .. import awstypes as t
from .. import iam_conditions as cond
from .. import iam_escalation as esc
from .. import managedpolicies
from ..iamlib import (
    PolicyDocumentError,
    Statement,
    action_index,
    is_wildcard_only,
    managed_policy_name,
    statements,
    to_plain,
    validate_document,
)
from ..model import Enforcement, Resource, Severity, known, resource_rule

# ---------------------------------------------------------------------------------------------
# Where documents live


def documents(r: Resource, kinds: tuple[str, ...] = ("identity", "trust", "resource")) -> Iterator[tuple[str, str, Any]]:
    """(kind, label, document) for every policy document on the resource.

    kind is "identity" (grants to the holder), "trust" (who may assume a role) or "resource"
    (a resource policy). Empty documents are skipped: pulumi-aws uses an empty inline policy to
    mean "no inline policies".
    """
    props = r.props
    for path, kind in t.POLICY_PROPERTIES.get(r.type, ()):
        if kind not in kinds:
            continue
        # An unknown source (common in preview: documents built from other resources' ARNs)
        # is skipped on its own; the resource's other documents are still judged.
        for label, doc in known(lambda: list(t.policy_documents(props, path)), []):
            yield kind, label, doc


def parsed(r: Resource, kinds: tuple[str, ...] = ("identity", "trust", "resource")) -> Iterator[tuple[str, str, Statement]]:
    """(kind, label, statement); malformed documents are left to iam-policy-document-valid."""
    for kind, label, doc in documents(r, kinds):
        try:
            for stmt in statements(doc):
                yield kind, label, stmt
        except PolicyDocumentError:
            continue


def _short(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


@functools.lru_cache(maxsize=4096)
def _expand_all(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """(lower-cased actions, patterns not found in the IAM dataset); cached, so thousands of
    identical statements cost one expansion."""
    index = action_index()
    sets = [index.expand_set(p) for p in patterns]
    unknown = tuple(p for p, found in zip(patterns, sets) if not found)
    return frozenset().union(*sets), unknown


def _granted(stmt: Statement) -> tuple[frozenset[str], tuple[str, ...]]:
    """Actions an Allow statement grants (every action but the listed ones under NotAction)."""
    return _granted_by(stmt.actions, stmt.not_actions)


@functools.lru_cache(maxsize=4096)
def _granted_by(actions: tuple[str, ...], not_actions: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    if not_actions:
        everything, _ = _expand_all(("*",))
        excluded, _ = _expand_all(not_actions)
        return everything - excluded, ()
    return _expand_all(actions)


# ---------------------------------------------------------------------------------------------


@resource_rule(
    name="iam-policy-document-valid",
    concern="iam",
    severity=Severity.HIGH,
    enforcement=Enforcement.MANDATORY,
    types=t.DOCUMENT_HOLDERS,
    description="IAM policy documents must be well-formed JSON policies (AWS rejects the rest at deploy time).",
    remediation="Build documents with components/iam.py; every statement needs Effect and Action or NotAction "
                "(strings), and identity statements a Resource or NotResource and no Principal.",
)
def policy_document_valid(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for kind, label, doc in documents(r):
        try:
            problems = validate_document(doc, kind)
        except PolicyDocumentError as exc:
            problems = [str(exc)]
        for problem in problems:
            yield f"{label}: {problem}"


@resource_rule(
    name="iam-no-wildcard-actions",
    concern="iam",
    severity=Severity.CRITICAL,
    enforcement=Enforcement.MANDATORY,
    types=t.DOCUMENT_HOLDERS,
    description="Allow statements must not grant '*', service-wide actions (any pattern matching all of a "
                "service's actions, e.g. 'svc:*', 'iam:*?') or patterns across services ('*:Get*'), nor use "
                "NotAction or NotResource.",
    remediation="List the specific actions the workload calls (policy_sentry can generate them) and name the resources.",
    config={
        "allowedServiceWildcards": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Service-wide grants that are accepted, e.g. ['xray:*'].",
        },
        "allowKmsRootDelegation": {
            "type": "boolean", "default": True,
            "description": "Accept kms:* to the account root in a key policy (AWS's default key policy, "
                           "which delegates key access to IAM).",
        },
    },
)
def no_wildcard_actions(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = {a.strip().lower() for a in cfg.get("allowedServiceWildcards", [])}
    index = action_index()
    for kind, label, stmt in parsed(r):
        if not stmt.allows:
            continue
        where = f"{label}: {stmt.label}"
        if stmt.not_actions:
            yield f"{where}: Allow with NotAction {_short(list(stmt.not_actions))} grants every other action"
        if stmt.not_resources:
            yield f"{where}: Allow with NotResource grants the actions on every other resource"
        for service in _services_covered_together(stmt.actions):
            if f"{service}:*" not in allowed and not (kind == "resource" and r.type in t.KMS_POLICY_TYPES
                                                      and cfg.get("allowKmsRootDelegation", True)
                                                      and service == "kms" and _root_only(stmt)):
                yield f"{where}: Actions {_short(list(stmt.actions), 4)} together grant every {service} action"
        for action in stmt.actions:
            low = action.strip().lower()
            service = index.breadth(low)
            if service is None or low in allowed:
                continue
            if service == "*":
                yield f"{where}: Action {action!r} {_cross_service(low)}"
                continue
            if f"{service}:*" in allowed:
                continue
            if (kind == "resource" and r.type in t.KMS_POLICY_TYPES and service == "kms"
                    and cfg.get("allowKmsRootDelegation", True) and _root_only(stmt)):
                continue
            if kind == "resource" and r.type in t.SQS_POLICY_TYPES and service == "sqs" and _own_account_root(stmt):
                continue  # SQS's default `__owner_statement`: SQS:* for the queue's own account
            yield f"{where}: Action {action!r} grants every {service} action"


@functools.lru_cache(maxsize=4096)
def _services_covered_together(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Services none of whose patterns is service-wide alone but whose patterns together match
    every one of its actions (`iam:A*`, `iam:B*`, ... `iam:Z*`)."""
    index = action_index()
    by_service: dict[str, list[str]] = {}
    for p in patterns:
        low = p.strip().lower()
        service, sep, action = low.partition(":")
        if sep and any(ch in action for ch in "*?") and index.breadth(low) is None and service in index.services:
            by_service.setdefault(service, []).append(low)
    covered = []
    for service, pats in sorted(by_service.items()):
        if len(pats) > 1 and frozenset().union(*(index.expand_set(p) for p in pats)) >= index.expand_set(f"{service}:*"):
            covered.append(service)
    return tuple(covered)


def _cross_service(pattern: str) -> str:
    service, _, action = pattern.partition(":")
    if set(service) <= {"*", "?"}:
        return "grants every action" if set(action or "*") <= {"*", "?"} else "matches actions of every service"
    return f"matches actions of every service matching {service!r}"


_ROOT = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:root|\d{12})$")


def _own_account_root(stmt: Statement) -> bool:
    """Only the account root of the account that owns every named resource (SQS's owner statement)."""
    if not _root_only(stmt) or not stmt.resources:
        return False
    accounts = {p.split(":")[4] if p.startswith("arn:") else p for p in stmt.principal["AWS"]}
    owners = {r.split(":")[4] if r.count(":") >= 5 else None for r in stmt.resources}
    return len(accounts) == 1 and owners == accounts


def _root_only(stmt: Statement) -> bool:
    principals = (stmt.principal or {}).get("AWS", ())
    return bool(principals) and set(stmt.principal or {}) == {"AWS"} and all(_ROOT.match(p) for p in principals)


@resource_rule(
    name="iam-no-managed-admin-policies",
    concern="iam",
    severity=Severity.CRITICAL,
    enforcement=Enforcement.MANDATORY,
    types=frozenset(t.MANAGED_POLICY_HOLDERS),
    description="An attached AWS managed policy is judged by what its document grants (the dated snapshot in "
                "data/aws-managed-policies.json.gz): '*', service-wide or cross-service action patterns, NotAction, "
                "or privilege-escalation actions on broad resources, as iam-no-wildcard-actions and "
                "iam-no-privilege-escalation judge an inline policy. A policy missing from the snapshot is judged "
                "by name (deniedPolicies globs).",
    remediation="Write a scoped customer-managed or inline policy; if a managed policy is truly needed, add its "
                "ARN or name to this policy's allowlist with a reason in the pack config.",
    config={
        "deniedPolicies": {
            "type": "array", "items": {"type": "string"},
            "default": ["AdministratorAccess*", "PowerUserAccess", "IAMFullAccess", "*FullAccess",
                        "*FullAccess_v2", "job-function/SystemAdministrator",
                        "job-function/NetworkAdministrator", "job-function/DatabaseAdministrator"],
            "description": "Globs over the AWS managed policy path/name (after 'policy/').",
        },
        "allowlist": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Managed policy names or ARNs that may be attached anyway.",
        },
    },
)
def no_managed_admin_policies(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    prop, is_list = t.MANAGED_POLICY_HOLDERS[r.type]
    props = r.props
    if prop not in props or props[prop] is None:
        return
    arns = props[prop] if is_list else [props[prop]]
    allow = set(cfg.get("allowlist", []))
    denied = cfg.get("deniedPolicies", [])
    for i in range(len(arns)):
        arn = known(lambda: arns[i])  # an unknown ARN in a known list: judge the others
        if arn is None:
            continue
        name = managed_policy_name(str(arn))
        if name is None or name in allow or arn in allow or name.rsplit("/", 1)[-1] in allow:
            continue
        grants = managed_policy_grants(name)
        if grants is None:  # not in the snapshot: judged by name
            base = name.rsplit("/", 1)[-1]
            if any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(base, p) for p in denied):
                yield f"{prop}: attaches AWS managed policy {name} ({arn})"
        elif grants:
            more = f" (+{len(grants) - 1} more)" if len(grants) > 1 else ""
            yield f"{prop}: attaches AWS managed policy {name} ({arn}), which grants: {grants[0]}{more}"


@functools.lru_cache(maxsize=4096)
def managed_policy_grants(name: str) -> Optional[tuple[str, ...]]:
    """What an AWS managed policy's document grants that an inline policy could not (None when the
    snapshot does not know it): the wildcard-action and escalation rules on its document, with
    their defaults; reading data is not admin, so secret reads are not counted here."""
    document = managedpolicies.document(name)
    if document is None:
        return None
    view = Resource(t.POLICY, f"aws-managed-policy::{name}", props=unknown_checking_proxy({"policy": document}))
    escalation = {**no_privilege_escalation.defaults(), "secretReadActions": [], "passRoleRequiresPassedToService": False}
    found = (list(no_wildcard_actions.check(view, no_wildcard_actions.defaults()))
             + list(no_privilege_escalation.check(view, escalation)))
    return tuple(m.removeprefix("policy: ") for m in found)


@resource_rule(
    name="iam-no-wildcard-resource",
    concern="iam",
    severity=Severity.HIGH,
    enforcement=Enforcement.MANDATORY,
    types=t.IDENTITY_HOLDERS,
    description="Identity policies must not grant an action that supports resource-level permissions on a "
                "pattern matching every resource of one of its resource types, in the account or in every "
                "account ('*', 'arn:aws:s3:::*', 'table/*', 'role/?*', 'secret:?*', NotResource).",
    remediation="Name the ARNs (table, queue, log group, role...). Actions that only accept '*' "
                "(e.g. ecr:GetAuthorizationToken, xray:PutTraceSegments) may keep it.",
    config={
        "scopingConditionKeys": {
            "type": "array", "items": {"type": "string"},
            "default": ["aws:ResourceTag/*", "*:ResourceTag/*", "ecs:cluster"],
            "description": "Condition keys (globs) that scope a broad resource well enough.",
        },
        "allowedActions": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Actions (globs) accepted on broad resources anyway.",
        },
        "flagUnknownActions": {
            "type": "boolean", "default": True,
            "description": "Report actions missing from the IAM dataset (typos grant nothing and hide intent).",
        },
    },
)
def no_wildcard_resource(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = tuple(a.lower() for a in cfg.get("allowedActions", []))
    denied = _denied_everywhere(r)
    for _, label, stmt in parsed(r, ("identity",)):
        if not stmt.allows or stmt.has_condition(cfg.get("scopingConditionKeys", [])):
            continue
        where = f"{label}: {stmt.label}"
        scoped, broad, unknown = _broad_grants(stmt.actions, stmt.not_actions, stmt.resources,
                                               bool(stmt.not_resources), allowed)
        if denied:
            scoped = tuple(a for a in scoped if a.lower() not in denied)
        if scoped:
            yield (f"{where}: Resource {broad!r} on {len(scoped)} action(s) that support resource-level "
                   f"permissions: {_short(list(scoped))}")
        if unknown and cfg.get("flagUnknownActions", True):
            yield f"{where}: unknown IAM action(s) {_short(list(unknown))} (not in the IAM action dataset)"


@functools.lru_cache(maxsize=4096)
def _broad_grants(actions: tuple[str, ...], not_actions: tuple[str, ...], resources: tuple[str, ...],
                  not_resource: bool, allowed: tuple[str, ...]) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """(resource-level actions granted on a broad pattern, that pattern, unknown actions); cached
    per statement shape, so 2,000 identical admin statements cost one evaluation."""
    index = action_index()
    stmt = Statement(0, "", "allow", actions, not_actions, resources, (), None, False, ())
    granted, unknown = _granted(stmt)
    candidates = ["NotResource"] if not_resource else [x.strip() for x in resources
                                                         if index.resource_breadth(x.strip())]
    together = () if not_resource else tuple(x.strip() for x in resources)
    union = index.actions_broad_under_union(together) if len(together) > 1 else frozenset()
    if union:
        candidates.append(_together(together))
    if not candidates:
        return (), "", unknown
    resource_level = index.resource_level_among(granted)
    allowed_hit = frozenset(a for a in resource_level if any(fnmatch.fnmatchcase(a, p) for p in allowed)
                            ) if allowed else frozenset()
    hits: dict[str, str] = {}
    for res in candidates:
        under = resource_level if res == "NotResource" else (
            resource_level & union if res == _together(together) else index.broad_among(resource_level, res))
        for action in under - allowed_hit:
            hits.setdefault(action, res)
    if not hits:
        return (), "", unknown
    first = next(iter(sorted(set(hits.values()), key=candidates.index)))
    return tuple(sorted(index.canonical(a) for a in hits)), first, unknown


def _denied_everywhere(r: Resource) -> frozenset[str]:
    """Actions an unconditional Deny of the same resource's identity documents removes on every
    resource (`Resource: "*"` or a pattern matching every resource in every account)."""
    denied: set[str] = set()
    for _, _, stmt in parsed(r, ("identity",)):
        if stmt.effect == "deny" and not stmt.conditions and not stmt.not_resources and any(
                is_wildcard_only(x) for x in stmt.resources):
            denied |= _granted(stmt)[0]
    return frozenset(denied)


def _together(patterns: tuple[str, ...]) -> str:
    """How a set of patterns that is broad only as a whole is named in messages."""
    return f"{_short(list(patterns), 3)} together"


@resource_rule(
    name="iam-no-privilege-escalation",
    concern="iam",
    severity=Severity.CRITICAL,
    enforcement=Enforcement.MANDATORY,
    types=t.IDENTITY_HOLDERS,
    description="No published privilege-escalation path (cloudsplaining's list plus kms:CreateGrant, Lambda "
                "configuration/layers, ssm SendCommand/StartSession, sts:AssumeRole, boundaries) with every "
                "action on a broad resource; no iam:PassRole on a broad role pattern or without "
                "iam:PassedToService; no policy or boundary writes on the holder itself; no secret or key "
                "reads on broad resources.",
    remediation="Scope iam:PassRole to the exact role ARNs with an iam:PassedToService condition; scope "
                "policy writes with iam:PolicyARN or iam:PermissionsBoundary; scope secret and key reads to "
                "the secret/key/parameter ARNs.",
    config={
        "extraEscalationActions": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "More actions (globs) that escalate on their own when granted on a broad resource.",
        },
        "ignoredEscalationMethods": {
            "type": "array", "items": {"type": "string", "enum": sorted(m.name for m in esc.methods())},
            "default": [],
            "description": "Escalation method names (from data/iam-escalation.json) not to report.",
        },
        "secretReadActions": {
            "type": "array", "items": {"type": "string"},
            "default": ["secretsmanager:GetSecretValue", "kms:Decrypt", "ssm:GetParameter*"],
            "description": "Actions (globs) that read secrets or key material.",
        },
        "passRoleRequiresPassedToService": {
            "type": "boolean", "default": True,
            "description": "Require an iam:PassedToService condition on every iam:PassRole grant.",
        },
    },
)
def no_privilege_escalation(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    ignored = set(cfg.get("ignoredEscalationMethods", []))
    extra, _ = _expand_all(tuple(cfg.get("extraEscalationActions", [])))
    secret_reads, _ = _expand_all(tuple(cfg.get("secretReadActions", [])))
    singles = (esc.single_action_methods() | extra) - {
        next(iter(m.actions)) for m in esc.methods() if m.name in ignored and len(m.actions) == 1}
    holder = _holder(r)
    denied = _denied_everywhere(r)
    broad_everywhere: set[str] = set()  # actions granted broadly by some statement of this resource
    flagged: set[str] = set()
    for _, label, stmt in parsed(r, ("identity",)):
        if not stmt.allows:
            continue
        where = f"{label}: {stmt.label}"
        grants = esc.statement_grants(stmt.actions, stmt.not_actions, stmt.resources, bool(stmt.not_resources),
                                      stmt.conditions, extra | secret_reads)
        if denied:
            grants = {a: res for a, res in grants.items() if a not in denied}
        broad_everywhere.update(grants)
        if "iam:passrole" in grants:
            yield f"{where}: iam:PassRole on {grants['iam:passrole']!r} can hand any role to a service"
        elif (cfg.get("passRoleRequiresPassedToService", True) and "iam:passrole" in _granted(stmt)[0]
              and "iam:passrole" not in denied and not stmt.has_condition(["iam:PassedToService"])):
            yield f"{where}: iam:PassRole without an iam:PassedToService condition"
        risky = sorted(a for a in grants if a in singles and a != "iam:passrole")
        if risky:
            flagged.update(risky)
            yield (f"{where}: privilege-escalation action(s) {_short_canon(risky)} on "
                   f"{grants[risky[0]]!r}")
        reads = sorted(a for a in grants if a in secret_reads)
        if reads:
            yield f"{where}: reads secrets or keys ({_short_canon(reads)}) on {grants[reads[0]]!r}"
        own = esc.self_targets(stmt, holder, frozenset(grants) | denied)
        if own:
            yield (f"{where}: can rewrite its own permissions: {_short_canon([a for a, _ in own])} on "
                   f"{own[0][1]!r}")
    flagged |= {"iam:passrole"} & broad_everywhere
    for method in esc.methods():
        if (len(method.actions) > 1 and method.name not in ignored and method.actions <= broad_everywhere
                and not method.actions & flagged):
            yield (f"escalation path {method.name} ({method.origin}): "
                   f"{' + '.join(sorted(_canon(a) for a in method.actions))} all allowed on broad resources")


def _canon(action: str) -> str:
    return action_index().canonical(action)


def _short_canon(actions: list[str], limit: int = 6) -> str:
    """_short over canonical names, naming only the ones shown."""
    shown = [_canon(a) for a in actions[:limit]]
    return ", ".join(shown) + (f" (+{len(actions) - limit} more)" if len(actions) > limit else "")


def _holder(r: Resource) -> tuple[str, Optional[str]]:
    """("role" | "user" | "group" | "", name) of the identity the policy is attached to."""
    prop = {t.ROLE: ("role", "name"), t.ROLE_POLICY: ("role", "role"), t.USER_POLICY: ("user", "user"),
            t.GROUP_POLICY: ("group", "group")}.get(r.type)
    if prop is None:
        return "", None
    name = known(lambda: r.props.get(prop[1]))
    return prop[0], name if isinstance(name, str) and name else None


@resource_rule(
    name="iam-no-open-principal",
    concern="iam",
    severity=Severity.CRITICAL,
    enforcement=Enforcement.MANDATORY,
    types=t.PRINCIPAL_HOLDERS,
    description="Trust and resource policies: Allow statements must restrict each principal kind by conditions "
                "that really narrow it (positive operator, not Null/IfExists/ForAllValues, no wildcard-only "
                "value, literal account/org ids, ARNs pinning the account): '*' (or a wildcarded principal) "
                "needs a source/principal key; service principals on resource policies need aws:SourceArn/"
                "SourceAccount/SourceOrgID; GitHub OIDC needs a repo-scoped sub and aud; Cognito identity "
                "pools need aud and amr; other OIDC providers need sub (SAML: a SAML: key); no NotPrincipal.",
    remediation="Name the principal (account, role or service) and add the conditions the principal kind needs "
                "(aws:SourceArn / aws:SourceAccount for services, sub/aud for OIDC, aws:PrincipalOrgID for '*').",
    config={
        "sourceConditionKeys": {
            "type": "array", "items": {"type": "string"},
            "default": ["aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceOrgID",
                        "aws:SourceOrgPaths", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
                        "aws:PrincipalAccount", "aws:PrincipalArn", "aws:SourceVpc", "aws:SourceVpce"],
            "description": "Condition keys that restrict an open principal.",
        },
        "serviceConditionKeys": {
            "type": "array", "items": {"type": "string"}, "default": list(cond.SERVICE_SOURCE_KEYS),
            "description": "Condition keys that restrict a service principal on a resource policy.",
        },
        "servicesWithoutSourceCondition": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Service principals accepted on resource policies without a source condition.",
        },
        "trustedAccounts": {
            "type": "array", "items": {"type": "string", "pattern": "^[0-9]{12}$"}, "default": [],
            "description": "Accounts whose root may be trusted by roles without conditions (besides the stack's "
                           "own: the provider's allowedAccountIds and accounts the document names).",
        },
        "crossAccountConditionKeys": {
            "type": "array", "items": {"type": "string"},
            "default": ["sts:ExternalId", "aws:PrincipalArn", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths"],
            "description": "Condition keys that restrict a trust in another account's root.",
        },
    },
)
def no_open_principal(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    keys = cfg.get("sourceConditionKeys", [])
    exempt = {s.lower() for s in cfg.get("servicesWithoutSourceCondition", [])}
    for kind, label, stmt in parsed(r, ("trust", "resource")):
        if not stmt.allows:
            continue
        where = f"{label}: {stmt.label}"
        if stmt.not_principal:
            yield f"{where}: Allow with NotPrincipal grants every other principal"
            continue
        if stmt.open_principal:
            if not stmt.has_condition(keys):
                yield f"{where}: allows principal '*' without a source condition ({', '.join(keys[:3])}...)"
            continue
        principal = stmt.principal or {}
        for provider in principal.get("Federated", ()) if kind == "trust" else ():
            missing = cond.first_missing(cond.federated_requirements(provider), stmt.has_condition)
            if missing:
                yield (f"{where}: federated principal {provider!r} without a restricting {' or '.join(missing)} "
                       f"condition lets other identities of that provider assume the role")
        if kind == "trust":
            foreign = _foreign_roots(r, stmt, cfg)
            if foreign and not stmt.has_condition(cfg.get("crossAccountConditionKeys", [])):
                yield (f"{where}: trusts the root of account {foreign[0]} (not this stack's) without sts:ExternalId "
                       f"or aws:PrincipalArn / aws:PrincipalOrgID, so any principal that account allows can assume "
                       f"the role")
        if kind == "resource":
            services = [s for s in principal.get("Service", ()) if s.lower() not in exempt]
            if (services and not stmt.has_condition(cfg.get("serviceConditionKeys", []))
                    and not cond.resources_pin_source_account(stmt.resources)):
                yield (f"{where}: service principal {services[0]!r} without a restricting aws:SourceArn / "
                       f"aws:SourceAccount condition lets that service act for any account (confused deputy)")


_ROOT_PRINCIPAL = re.compile(r"^(?:arn:aws[a-z-]*:iam::(\d{12}):root|(\d{12}))$")
_ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:(\d{12}):")


def _foreign_roots(r: Resource, stmt: Statement, cfg: Mapping[str, Any]) -> list[str]:
    """Accounts whose root the statement trusts and that are not known to be this stack's own:
    the provider's allowedAccountIds, `trustedAccounts`, and accounts the statement itself names
    (resource ARNs, literal account conditions). Without any own account known, none is foreign."""
    roots = [m.group(1) or m.group(2) for p in (stmt.principal or {}).get("AWS", ())
             for m in [_ROOT_PRINCIPAL.match(p.strip())] if m]
    if not roots:
        return []
    own = set(cfg.get("trustedAccounts", [])) | _provider_accounts(r)
    own |= {m.group(1) for x in stmt.resources for m in [_ACCOUNT_IN_ARN.match(x)] if m}
    own |= {v for c in stmt.conditions if c.key in cond.ACCOUNT_KEYS and c.restricts for v in c.values}
    return [a for a in roots if own and a not in own]


def _provider_accounts(r: Resource) -> set[str]:
    provider = known(lambda: r.provider_props)
    value = known(lambda: to_plain(provider.get("allowedAccountIds"))) if provider is not None else None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return set()
    return {str(v) for v in value} if isinstance(value, list) else set()


@resource_rule(
    name="lambda-permission-restricted",
    concern="iam",
    severity=Severity.CRITICAL,
    enforcement=Enforcement.MANDATORY,
    types=frozenset({t.LAMBDA_PERMISSION, t.LAMBDA_LAYER_VERSION_PERMISSION}),
    description="Lambda permissions must not grant '*', service principals need a sourceArn that names a "
                "resource (not '*' or a wildcard-only ARN such as 'arn:aws:s3:::*'), and layer permissions "
                "must not share a layer with every account.",
    remediation="Set principal to the calling service or account and sourceArn to the calling resource "
                "(e.g. the EventBridge rule or SNS topic ARN); share layers with an account or organizationId.",
    config={
        "servicesWithoutSourceArn": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Service principals accepted without sourceArn.",
        },
    },
)
def lambda_permission_restricted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    props = r.props
    principal = str(props.get("principal") or "")
    if r.type == t.LAMBDA_LAYER_VERSION_PERMISSION:
        if principal == "*" and not props.get("organizationId"):
            yield "principal '*' without organizationId shares the layer with every AWS account"
        return
    if principal == "*":
        if not props.get("principalOrgId"):
            yield "principal '*' lets anyone invoke the function"
    elif principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        if principal in cfg.get("servicesWithoutSourceArn", []):
            return
        source_arn = props.get("sourceArn")
        source_account = props.get("sourceAccount")
        if source_account and cond.value_restricts("aws:SourceAccount", str(source_account)) and (
                not source_arn or cond.value_restricts("aws:SourceArn", str(source_arn))):
            return
        if not source_arn:
            yield (f"service principal {principal!r} without sourceArn lets any {principal} resource "
                   f"(in any account) invoke it")
        elif not cond.value_restricts("aws:SourceArn", str(source_arn)):
            yield (f"sourceArn {source_arn!r} matches every resource or pins no account, so any {principal} "
                   f"resource (in any account) can invoke it")
