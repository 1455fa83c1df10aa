"""Session model shared by the service and its mixins: statuses, the API's Session shape, ids,
timestamps and the small pure helpers."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import errors
from .observability import log


PROVISIONING = "PROVISIONING"
RUNNING = "RUNNING"
STOPPING = "STOPPING"
STOPPED = "STOPPED"
INTERRUPTED = "INTERRUPTED"
FAILED = "FAILED"
STATUSES = (PROVISIONING, RUNNING, STOPPING, STOPPED, INTERRUPTED, FAILED)

ADMIN_GROUP = "ADMIN"
QUOTA_PREFIX = "quota#"
# A start or restart that has not recorded its task after this long has crashed (Lambda's
# maximum timeout is 15 minutes); the reaper then closes it.
LAUNCH_GRACE_SECONDS = 15 * 60
# getSession heartbeats refresh lastActivityAt at most this often (one write per minute).
ACTIVITY_WRITE_INTERVAL_SECONDS = 60
_SESSION_NAMESPACE = uuid.UUID("4f3c8a52-7d0e-5b8e-9a57-2c1e6d3b9f10")
_SESSION_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_POLICY_ARN_IN_TEXT_RE = re.compile(r"arn:aws[a-z-]*:(?:iam|organizations)::\d{12}:policy/")
# An ECS task role's STS session: assumed-role/<role>/<task id> (32 hex digits; UUID form too).
_TASK_ROLE_SESSION_RE = re.compile(
    r"^arn:aws[a-z-]*:sts::(?P<account>\d{12}):assumed-role/(?P<role>[\w+=,.@-]{1,64})/(?P<task>[0-9a-f]{32}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$")
_RESTART_TOKEN_NAMESPACE = uuid.UUID("b6f1d0a4-3c55-5e1f-8d2a-7e90c4f1a263")
_START_FIELDS = ("idempotencyToken", "repositoryUrl", "sizePreset")
_LIST_FIELDS = ("all", "limit", "nextToken", "owner", "status")
# Exactly the GraphQL Session type (and SessionUpdateInput) of app/graphql/schema.graphql; the
# publisher selects all of them (tests/sessions/test_sessions_publisher.py keeps them in step).
SESSION_FIELDS = (
    "id", "owner", "status", "taskArn", "capacityProvider", "editorUrl", "sizePreset", "repositoryUrl",
    "createdAt", "updatedAt", "startedAt", "stoppedAt", "expiresAt", "failureReason", "stopReason",
    "interruptions",
)
# Item attributes holding a session's load-balancer routing (private editor access).
ROUTE_ATTRIBUTES = ("targetGroupArn", "listenerRuleArn")
BUDGET_MESSAGE = (
    "budget limit reached: new sessions are paused until the budget resets or an administrator "
    "lifts the budget action"
)
BUDGET_RESTART_STOP_REASON = (
    "budget limit reached: Fargate Spot reclaimed this session's capacity and the budget action "
    "does not allow restarting it; start a new session when the budget resets"
)


@dataclass(frozen=True)
class Caller:
    sub: str
    groups: tuple[str, ...] = ()
    email: str | None = None  # the ID token's verified address: the session's Git identity

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def session_id_for(owner: str, token: str) -> str:
    """Deterministic id for (owner, idempotency token): a retried start collides on the Put."""
    return str(uuid.uuid5(_SESSION_NAMESPACE, f"{owner}\n{token}"))


def is_session_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_SESSION_ID_RE.match(value))


def single_provider_plan(provider: str) -> tuple[dict[str, Any], ...]:
    """A RunTask strategy that launches on exactly this provider. The per-session choice (base, then
    weights) is made by the runtime; ECS would apply a base per RunTask call, i.e. to every session."""
    return ({"capacityProvider": provider, "weight": 1, "base": 0},)


def restart_client_token(session_id: str, interruptions: int) -> str:
    """RunTask clientToken of a session's n-th restart: a retried restart (a redelivered event after
    a crash) repeats the same launch, which ECS answers with the task it already started."""
    return uuid.uuid5(_RESTART_TOKEN_NAMESPACE, f"{session_id}\nrestart\n{interruptions}").hex


def session_view(item: dict[str, Any]) -> dict[str, Any]:
    """The API's Session shape; bookkeeping attributes (quotaHeld, cpu, privateIp, ...) stay inside."""
    return {field: item.get(field) for field in SESSION_FIELDS}


class _LaunchError(Exception):
    def __init__(self, kind: str, user_error: errors.SessionError, uncertain: bool = False):
        super().__init__(str(user_error))
        self.kind = kind
        self.user_error = user_error
        self.uncertain = uncertain  # RunTask may have launched a task we never heard about


_ARN_IN_TEXT_RE = re.compile(r"arn:aws[a-z-]*:[^\s\"',;)]+")


_ACCOUNT_IN_TEXT_RE = re.compile(r"(?<!\d)\d{12}(?!\d)")


def user_reason(ecs_reason: str, sid: str) -> str:
    """ECS's stoppedReason as users may see it: ARNs and account ids removed (the raw text is logged)."""
    cleaned = _ACCOUNT_IN_TEXT_RE.sub("<account>", _ARN_IN_TEXT_RE.sub("<resource>", ecs_reason))
    if cleaned != ecs_reason:
        log("INFO", "stopped_reason_redacted", sessionId=sid, stoppedReason=ecs_reason[:1000])
    return cleaned[:500]


def _is_capacity(text: str) -> bool:
    lowered = text.lower()
    return "capacity" in lowered or lowered.startswith("resource:")


def _network_details(task: dict[str, Any]) -> dict[str, str]:
    """ENI details from an event's or DescribeTasks' attachments (type 'eni' vs 'ElasticNetworkInterface')."""
    for attachment in task.get("attachments") or []:
        details = {d.get("name"): d.get("value") for d in attachment.get("details") or []}
        if details.get("networkInterfaceId"):
            return details
    return {}
