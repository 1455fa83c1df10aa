"""Cost caps on capacity that is declared in one resource and grown in others: table replicas,
autoscaling maxima, always-on tasks and provisioned concurrency, and log groups Lambda would
otherwise create itself (with no retention)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

from .. import awstypes as t
from ..links import Links, items, mapping
from ..model import Enforcement, Resource, Severity, known, num, resource_rule, stack_rule
from ..pricing import bad_quantity


def _over(label: str, value: Any, cap: Any) -> Optional[str]:
    """Why `value` breaks `cap` (None when it does not); NaN and other non-numbers break every cap."""
    problem = bad_quantity(value)
    if problem:
        return f"{label} {problem}"
    if value > cap:
        return f"{label} {_short(value)} exceeds the cap of {num(cap)}"
    return None


def _short(value: Any) -> str:
    text = num(value)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} digits)"


def scaling_targets(resources: Sequence[Resource], namespace: str) -> list[Resource]:
    return [r for r in resources if r.type == t.APPAUTOSCALING_TARGET
            and known(lambda: r.props.get("serviceNamespace")) == namespace]


# ---------------------------------------------------------------------------------------------
# DynamoDB: a table with all its replicas and autoscaling targets


def _table_replicas(resources: Sequence[Resource], links: Links) -> dict[str, list[Resource]]:
    """Table URN (or the literal table ARN for tables outside the stack) -> its TableReplica resources."""
    out: dict[str, list[Resource]] = {}
    for r in resources:
        if r.type == t.DYNAMODB_TABLE_REPLICA:
            _, key = links.owner_key(r, "globalTableArn", (t.DYNAMODB_TABLE,))
            out.setdefault(key, []).append(r)
    return out


@stack_rule(
    name="cost-dynamodb-capacity",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    description="Each DynamoDB table is judged with its replicas and autoscaling targets: provisioned RCU/WCU of "
                "the table and every GSI, and the maxCapacity of every dynamodb autoscaling target, within the "
                "caps; replicas (inline `replicas` plus TableReplica resources naming the table) within "
                "maxReplicas. A capacity that is not a finite number is a finding.",
    remediation="Use PAY_PER_REQUEST, lower read/write capacity or autoscaling maxima, or drop replicas; raise caps "
                "per stack in its pack config.",
    config={
        "maxReadCapacity": {"type": "integer", "minimum": 1, "default": 25, "description": "RCU cap per table/GSI."},
        "maxWriteCapacity": {"type": "integer", "minimum": 1, "default": 25, "description": "WCU cap per table/GSI."},
        "maxReplicas": {"type": "integer", "minimum": 0, "default": 1, "description": "Replica regions cap."},
    },
)
def dynamodb_capacity(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    links = Links(resources)
    caps = {"read": cfg.get("maxReadCapacity", 25), "write": cfg.get("maxWriteCapacity", 25)}
    replicas = _table_replicas(resources, links)
    max_replicas = cfg.get("maxReplicas", 1)
    for table in (r for r in resources if r.type == t.DYNAMODB_TABLE):
        for problem in known(lambda: list(_table_problems(table, caps)), []):
            yield table.urn, problem
        inline = known(lambda: items(table.props.get("replicas")))
        separate = replicas.pop(table.urn, [])
        count = (len(inline) if inline is not None else 0) + len(separate)
        if count > max_replicas:
            names = ", ".join(r.name for r in separate)
            detail = f" ({len(inline or [])} inline, {len(separate)} TableReplica: {names})" if separate else ""
            yield table.urn, f"{count} replicas{detail} exceed the cap of {num(max_replicas)}"
    for key, separate in replicas.items():  # replicas of a table declared elsewhere
        if len(separate) > max_replicas:
            yield separate[0].urn, (f"{len(separate)} TableReplica resources for {key} exceed the cap of "
                                    f"{num(max_replicas)}")
    for target in scaling_targets(resources, "dynamodb"):
        problem = known(lambda: _scaling_problem(target, caps))
        if problem:
            yield target.urn, problem


def _table_problems(table: Resource, caps: Mapping[str, Any]) -> Iterator[str]:
    p = table.props
    if (p.get("billingMode") or "PROVISIONED") != "PROVISIONED":
        return
    targets = [("table", p)] + [(f"GSI {g.get('name')}", g) for g in items(p.get("globalSecondaryIndexes"))]
    for label, item in targets:
        for prop, kind in (("readCapacity", "read"), ("writeCapacity", "write")):
            problem = _over(f"{label} {prop}", item.get(prop) or 0, caps[kind])
            if problem:
                yield problem


def _scaling_problem(target: Resource, caps: Mapping[str, Any]) -> Optional[str]:
    p = target.props
    dimension = str(p.get("scalableDimension") or "")
    kind = "read" if dimension.endswith("ReadCapacityUnits") else "write" if dimension.endswith("WriteCapacityUnits") else None
    if kind is None:
        return None
    return _over(f"autoscaling {p.get('resourceId')} {dimension} maxCapacity", p.get("maxCapacity"), caps[kind])


# ---------------------------------------------------------------------------------------------
# Always-on tasks and provisioned concurrency


@resource_rule(
    name="cost-ecs-service-tasks",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    types=frozenset({t.ECS_SERVICE, t.APPAUTOSCALING_TARGET}),
    description="ECS services keep at most `maxDesiredCount` tasks running: desiredCount, and the maxCapacity of "
                "every ecs:service:DesiredCount autoscaling target (a non-finite number is a finding).",
    remediation="Lower desiredCount / the autoscaling maxCapacity, or raise maxDesiredCount in the stack's pack config.",
    config={
        "maxDesiredCount": {"type": "integer", "minimum": 0, "default": 2,
                            "description": "Most tasks a service may keep running (desiredCount, autoscaling max)."},
    },
)
def ecs_service_tasks(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    cap = cfg.get("maxDesiredCount", 2)
    p = r.props
    if r.type == t.ECS_SERVICE:
        if p.get("schedulingStrategy") == "DAEMON":
            yield "schedulingStrategy DAEMON runs a task on every container instance: no task cap applies"
            return
        problem = _over("desiredCount", p.get("desiredCount") or 0, cap)
    elif p.get("scalableDimension") == "ecs:service:DesiredCount":
        problem = _over(f"autoscaling {p.get('resourceId')} maxCapacity", p.get("maxCapacity"), cap)
    else:
        return
    if problem:
        yield problem


@resource_rule(
    name="cost-lambda-provisioned-concurrency",
    concern="cost",
    severity=Severity.MEDIUM,
    enforcement=Enforcement.MANDATORY,
    types=frozenset({t.LAMBDA_PROVISIONED_CONCURRENCY, t.APPAUTOSCALING_TARGET}),
    description="Provisioned concurrency (billed every hour whether used or not) stays within "
                "`maxProvisionedConcurrency`: ProvisionedConcurrencyConfig and the maxCapacity of every "
                "lambda:function:ProvisionedConcurrency autoscaling target.",
    remediation="Drop provisioned concurrency (on-demand Lambda has no standing charge) or raise the cap in the "
                "stack's pack config.",
    config={
        "maxProvisionedConcurrency": {"type": "integer", "minimum": 0, "default": 0,
                                      "description": "Most provisioned concurrent executions per function alias."},
    },
)
def lambda_provisioned_concurrency(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    cap = cfg.get("maxProvisionedConcurrency", 0)
    p = r.props
    if r.type == t.LAMBDA_PROVISIONED_CONCURRENCY:
        problem = _over("provisionedConcurrentExecutions", p.get("provisionedConcurrentExecutions"), cap)
    elif p.get("scalableDimension") == "lambda:function:ProvisionedConcurrency":
        problem = _over(f"autoscaling {p.get('resourceId')} maxCapacity", p.get("maxCapacity"), cap)
    else:
        return
    if problem:
        yield problem


# ---------------------------------------------------------------------------------------------
# Lambda log groups


@stack_rule(
    name="cost-lambda-log-group",
    concern="cost",
    severity=Severity.LOW,
    enforcement=Enforcement.MANDATORY,
    description="Every Lambda function logs to a LogGroup declared in the stack (so cost-log-retention judges its "
                "retention): the one named by loggingConfig.logGroup, else /aws/lambda/<function name>. Without "
                "one, Lambda creates the group itself on first invocation with no retention (kept forever).",
    remediation="Declare aws.cloudwatch.LogGroup with a retention and point loggingConfig.logGroup at it (or name it "
                "/aws/lambda/<function name>).",
)
def lambda_log_group(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[tuple[Optional[str], str]]:
    links = Links(resources)
    groups = [r for r in resources if r.type == t.LOG_GROUP]
    names = {n for n in (known(lambda: g.props.get("name")) for g in groups) if isinstance(n, str)}
    named_after = {urn for g in groups for urn in g.deps.get("name", ())}
    for fn in (r for r in resources if r.type == t.LAMBDA_FUNCTION):
        logging = mapping(known(lambda: fn.props.get("loggingConfig")))
        if logging is not None and "logGroup" in logging:
            if links.targets(fn, "loggingConfig", (t.LOG_GROUP,)):
                continue
            group = known(lambda: logging.get("logGroup") or "", None)
            if group is None or group in names:
                continue  # unknown during preview, or declared here
            if group:
                yield fn.urn, (f"loggingConfig.logGroup {group!r} is not declared in this stack, so its retention "
                               f"is not checked")
                continue
        if fn.urn in named_after:
            continue  # a LogGroup named after this function (/aws/lambda/<name> computed from it)
        name = known(lambda: fn.props.get("name") or "", None)
        if name is None or (name and f"/aws/lambda/{name}" in names):
            continue
        shown = f"/aws/lambda/{name}" if name else "/aws/lambda/<function name>"
        yield fn.urn, (f"no LogGroup in the stack for {shown}: Lambda creates it on first invocation with no "
                       f"retention, so its logs are kept (and billed) forever")
