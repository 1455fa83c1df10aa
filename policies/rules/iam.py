"""Least-privilege IAM rules (mandatory by default)."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from pulumi_policy.proxy import unknown_checking_proxy

from .. import awstypes as t
from .. import managedpolicies
from ..iamlib import (
    PolicyDocumentError,
    Statement,
    action_index,
    is_broad_resource,
    is_wildcard_only,
    managed_policy_name,
    statements,
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


def _expand_all(patterns: tuple[str, ...]) -> tuple[set[str], list[str]]:
    """(lower-cased actions, patterns not found in the IAM dataset)."""
    index = action_index()
    actions: set[str] = set()
    unknown = []
    for pattern in patterns:
        expanded = index.expand(pattern)
        if expanded is None:
            unknown.append(pattern)
        else:
            actions.update(expanded)
    return actions, unknown


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
    description="Identity policies must not use Resource '*' (or a wildcard-only ARN such as 'arn:aws:s3:::*' or "
                "'arn:aws:dynamodb:*:*:table/*') for actions that support resource-level permissions.",
    remediation="Name the ARNs (table, queue, log group, role...). Actions that only accept '*' "
                "(e.g. ecr:GetAuthorizationToken, xray:PutTraceSegments) may keep it.",
    config={
        "scopingConditionKeys": {
            "type": "array", "items": {"type": "string"},
            "default": ["aws:ResourceTag/*", "*:ResourceTag/*", "ecs:cluster"],
            "description": "Condition keys (globs) that scope a '*' resource well enough.",
        },
        "allowedActions": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Actions (globs) accepted on '*' anyway.",
        },
        "flagUnknownActions": {
            "type": "boolean", "default": True,
            "description": "Report actions missing from the IAM dataset (typos grant nothing and hide intent).",
        },
    },
)
def no_wildcard_resource(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    index = action_index()
    allowed = [a.lower() for a in cfg.get("allowedActions", [])]
    for _, label, stmt in parsed(r, ("identity",)):
        # Equivalent to '*': no account pins it. `arn:aws:logs:<region>:<account>:*` (the AWS Lambda
        # logging example) stays acceptable here; the escalation rule judges account-wide ARNs.
        broad = [x for x in stmt.resources if is_wildcard_only(x)]
        if not stmt.allows or not broad:
            continue
        if stmt.has_condition(cfg.get("scopingConditionKeys", [])):
            continue
        actions, unknown = _expand_all(stmt.actions)
        scoped = sorted(index.canonical(a) for a in actions
                        if index.resource_level(a) and not any(fnmatch.fnmatchcase(a, p) for p in allowed))
        where = f"{label}: {stmt.label}"
        if scoped:
            yield (f"{where}: Resource {broad[0].strip()!r} on {len(scoped)} action(s) that support resource-level "
                   f"permissions: {_short(scoped)}")
        if unknown and cfg.get("flagUnknownActions", True):
            yield f"{where}: unknown IAM action(s) {_short(unknown)} (not in the IAM action dataset)"


@resource_rule(
    name="iam-no-privilege-escalation",
    concern="iam",
    severity=Severity.CRITICAL,
    enforcement=Enforcement.MANDATORY,
    types=t.IDENTITY_HOLDERS,
    description="No privilege-escalation actions (PassRole, policy versions, attach/put policies, access keys, "
                "AssumeRole...) or secret/key reads on broad resources.",
    remediation="Scope iam:PassRole to the exact role ARNs with an iam:PassedToService condition; scope "
                "secret and key reads to the secret/key/parameter ARNs.",
    config={
        "escalationActions": {
            "type": "array", "items": {"type": "string"},
            "default": ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachRolePolicy",
                        "iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:PutRolePolicy",
                        "iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:CreateAccessKey",
                        "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:AddUserToGroup",
                        "iam:UpdateAssumeRolePolicy", "iam:PutRolePermissionsBoundary",
                        "iam:PutUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
                        "iam:DeleteUserPermissionsBoundary", "sts:AssumeRole",
                        "lambda:UpdateFunctionCode", "glue:UpdateDevEndpoint"],
            "description": "Actions (globs) that let a principal raise its own privileges.",
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
    index = action_index()
    escalation, _ = _expand_all(tuple(cfg.get("escalationActions", [])))
    secret_reads, _ = _expand_all(tuple(cfg.get("secretReadActions", [])))
    for _, label, stmt in parsed(r, ("identity",)):
        if not stmt.allows:
            continue
        actions, _ = _expand_all(stmt.actions)
        if stmt.not_actions:  # NotAction grants everything else, escalation actions included
            excluded, _ = _expand_all(stmt.not_actions)
            actions = (escalation | secret_reads | {"iam:passrole"}) - excluded
        broad = [x for x in stmt.resources if is_broad_resource(x)] or (["NotResource"] if stmt.not_resources else [])
        where = f"{label}: {stmt.label}"
        if "iam:passrole" in actions:
            if broad:
                yield f"{where}: iam:PassRole on {broad[0]!r} can hand any role to a service"
            elif cfg.get("passRoleRequiresPassedToService", True) and not stmt.has_condition(["iam:PassedToService"]):
                yield f"{where}: iam:PassRole without an iam:PassedToService condition"
        if not broad:
            continue
        # Actions that accept only '*' cannot be scoped further, so they are not escalation paths here.
        risky = sorted(index.canonical(a) for a in actions & (escalation - {"iam:passrole"}) if index.resource_level(a))
        if risky:
            yield f"{where}: privilege-escalation action(s) {_short(risky)} on {broad[0]!r}"
        reads = sorted(index.canonical(a) for a in actions & secret_reads if index.resource_level(a))
        if reads:
            yield f"{where}: reads secrets or keys ({_short(reads)}) on {broad[0]!r}"


@resource_rule(
    name="iam-no-open-principal",
    concern="iam",
    severity=Severity.CRITICAL,
    enforcement=Enforcement.MANDATORY,
    types=t.PRINCIPAL_HOLDERS,
    description="Trust and resource policies must not allow the '*' principal (or NotPrincipal, or an "
                "unconditioned federated principal) without a source condition that restricts (not Null, "
                "...IfExists or negated, and not a '*' or wildcard-only ARN value).",
    remediation="Name the principal (account, role or service), or add aws:SourceArn / aws:SourceAccount / "
                "aws:PrincipalOrgID conditions.",
    config={
        "sourceConditionKeys": {
            "type": "array", "items": {"type": "string"},
            "default": ["aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceOrgID",
                        "aws:SourceOrgPaths", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
                        "aws:PrincipalAccount", "aws:PrincipalArn", "aws:SourceVpc", "aws:SourceVpce"],
            "description": "Condition keys that restrict an open principal.",
        },
    },
)
def no_open_principal(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    keys = cfg.get("sourceConditionKeys", [])
    for kind, label, stmt in parsed(r, ("trust", "resource")):
        if not stmt.allows:
            continue
        where = f"{label}: {stmt.label}"
        if stmt.not_principal:
            yield f"{where}: Allow with NotPrincipal grants every other principal"
        elif stmt.open_principal and not stmt.has_condition(keys):
            yield f"{where}: allows principal '*' without a source condition ({', '.join(keys[:3])}...)"
        elif kind == "trust" and stmt.principal and stmt.principal.get("Federated") and not stmt.restricted:
            yield (f"{where}: federated principal {stmt.principal['Federated'][0]!r} without conditions "
                   f"lets any identity of that provider assume the role")


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
        if not source_arn:
            yield (f"service principal {principal!r} without sourceArn lets any {principal} resource "
                   f"(in any account) invoke it")
        elif is_wildcard_only(str(source_arn)):
            yield (f"sourceArn {source_arn!r} matches every resource, so any {principal} resource "
                   f"(in any account) can invoke it")
