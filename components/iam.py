"""The one IAM policy-document builder, shared by components and tests.

Components describe grants as ``Statement`` values whose resources may be Pulumi Outputs; ``document``
turns them into the JSON string IAM wants once every ARN is known. Tests parse the same JSON back with
``statements`` so they assert on what AWS would receive, not on our own objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import pulumi

Input = Union[str, pulumi.Output]


@dataclass(frozen=True)
class Statement:
    actions: Sequence[str]
    resources: Sequence[Input] = ()
    effect: str = "Allow"
    # {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}; values may be Outputs.
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    principals: Optional[Mapping[str, Any]] = None  # resource and trust policies only
    sid: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError("an IAM statement needs at least one action")
        if self.effect not in ("Allow", "Deny"):
            raise ValueError(f"IAM effect must be Allow or Deny, got {self.effect!r}")
        if self.principals is None and not self.resources:
            raise ValueError(f"statement {self.sid or self.actions[0]} names no resource")


def _plain(stmt: Statement, resources: list, conditions: dict) -> dict:
    out: dict[str, Any] = {}
    if stmt.sid:
        out["Sid"] = stmt.sid
    out["Effect"] = stmt.effect
    if stmt.principals is not None:
        out["Principal"] = stmt.principals
    out["Action"] = sorted(set(stmt.actions)) if len(stmt.actions) > 1 else stmt.actions[0]
    if resources:
        uniq = sorted(set(resources))
        out["Resource"] = uniq if len(uniq) > 1 else uniq[0]
    if conditions:
        out["Condition"] = conditions
    return out


def document(statements: Iterable[Statement]) -> pulumi.Output[str]:
    """A policy document as a JSON string, resolved once every resource and condition value is known."""
    stmts = list(statements)
    parts = [
        pulumi.Output.all(list(s.resources), dict(s.conditions)).apply(
            lambda rc, s=s: _plain(s, rc[0], rc[1])
        )
        for s in stmts
    ]
    return pulumi.Output.all(*parts).apply(
        lambda ps: json.dumps({"Version": "2012-10-17", "Statement": list(ps)}, sort_keys=False)
    )


def trust_policy(service: str, source_account: Optional[Input] = None,
                 source_arn: Optional[Input] = None) -> pulumi.Output[str]:
    """Who may assume a role: one AWS service, optionally pinned to our account / a source ARN
    (the confused-deputy guard AWS recommends for service principals)."""
    conditions: dict[str, dict] = {}
    if source_account is not None:
        conditions["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return document([Statement(actions=["sts:AssumeRole"], principals={"Service": service},
                               conditions=conditions)])


# ---------------------------------------------------------------------------------------------
# Links: least-privilege grants on exactly the linked resources (stelvio's idea).
# ---------------------------------------------------------------------------------------------
DYNAMODB_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
DYNAMODB_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")


def dynamodb_link(table_arn: Input, actions: Sequence[str], indexes: bool = False, sid: Optional[str] = None) -> list[Statement]:
    """Grant ``actions`` on one table, and on its indexes only when asked (Query on a GSI needs it)."""
    stmts = [Statement(actions=list(actions), resources=[table_arn], sid=sid)]
    if indexes:
        index_actions = [a for a in actions if a in ("dynamodb:Query", "dynamodb:Scan")]
        if index_actions:
            stmts.append(Statement(actions=index_actions,
                                   resources=[pulumi.Output.concat(table_arn, "/index/*")],
                                   sid=f"{sid}Indexes" if sid else None))
    return stmts


def log_group_link(log_group_arn: Input) -> list[Statement]:
    """Write to one log group's streams (what a Lambda or a task execution role needs)."""
    return [Statement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[pulumi.Output.concat(log_group_arn, ":log-stream:*")], sid="WriteOwnLogs")]


# X-Ray accepts no resource-level permissions: "*" is the only valid resource for these two.
XRAY_WRITE = Statement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"],
                       sid="XRayWrite")


# ---------------------------------------------------------------------------------------------
# Reading documents back (tests, and anyone who wants to check what was granted).
# ---------------------------------------------------------------------------------------------
def statements(doc: Union[str, Mapping[str, Any]]) -> list[dict]:
    """Normalised statements of a policy document: Action/Resource always lists."""
    data = json.loads(doc) if isinstance(doc, str) else dict(doc)
    raw = data.get("Statement", [])
    raw = [raw] if isinstance(raw, Mapping) else list(raw)
    out = []
    for s in raw:
        s = dict(s)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in s and isinstance(s[key], str):
                s[key] = [s[key]]
        out.append(s)
    return out
