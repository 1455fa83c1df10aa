"""Data stores: S3 public access judged per bucket with everything that opens or closes it, and
encryption at rest of SNS topics and SQS queues."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

from .. import awstypes as t
from ..iamlib import PolicyDocumentError, statements
from ..links import Links, items, mapping
from ..model import Enforcement, Resource, Severity, known, resource_rule, stack_rule

_BUCKETS = (t.S3_BUCKET, t.S3_BUCKET_V2)
_FLAGS = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_PUBLIC_GRANTEES = ("/global/AllUsers", "/global/AuthenticatedUsers")


class _Bucket:
    """One bucket and the resources that set its ACL, public access block and policy."""

    def __init__(self, bucket: Optional[Resource]) -> None:
        self.bucket = bucket
        self.acls: list[Resource] = []
        self.blocks: list[Resource] = []
        self.policies: list[Resource] = []
        self.ownership: list[Resource] = []


def _buckets(resources: Sequence[Resource], links: Links) -> dict[str, _Bucket]:
    found: dict[str, _Bucket] = {}
    for b in resources:
        if b.type in _BUCKETS:
            found[b.urn] = _Bucket(b)
    for r in resources:
        kind = {t.S3_BUCKET_ACL: "acls", t.S3_BUCKET_ACL_V2: "acls", t.S3_BUCKET_PUBLIC_ACCESS_BLOCK: "blocks",
                t.S3_BUCKET_POLICY: "policies", t.S3_OWNERSHIP_CONTROLS: "ownership"}.get(r.type)
        if kind is None:
            continue
        _, key = links.owner_key(r, "bucket", _BUCKETS, name_prop="bucket")
        getattr(found.setdefault(key, _Bucket(None)), kind).append(r)
    return found


def _blocked(blocks: Sequence[Resource]) -> dict[str, Optional[bool]]:
    """Each flag: True when some block sets it, None when one that might is unknown, else False."""
    unknown = object()
    state: dict[str, Optional[bool]] = {f: False for f in _FLAGS}
    for block in blocks:
        for flag in _FLAGS:
            value = known(lambda: block.props.get(flag), unknown)
            if value is True:
                state[flag] = True
            elif value is unknown and state[flag] is False:
                state[flag] = None  # it may well be on: judge nothing it would neutralize
    return state


def _acls_disabled(b: _Bucket) -> bool:
    """Object ownership BucketOwnerEnforced turns ACLs off (an unknown setting may do so too)."""
    for o in b.ownership:
        rule = known(lambda: o.props.get("rule"), {"objectOwnership": "BucketOwnerEnforced"})
        if isinstance(rule, Mapping) and known(lambda: rule.get("objectOwnership"),
                                               "BucketOwnerEnforced") == "BucketOwnerEnforced":
            return True
    return False


def _public_acl(r: Resource) -> Optional[str]:
    p = r.props
    acl = known(lambda: p.get("acl"))
    if acl in _PUBLIC_ACLS:
        return f"ACL {acl!r}"
    grants = items(known(lambda: p.get("grants")))
    policy = mapping(known(lambda: p.get("accessControlPolicy")))
    if policy is not None:
        grants += items(known(lambda: policy.get("grants")))
    for g in grants:
        g = mapping(g) or {}
        grantee = mapping(known(lambda: g.get("grantee"))) or g
        uri = str(known(lambda: grantee.get("uri")) or "")
        if uri.endswith(_PUBLIC_GRANTEES):
            return f"a grant to {uri.rsplit('/', 1)[-1]}"
    return None


def _public_statements(r: Resource) -> list[str]:
    doc = known(lambda: r.props.get("policy"))
    if not doc:
        return []
    try:
        return [s.label for s in statements(doc) if s.allows and (s.open_principal or s.not_principal)
                and not s.restricted]
    except PolicyDocumentError:
        return []  # iam-policy-document-valid reports it


@stack_rule(
    name="security-s3-public-access",
    concern="security",
    severity=Severity.HIGH,
    enforcement=Enforcement.ADVISORY,
    description="Each S3 bucket is judged with its BucketAcl, BucketPublicAccessBlock and BucketPolicy resources "
                "(linked by property dependencies or bucket name) and any AccountPublicAccessBlock: a public ACL "
                "(public-read, public-read-write, authenticated-read, or a grant to AllUsers/AuthenticatedUsers) "
                "not neutralized by blockPublicAcls/ignorePublicAcls or BucketOwnershipControls BucketOwnerEnforced, a policy statement allowing '*' (or "
                "NotPrincipal) with no condition not neutralized by blockPublicPolicy/restrictPublicBuckets, and "
                "(with requirePublicAccessBlock) a block that is missing or leaves one of its four flags off.",
    remediation="Declare aws.s3.BucketPublicAccessBlock with all four flags true for every bucket (or an account-level "
                "block); serve public content through CloudFront with origin access control instead of ACLs/policies.",
    config={
        "requirePublicAccessBlock": {"type": "boolean", "default": True,
                                     "description": "Require a bucket or account public access block with all four "
                                                    "flags true."},
    },
)
def s3_public_access(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    links = Links(resources)
    account = [r for r in resources if r.type == t.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK]
    for key, b in _buckets(resources, links).items():
        urn = b.bucket.urn if b.bucket is not None else (b.acls + b.blocks + b.policies)[0].urn
        label = "" if b.bucket is not None else f"bucket {key}: "
        flags = _blocked(b.blocks + account)
        acl_sources = ([b.bucket] if b.bucket is not None else []) + b.acls
        if flags["blockPublicAcls"] is False and flags["ignorePublicAcls"] is False and not _acls_disabled(b):
            for r in acl_sources:
                public = _public_acl(r)
                if public:
                    yield urn, f"{label}{r.name} grants public access through {public}"
        if flags["blockPublicPolicy"] is False and flags["restrictPublicBuckets"] is False:
            for r in ([b.bucket] if b.bucket is not None else []) + b.policies:
                for stmt in _public_statements(r):
                    yield urn, f"{label}{r.name} policy {stmt} allows principal '*' with no condition"
        if cfg.get("requirePublicAccessBlock", True):
            off = [f for f in _FLAGS if flags[f] is False]
            if not b.blocks and not account:
                yield urn, (f"{label}no BucketPublicAccessBlock (or account-level block) keeps public access "
                            f"blocked")
            elif off:
                yield urn, f"{label}public access block leaves {', '.join(off)} off"


@resource_rule(
    name="security-encryption-at-rest",
    concern="security",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.ADVISORY,
    types=frozenset({t.SNS_TOPIC, t.SQS_QUEUE, t.NATIVE_SNS_TOPIC, t.NATIVE_SQS_QUEUE}),
    description="SNS topics set kmsMasterKeyId (server-side encryption); SQS queues keep SSE: kmsMasterKeyId, or "
                "SQS-managed SSE, which AWS enables on new queues unless sqsManagedSseEnabled is false.",
    remediation="Set kmsMasterKeyId (a customer managed key when AWS services publish to the topic, since they "
                "cannot use alias/aws/sns), or leave sqsManagedSseEnabled on.",
)
def encryption_at_rest(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    p = r.props
    if p.get("kmsMasterKeyId"):
        return
    if r.type in (t.SNS_TOPIC, t.NATIVE_SNS_TOPIC):
        yield "kmsMasterKeyId is not set: messages are stored unencrypted by KMS"
    elif p.get("sqsManagedSseEnabled") is False:
        yield "sqsManagedSseEnabled is false and no kmsMasterKeyId: messages are stored unencrypted"
