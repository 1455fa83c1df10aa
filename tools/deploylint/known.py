"""Constraints AWS enforces at deploy time that botocore's service models do not encode: the one table.

Each row names the resource types it applies to, the constraint, where AWS documents it, and a small
check over the resource's inputs. Where the stack config enforces the same rule before any resource
is declared (retention values, Fargate sizes, stop timeout, alarm windows), the values come from
``components/config.py`` so there is exactly one copy of each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Optional

import regex

from components.config import (ALARM_MAX_WINDOW_SECONDS, ALARM_MAX_WINDOW_SHORT_PERIOD_SECONDS,
                               FARGATE_MAX_STOP_TIMEOUT_SECONDS, LOG_RETENTION_DAYS, fargate_size_error)

# Pulumi's auto-name: the logical name, "-", seven hex characters.
AUTONAME_SUFFIX = 8

# (property path, value, message)
Hit = tuple[str, Any, str]


@dataclass(frozen=True)
class Known:
    kind: str
    types: frozenset
    constraint: str
    source: str
    check: Callable[[Mapping[str, Any], str], Iterator[Hit]]


@dataclass(frozen=True)
class NameRule:
    max_length: int
    pattern: Optional[str]
    source: str


# Physical names whose real limit the model does not state (or states for ARNs too).
NAME_RULES: Mapping[str, NameRule] = {
    "aws:lambda/function:Function": NameRule(64, r"[a-zA-Z0-9_-]+", "Lambda CreateFunction: a function name is 1-64 characters (the model's 140 counts ARNs)"),
    "aws:lb/loadBalancer:LoadBalancer": NameRule(32, r"(?!internal-)[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?", "ELBv2 CreateLoadBalancer: at most 32 alphanumerics or hyphens, not starting or ending with a hyphen"),
    "aws:sqs/queue:Queue": NameRule(80, r"[a-zA-Z0-9_-]+(\.fifo)?", "SQS CreateQueue: up to 80 alphanumerics, hyphens and underscores"),
    "aws:sns/topic:Topic": NameRule(256, r"[a-zA-Z0-9_-]+(\.fifo)?", "SNS CreateTopic: up to 256 alphanumerics, hyphens and underscores"),
    "aws:ec2/securityGroup:SecurityGroup": NameRule(255, None, "EC2 CreateSecurityGroup: up to 255 characters"),
    "aws:secretsmanager/secret:Secret": NameRule(512, None, "Secrets Manager CreateSecret: up to 512 characters"),
}


def name_hits(type_: str, name: str, auto: bool) -> Iterator[tuple[str, str, str]]:
    """(kind, message, source) for a physical name that breaks the type's NAME_RULES row."""
    rule = NAME_RULES.get(type_)
    if rule is None:
        return
    how = f" (Pulumi's auto-name adds {AUTONAME_SUFFIX} characters)" if auto else ""
    if len(name) > rule.max_length:
        yield "name-length", f"name is {len(name)} characters, at most {rule.max_length}{how}", rule.source
    if rule.pattern and not regex.fullmatch(rule.pattern, name):
        yield "name-pattern", f"name must match {rule.pattern}{how}", rule.source


def _retention(props, _type) -> Iterator[Hit]:
    days = props.get("retentionInDays")
    if days is not None and days not in LOG_RETENTION_DAYS:
        yield "retentionInDays", days, f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}"


def _fargate_size(props, _type) -> Iterator[Hit]:
    if "FARGATE" not in (props.get("requiresCompatibilities") or []):
        return
    try:
        cpu, memory = int(props.get("cpu")), int(props.get("memory"))
    except (TypeError, ValueError):
        yield "cpu", props.get("cpu"), "a Fargate task needs task-level cpu and memory as whole numbers"
        return
    err = fargate_size_error(cpu, memory)
    if err:
        yield "memory", f"{cpu}/{memory}", err


def _containers(props) -> list:
    try:
        value = json.loads(props.get("containerDefinitions") or "[]")
    except (TypeError, ValueError):
        return []
    return value if isinstance(value, list) else []


def _stop_timeout(props, _type) -> Iterator[Hit]:
    if "FARGATE" not in (props.get("requiresCompatibilities") or []):
        return
    for i, c in enumerate(_containers(props)):
        timeout = c.get("stopTimeout") if isinstance(c, dict) else None
        if timeout is not None and timeout > FARGATE_MAX_STOP_TIMEOUT_SECONDS:
            yield (f"containerDefinitions[{i}].stopTimeout", timeout,
                   f"at most {FARGATE_MAX_STOP_TIMEOUT_SECONDS} s on Fargate")


def _alarm_window(props, _type) -> Iterator[Hit]:
    period, evaluations = props.get("period"), props.get("evaluationPeriods")
    if not isinstance(period, (int, float)) or not isinstance(evaluations, (int, float)):
        return
    cap = ALARM_MAX_WINDOW_SHORT_PERIOD_SECONDS if period < 3600 else ALARM_MAX_WINDOW_SECONDS
    if period * evaluations > cap:
        yield "evaluationPeriods", evaluations, f"x period {period:g} s is {period * evaluations:g} s, at most {cap} s"


def _range(prop: str, lo: int, hi: int, unit: str) -> Callable:
    def check(props, _type) -> Iterator[Hit]:
        value = props.get(prop)
        if isinstance(value, (int, float)) and not lo <= value <= hi:
            yield prop, value, f"must be between {lo} and {hi} {unit}"
    return check


KNOWN: tuple[Known, ...] = (
    Known("retention-values", frozenset({"aws:cloudwatch/logGroup:LogGroup"}),
          "CloudWatch Logs retention days from a fixed list",
          "CloudWatch Logs PutRetentionPolicy: retentionInDays 'Possible values are ...'", _retention),
    Known("fargate-size", frozenset({"aws:ecs/taskDefinition:TaskDefinition"}),
          "Fargate task cpu/memory pair", "Amazon ECS: task CPU and memory for tasks on Fargate", _fargate_size),
    Known("fargate-stop-timeout", frozenset({"aws:ecs/taskDefinition:TaskDefinition"}),
          f"container stopTimeout at most {FARGATE_MAX_STOP_TIMEOUT_SECONDS} s on Fargate",
          "Amazon ECS container definition stopTimeout: 'the max stop timeout value is 120 seconds' (Fargate)",
          _stop_timeout),
    Known("alarm-window", frozenset({"aws:cloudwatch/metricAlarm:MetricAlarm"}),
          "period x evaluationPeriods at most one day (periods under an hour) or seven days",
          "CloudWatch PutMetricAlarm: EvaluationPeriods x Period", _alarm_window),
    Known("sqs-retention", frozenset({"aws:sqs/queue:Queue"}), "message retention 60 s to 14 days",
          "SQS SetQueueAttributes: MessageRetentionPeriod 60-1209600", _range("messageRetentionSeconds", 60, 1209600, "seconds")),
    Known("sqs-visibility", frozenset({"aws:sqs/queue:Queue"}), "visibility timeout 0 s to 12 hours",
          "SQS SetQueueAttributes: VisibilityTimeout 0-43200", _range("visibilityTimeoutSeconds", 0, 43200, "seconds")),
    Known("alb-idle-timeout", frozenset({"aws:lb/loadBalancer:LoadBalancer"}), "idle timeout 1-4000 s",
          "ELBv2 load balancer attribute idle_timeout.timeout_seconds: 1-4000", _range("idleTimeout", 1, 4000, "seconds")),
)
