"""Which conditions actually restrict a statement, per condition key and per principal kind.

A condition restricts when the request must carry the key with a value from a narrow set:
- the operator is positive (not `...Not...`), not `...IfExists` (the key may be absent), not
  `Null` (it only tests presence) and not `ForAllValues:` (true when the key is absent);
- it has values, and every value is narrow for its key: an account key needs a literal account,
  an organization key a literal `o-...` id, VPC/endpoint ids, sts:ExternalId, iam:PassedToService and audience keys
  (`...:aud`, `...:app_id`) literal values, an ARN key an ARN that pins the account (or, for S3
  ARNs, which carry no account, the bucket name), any other key a value that is not wildcards
  only (`*`, `?*`) and not an ARN matching every resource of a type in every account.
  Values holding `*`, `?` or a caller-controlled policy variable never pin an account or org;
  elsewhere `${aws:PrincipalTag/...}` counts as the caller's own value (attribute-based access).

Principal kinds and the keys that restrict them (`principal_requirements`):
- `*` (or an AWS principal with a wildcard): a source or principal key (config `sourceConditionKeys`).
- a service principal on a resource policy: aws:SourceArn / aws:SourceAccount / aws:SourceOrgID /
  aws:SourceOrgPaths (confused deputy), for KMS an `aws:<service>:...arn` encryption context that
  pins the account, or (log delivery into S3) Resources all under `AWSLogs/<account>/`.
- GitHub Actions OIDC: `token.actions.githubusercontent.com:sub` naming one repository
  (`repo:owner/name:...`, no wildcard in owner or name) and `...:aud`.
- Cognito identity pools: `cognito-identity.amazonaws.com:aud` and `...:amr`.
- other IAM OIDC providers (`oidc-provider/HOST`): `HOST:sub`; well-known web identity
  providers (Google, Facebook, Amazon): their audience key; SAML providers: a `SAML:` key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from .iam_index import action_index, has_open_variable, has_wildcard

ACCOUNT_KEYS = frozenset({"aws:sourceaccount", "aws:principalaccount", "aws:resourceaccount", "aws:sourceowner",
                          "kms:calleraccount"})
ORG_ID_KEYS = frozenset({"aws:principalorgid", "aws:sourceorgid", "aws:resourceorgid"})
# Identifiers that must be named exactly: a pattern over them admits ids anyone can create.
ID_KEYS = frozenset({"aws:sourcevpc", "aws:sourcevpce", "sts:externalid", "iam:passedtoservice"})
AUDIENCE_SUFFIXES = (":aud", ":app_id", ":oaud", ":azp")
ORG_PATH_KEYS = frozenset({"aws:principalorgpaths", "aws:sourceorgpaths", "aws:resourceorgpaths"})
# ARNs naming what may be attached: a pattern matching every policy (even in one account) is no limit.
NARROW_ARN_KEYS = frozenset({"iam:policyarn", "iam:permissionsboundary"})
ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn"})
# KMS encryption contexts that AWS services set to the calling resource's ARN
# (kms:EncryptionContext:aws:logs:arn, ...:aws:cloudtrail:arn, ...:aws:sns:topicArn...).
_KMS_CONTEXT_ARN = re.compile(r"^kms:encryptioncontext:aws:[a-z0-9-]+:[a-z]*arn$")
SERVICE_SOURCE_KEYS = ("aws:SourceArn", "aws:SourceAccount", "aws:SourceOrgID", "aws:SourceOrgPaths",
                       "aws:SourceOwner", "kms:EncryptionContext:aws:*:*arn")
# AWS log-delivery services write under AWSLogs/<the source account>/ in a bucket, so an S3 object
# ARN pinned to that prefix restricts them as aws:SourceAccount would.
_AWSLOGS_PREFIX = re.compile(r"^arn:aws[a-z-]*:s3:::[^*?/$]+/(?:[^*?$]*/)?AWSLogs/\d{12}/")

GITHUB_OIDC = "token.actions.githubusercontent.com"
COGNITO_IDENTITY = "cognito-identity.amazonaws.com"
# Web identity providers that are not IAM OIDC providers: their audience (your app id) is the
# only thing tying a token to you.
WEB_IDENTITY_AUDIENCE = {"accounts.google.com": "accounts.google.com:aud",
                         "graph.facebook.com": "graph.facebook.com:app_id",
                         "www.amazon.com": "www.amazon.com:app_id"}

_PRINCIPAL_TAG = re.compile(r"\$\{aws:PrincipalTag/[^},]+\}", re.I)
_GITHUB_REPO = re.compile(r"^repo:[^*?/:$]+/[^*?/:$]+(:.*)?$")


def operator_restricts(operator: str) -> bool:
    op = operator.strip().lower()
    base = op.split(":", 1)[-1]
    return not (op.startswith("forallvalues:") or base == "null" or base.endswith("ifexists") or "not" in base)


def wildcard_only(value: str) -> bool:
    """`*`, `?*`, or an ARN that matches every resource of some type in every account."""
    value = value.strip()
    bare = value.replace("${*}", "x").replace("${?}", "x")
    if not bare or (set(re.sub(r"\$\{[^}]*\}", "*", bare)) <= {"*", "?"} and has_wildcard(value)):
        return True
    return "any" in action_index().resource_breadth(value).values()


def _literal(text: str) -> bool:
    return bool(text) and not has_wildcard(text) and "${" not in text


def pins_account(value: str) -> bool:
    """An ARN pattern whose account is literal, or an S3 ARN (no account) with a literal bucket."""
    parts = value.strip().split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or has_open_variable(value):
        return False
    if parts[4]:
        return _literal(parts[4]) and _literal(parts[2])
    if parts[2] == "s3" and not parts[3]:
        return _literal(parts[5].split("/", 1)[0])
    return False


def value_restricts(key: str, value: str) -> bool:
    key = key.lower()
    value = value.strip()
    if key in ACCOUNT_KEYS or key in ORG_ID_KEYS or key in ID_KEYS or key.endswith(AUDIENCE_SUFFIXES):
        return _literal(value)
    if key in ORG_PATH_KEYS:
        return _literal(value.split("/", 1)[0])
    if key in NARROW_ARN_KEYS:
        return bool(value) and not action_index().resource_breadth(value) and not has_open_variable(value)
    if (key in ARN_KEYS or _KMS_CONTEXT_ARN.match(key)) and value.startswith("arn:"):
        return pins_account(value)
    if key == f"{GITHUB_OIDC}:sub":
        return bool(_GITHUB_REPO.match(value))
    # Attribute-based access: `aws:ResourceTag/team` = `${aws:PrincipalTag/team}` narrows to the
    # caller's own tag value; request-controlled variables still match anything.
    value = _PRINCIPAL_TAG.sub("principal-tag", value)
    return not wildcard_only(value) and not has_open_variable(value)


def values_restrict(operator: str, key: str, values: Sequence[str]) -> bool:
    return operator_restricts(operator) and bool(values) and all(value_restricts(key, v) for v in values)


def resources_pin_source_account(resources: Sequence[str]) -> bool:
    """Every resource is an S3 object ARN under `AWSLogs/<literal account>/` (log delivery)."""
    return bool(resources) and all(_AWSLOGS_PREFIX.match(r.strip()) for r in resources)


def federated_requirements(provider: str) -> tuple[tuple[str, ...], ...]:
    """Groups of condition keys; each group needs one restricting condition."""
    low = provider.strip().lower()
    host = low.split(":oidc-provider/", 1)[1] if ":oidc-provider/" in low else low
    if host == GITHUB_OIDC:
        return ((f"{GITHUB_OIDC}:sub",), (f"{GITHUB_OIDC}:aud",))
    if host == COGNITO_IDENTITY:
        return ((f"{COGNITO_IDENTITY}:aud",), (f"{COGNITO_IDENTITY}:amr",))
    if host in WEB_IDENTITY_AUDIENCE:
        return ((WEB_IDENTITY_AUDIENCE[host],),)
    if ":saml-provider/" in low:
        return (("saml:*",),)
    if ":oidc-provider/" in low:
        return ((f"{host}:sub",),)
    return ((f"{host}:*",),)  # an unrecognised provider: at least one of its own keys


def principal_wildcard(value: str) -> bool:
    """`*`, or a principal ARN with a wildcard (AWS accepts no partial wildcard in principals, so
    such a value is either rejected or read as everyone)."""
    return value.strip() == "*" or has_wildcard(value)


def first_missing(groups: tuple[tuple[str, ...], ...], satisfied) -> Optional[tuple[str, ...]]:
    """The first group of keys with no restricting condition (satisfied(keys) -> bool)."""
    return next((g for g in groups if not satisfied(g)), None)
