"""Session lifecycle core, independent of Lambda/AppSync/EventBridge event shapes.

Invariants the code keeps (every write below is conditional on the state it was decided on):
- A session holds one unit of its owner's quota exactly while its item has `quotaHeld`. The
  quota item `quota#<owner>` keeps a counter `active` and the set `sessionIds` of holders; both
  change only in the same DynamoDB transaction as the session item, so N concurrent starts can
  never exceed MAX_SESSIONS_PER_USER and a release happens once however many of stop, the
  task-state event and the reaper race for it.
- The item exists before its task (Put, then RunTask with startedBy = session id), so a task whose
  session item is missing or closed is an orphan and gets stopped.
- Private editor access: a session is routed (target group + listener rule, their ARNs on the
  item) exactly while it is RUNNING. The routing is created before the item turns RUNNING, so the
  editor URL works when it is announced, and removed when the session leaves RUNNING; a routing
  whose session is not RUNNING (or that the item does not record) is an orphan the reaper deletes.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from . import errors
from .ddb import CONDITION_FAILED, Expr, error_code, from_item, to_item, transact
from .observability import log, metric
from .access import SessionAccess
from .routing import EditorRoutes, Route, RoutingCapacity, RoutingError, cognito_auth, editor_path
from .settings import ON_DEMAND_PROVIDER, Settings

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


class SessionService:
    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: Any,
        ecs: Any,
        ec2: Any = None,
        elb: Any = None,
        s3: Any = None,
        github: Any = None,
        publisher: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ):
        self._s = settings
        self._ddb = dynamodb
        self._ecs = ecs
        self._ec2 = ec2
        self._publisher = publisher
        self._routes = (EditorRoutes(elb, listener_arn=settings.listener_arn, vpc_id=settings.vpc_id,
                                     domain=settings.editor_domain, port=settings.editor_port,
                                     auth=cognito_auth(settings.user_pool_arn, settings.user_pool_client_id,
                                                       settings.user_pool_domain))
                        if settings.editor_access == "private" else None)
        self._access = SessionAccess(settings, s3=s3, github=github)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng  # uniform in [0, 1): the weighted capacity-provider choice

    # ------------------------------------------------------------------ API operations

    def start(self, caller: Caller, request: Any) -> dict[str, Any]:
        preset, repository_url, token = self._parse_start(request)
        self._access.repository(repository_url)  # a URL on the App's host must name one repository
        owner = caller.sub
        sid = session_id_for(owner, token) if token else str(uuid.uuid4())
        now = self._clock()
        item = {
            "id": sid,
            "owner": owner,
            "status": PROVISIONING,
            "sizePreset": preset.name,
            "cpu": preset.cpu,
            "memory": preset.memory,
            "repositoryUrl": repository_url,
            "idempotencyToken": token,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "lastActivityAt": iso(now),
            "expiresAt": int(now) + self._s.session_ttl_hours * 3600,
            "quotaHeld": True,
            "interruptions": 0,
        }
        if caller.email:
            item["ownerEmail"] = caller.email
        password = self._access.new_password()
        if password is not None:
            item["passwordHash"] = password[1]  # the password itself is never stored
        existing = self._acquire(item)
        if existing is not None:
            if (existing.get("owner"), existing.get("sizePreset"), existing.get("repositoryUrl")) != (
                owner, preset.name, repository_url,
            ):
                raise errors.IdempotencyConflict(
                    f"idempotencyToken {token!r} was already used for a start request with a different "
                    "sizePreset or repositoryUrl; use a new token for a new session"
                )
            log("INFO", "session_start_replayed", sessionId=sid, owner=owner, status=existing["status"])
            return session_view(existing)
        log("INFO", "session_created", sessionId=sid, owner=owner, sizePreset=preset.name)

        plans = self._start_plans(sid)
        try:
            env_files = self._access.environment_files(item, 0)
        except Exception as exc:
            # Nothing launched yet: give the quota unit back and report why (a SessionError as is).
            self._rollback_start(sid, owner)
            log("WARN", "session_credentials_failed", sessionId=sid, owner=owner, error=f"{type(exc).__name__}: {exc}")
            raise
        try:
            task, provider = self._launch(item, plans, env_files=env_files)
        except _LaunchError as failure:
            if failure.uncertain:
                self._stop_tasks_started_by(sid, "session start failed")
            self._rollback_start(sid, owner)
            metric("SessionFailed", self._s.cluster_name, sessionId=sid, reason=failure.kind, stage="start")
            log("WARN", "session_start_failed", sessionId=sid, owner=owner, reason=failure.kind, message=str(failure))
            raise failure.user_error from None
        except Exception:
            # Unknown outcome: leave neither an item nor a task behind (the reaper retries both).
            self._stop_tasks_started_by(sid, "session start failed")
            self._rollback_start(sid, owner)
            metric("SessionFailed", self._s.cluster_name, sessionId=sid, reason="internal", stage="start")
            raise
        recorded = self._record_launch(item, task, provider)
        self._announce(recorded)  # subscribers see PROVISIONING too, not only later states
        view = session_view(recorded)
        if password is not None:
            view["editorPassword"] = password[0]  # this answer only, to the owner who started it
        return view

    def get(self, caller: Caller, session_id: Any) -> dict[str, Any] | None:
        """The session, or None (GraphQL null) when it does not exist or is someone else's."""
        item = self._get_visible(caller, self._require_id(session_id))
        if item is None:
            return None
        if item["owner"] == caller.sub and item["status"] == RUNNING:
            item = self._touch(item)
        return session_view(item)

    def list(self, caller: Caller, args: Any) -> dict[str, Any]:
        args = self._require_object(args, "arguments", _LIST_FIELDS)
        limit = args.get("limit")
        if limit is None:
            limit = 20
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise errors.ValidationError(f"limit must be an integer from 1 to 100, got {limit!r}")
        status = args.get("status")
        if status is not None and status not in STATUSES:
            raise errors.ValidationError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        list_all = args.get("all")
        if list_all is not None and not isinstance(list_all, bool):
            raise errors.ValidationError("all must be true or false")
        owner = args.get("owner")
        if owner is not None and (not isinstance(owner, str) or not owner):
            raise errors.ValidationError("owner must be a user id")
        if (list_all or (owner is not None and owner != caller.sub)) and not caller.is_admin:
            raise errors.Forbidden("only members of the ADMIN group can list other users' sessions")
        if list_all and owner is not None:
            raise errors.ValidationError("pass either owner or all, not both")

        e = Expr()
        params: dict[str, Any] = {"TableName": self._s.sessions_table, "Limit": limit}
        if list_all:
            if status is not None:
                mode, key_attrs, call = "status", ("id", "status", "updatedAt"), self._ddb.query
                params.update(IndexName="byStatus", ScanIndexForward=False,
                              KeyConditionExpression=f"{e.n('status')} = {e.v(status)}")
                key_values = {"status": status}
            else:
                mode, key_attrs, call = "all", ("id",), self._ddb.scan
                params["FilterExpression"] = f"attribute_exists({e.n('owner')})"
                key_values = {}
        else:
            owner = owner or caller.sub
            mode, key_attrs, call = "owner", ("id", "owner", "createdAt"), self._ddb.query
            params.update(IndexName="byOwner", ScanIndexForward=False,
                          KeyConditionExpression=f"{e.n('owner')} = {e.v(owner)}")
            if status is not None:
                params["FilterExpression"] = f"{e.n('status')} = {e.v(status)}"
            key_values = {"owner": owner}
        # DynamoDB deletes expired items days late: an item past expiresAt is gone for the API.
        live = f"{e.n('expiresAt')} > {e.v(int(self._clock()))}"
        params["FilterExpression"] = f"({params['FilterExpression']}) AND {live}" if "FilterExpression" in params else live
        params.update(e.params())
        token = args.get("nextToken")
        if token is not None:
            params["ExclusiveStartKey"] = _decode_token(token, mode, key_attrs, key_values)
        response = call(**params)
        items = [session_view(from_item(raw)) for raw in response.get("Items", [])]
        last_key = response.get("LastEvaluatedKey")
        return {"items": items, "nextToken": _encode_token(mode, last_key) if last_key else None}

    def stop(self, caller: Caller, session_id: Any) -> dict[str, Any]:
        sid = self._require_id(session_id)
        item = self._get_visible(caller, sid)
        if item is None:
            raise errors.SessionNotFound(f"session {sid} was not found")
        reason = "stopped by the owner" if item["owner"] == caller.sub else "stopped by an administrator"
        for _ in range(5):
            if not item.get("quotaHeld"):
                break  # already stopping or closed: stop is idempotent
            now = iso(self._clock())
            released = self._release(
                item,
                {"status": STOPPING, "stopRequestedAt": now, "stopReason": reason, "updatedAt": now},
                remove=("editorUrl",),
            )
            if released is not None:
                item = released
                log("INFO", "session_stopping", sessionId=sid, owner=item["owner"], by=caller.sub)
                self._announce(item)  # STOPPING reaches subscribers before the task's STOPPED event
                break
            item = self._get(sid)
            if item is None:
                raise errors.SessionNotFound(f"session {sid} was not found")
        else:
            raise errors.ServiceBusy("the session changed repeatedly while stopping it; try again")

        # Best effort: the STOPPED event and the reaper retry a removal that fails here.
        item = self._unroute(item, strict=False)
        if item["status"] == STOPPING:
            arn = item.get("taskArn")
            if arn is None:
                self._stop_tasks_started_by(sid, reason)
            elif self._stop_task(arn, reason) == "gone":
                item = self._close_stopping(item, "the container no longer exists") or item
        return session_view(item)

    def record_activity(self, caller_arn: Any, session_id: Any) -> bool:
        """reportSessionActivity: the session's own task says its IDE was used (app/session-image/
        activity-reporter.js). The caller must be the tasks' role with the task's id as its role
        session (ECS names task-role sessions after the task), and that task must be the session's
        current RUNNING one; the one attribute written is lastActivityAt, which the idle timeout reads."""
        forbidden = errors.Forbidden("only the session's own task may report its activity")
        match = _TASK_ROLE_SESSION_RE.match(caller_arn) if isinstance(caller_arn, str) else None
        if match is None or self._s.task_role_name is None or match.group("role") != self._s.task_role_name:
            raise forbidden
        sid = self._require_id(session_id)
        partition, region, account = self._s.cluster_arn.split(":")[1], self._s.cluster_arn.split(":")[3], match.group("account")
        task_arn = f"arn:{partition}:ecs:{region}:{account}:task/{self._s.cluster_name}/{match.group('task')}"
        e = Expr()
        update = e.update(set_={"lastActivityAt": iso(self._clock())})
        updated = self._update(sid, e, update, f"{e.n('status')} = {e.v(RUNNING)} AND {e.n('taskArn')} = {e.v(task_arn)}")
        if updated is None:
            raise forbidden
        return True

    # ------------------------------------------------------------------ ECS task events

    def handle_task_event(self, event: Any) -> dict[str, Any]:
        detail = event.get("detail") if isinstance(event, dict) else None
        if not isinstance(detail, dict) or event.get("detail-type") != "ECS Task State Change":
            return self._ignored("not an ECS Task State Change event")
        if detail.get("clusterArn") != self._s.cluster_arn:
            return self._ignored("task of another cluster", clusterArn=detail.get("clusterArn"))
        arn = detail.get("taskArn")
        sid = detail.get("startedBy")
        last, desired, stop_code = detail.get("lastStatus"), detail.get("desiredStatus"), detail.get("stopCode")
        if not arn or not is_session_id(sid):
            return self._ignored("task not started by the sessions service", taskArn=arn)

        item = self._get(sid)
        relation = self._relation(item, arn)
        if relation == "pending":
            if last == "RUNNING" and desired == "RUNNING" and self._is_our_family(detail.get("taskDefinitionArn")):
                # The replacement runs but its restart never recorded it (the handler died after
                # RunTask, or this event overtook the record): adopt it instead of dropping the event.
                return self._adopt_replacement(item, arn, detail)
            return self._ignored("replacement task of a restarting session", sessionId=sid, taskArn=arn)
        if relation == "other":
            if last != "STOPPED" and desired == "RUNNING" and self._is_our_family(detail.get("taskDefinitionArn")):
                self._stop_orphan(arn, sid, "no active session owns this task")
                return {"action": "stopped-orphan", "sessionId": sid}
            return self._ignored("not the session's current task", sessionId=sid, taskArn=arn)

        status = item["status"]
        if stop_code == "SpotInterruption" and status in (PROVISIONING, RUNNING) and item.get("quotaHeld"):
            return self._on_interruption(item, arn, task_stopped=last == "STOPPED")
        if (stop_code == "SpotInterruption" and status == INTERRUPTED and item.get("quotaHeld")
                and item.get("taskArn") == arn and self._s.restart_on_interruption):
            # Marked INTERRUPTED but the replacement never recorded: the handler died mid-restart
            # and this is the redelivery (or the task's later STOPPED event). Resume the launch.
            log("WARN", "session_restart_resumed", sessionId=sid, taskArn=arn, interruptions=item.get("interruptions"))
            return self._restart(item, arn)
        if last == "STOPPED":
            return self._on_task_stopped(item, arn, detail)
        if last == "RUNNING":
            if status == PROVISIONING:
                updated = self._mark_running(item, arn, detail, detail.get("capacityProviderName"))
                return {"action": updated["status"].lower() if updated else "unchanged", "sessionId": sid}
            if status != RUNNING and desired == "RUNNING":
                self._stop_task(arn, "the session is no longer active")
                return {"action": "stopped-task", "sessionId": sid}
        return self._ignored("no status change", sessionId=sid, lastStatus=last)

    # ------------------------------------------------------------------ reaper

    def reap(self) -> dict[str, int]:
        now = self._clock()
        counts: dict[str, int] = {}

        def count(key: str | None, amount: int = 1) -> None:
            if key:
                counts[key] = counts.get(key, 0) + amount

        items = list(self._active_items())
        metric("ActiveSessions", self._s.cluster_name, sum(1 for i in items if i["status"] in (PROVISIONING, RUNNING)))
        tasks = self._describe_tasks([i["taskArn"] for i in items if i.get("taskArn")])
        for item in items:
            try:
                count(self._reap_item(item, tasks, now))
            except Exception as exc:  # one bad item must not stop the sweep
                log("ERROR", "reap_item_failed", sessionId=item.get("id"), error=f"{type(exc).__name__}: {exc}")
                count("errors")
        for step in (self._reap_orphans, self._reap_routes, self._reconcile_quotas):
            try:
                for key, amount in step(items).items():
                    count(key, amount)
            except Exception as exc:
                log("ERROR", "reap_step_failed", step=step.__name__, error=f"{type(exc).__name__}: {exc}")
                count("errors")
        log("INFO", "reaper_finished", examined=len(items), **counts)
        if counts.get("errors"):
            raise RuntimeError(f"reaper finished with {counts['errors']} error(s); see reap_*_failed log lines")
        return counts

    # ------------------------------------------------------------------ validation helpers

    def _parse_start(self, request: Any) -> tuple[Any, str | None, str | None]:
        request = self._require_object(request, "input", _START_FIELDS)
        size = request.get("sizePreset")
        if size is None:
            size = self._s.default_size
        preset = self._s.preset(size) if isinstance(size, str) else None
        if preset is None:
            raise errors.ValidationError(f"sizePreset {size!r} is not allowed; choose one of: {', '.join(self._s.size_names)}")
        repository_url = request.get("repositoryUrl")
        if repository_url is not None:
            _validate_repository_url(repository_url)
        token = request.get("idempotencyToken")
        if token is not None and (not isinstance(token, str) or not _TOKEN_RE.match(token)):
            raise errors.ValidationError("idempotencyToken must be 1-64 characters: letters, digits, '.', '_', ':' or '-'")
        return preset, repository_url, token

    @staticmethod
    def _require_object(value: Any, what: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise errors.ValidationError(f"{what} must be an object with fields {', '.join(allowed)}")
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise errors.ValidationError(f"unknown {what} field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        return value

    @staticmethod
    def _require_id(value: Any) -> str:
        if not is_session_id(value):
            raise errors.ValidationError(f"id must be a session id (a lowercase UUID), got {value!r}")
        return value

    def _get_visible(self, caller: Caller, sid: str) -> dict[str, Any] | None:
        item = self._get(sid)
        if item is None or (item.get("owner") != caller.sub and not caller.is_admin):
            return None  # someone else's session is indistinguishable from a missing one
        if int(item.get("expiresAt") or 0) <= self._clock():
            return None  # past its TTL: DynamoDB deletes it days late, the API does not wait
        return item

    # ------------------------------------------------------------------ DynamoDB primitives

    def _key(self, sid: str) -> dict[str, Any]:
        return {"id": {"S": sid}}

    def _get(self, sid: str) -> dict[str, Any] | None:
        response = self._ddb.get_item(TableName=self._s.sessions_table, Key=self._key(sid), ConsistentRead=True)
        return from_item(response.get("Item"))

    def _update(self, sid: str, e: Expr, update: str, condition: str) -> dict[str, Any] | None:
        """Conditional single-item update; the new item, or None when the condition failed."""
        for attempt in range(4):
            try:
                response = self._ddb.update_item(
                    TableName=self._s.sessions_table,
                    Key=self._key(sid),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ReturnValues="ALL_NEW",
                    **e.params(),
                )
                return from_item(response["Attributes"])
            except ClientError as exc:
                code = error_code(exc)
                if code == "ConditionalCheckFailedException":
                    return None
                # A transaction in flight on the same item (the quota release) rejects plain writes.
                if code != "TransactionConflictException" or attempt == 3:
                    raise
                self._sleep(0.05 * (attempt + 1))
        return None  # pragma: no cover

    def _quota_release(self, owner: str, sid: str) -> dict[str, Any]:
        e = Expr()
        update = e.update(add={"active": -1}, delete={"sessionIds": {sid}})
        condition = f"contains({e.n('sessionIds')}, {e.v(sid)}) AND {e.n('active')} > {e.v(0)}"
        return {"Update": {"TableName": self._s.sessions_table, "Key": self._key(QUOTA_PREFIX + owner),
                           "UpdateExpression": update, "ConditionExpression": condition, **e.params()}}

    def _acquire(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Put the session and take a quota unit atomically. None when created, else the
        existing session with this id (an idempotent retry)."""
        sid, owner = item["id"], item["owner"]
        pe = Expr()
        put = {"Put": {"TableName": self._s.sessions_table, "Item": to_item(item),
                       "ConditionExpression": f"attribute_not_exists({pe.n('id')})", **pe.params()}}
        qe = Expr()
        update = qe.update(add={"active": 1, "sessionIds": {sid}})
        active = qe.n("active")
        condition = (f"(attribute_not_exists({active}) OR {active} < {qe.v(self._s.max_sessions_per_user)}) "
                     f"AND NOT contains({qe.n('sessionIds')}, {qe.v(sid)})")
        quota = {"Update": {"TableName": self._s.sessions_table, "Key": self._key(QUOTA_PREFIX + owner),
                            "UpdateExpression": update, "ConditionExpression": condition, **qe.params()}}
        for _ in range(3):
            try:
                reasons = transact(self._ddb, [put, quota], sleep=self._sleep)
            except ClientError as exc:
                if self._is_budget_deny(exc):
                    raise errors.BudgetLimitReached(BUDGET_MESSAGE) from None
                raise
            if reasons is None:
                return None
            if reasons[0] == CONDITION_FAILED:
                existing = self._get(sid)
                if existing is not None:
                    return existing
                continue  # a failed attempt with this token was rolled back meanwhile: try again
            if len(reasons) > 1 and reasons[1] == CONDITION_FAILED:
                limit = self._s.max_sessions_per_user
                raise errors.QuotaExceeded(
                    f"session limit reached: you already have {limit} active session{'s' if limit != 1 else ''}, "
                    "the maximum; stop one before starting another"
                )
            break
        raise errors.ServiceBusy("too many concurrent requests for your sessions; try again in a moment")

    def _release(
        self,
        item: dict[str, Any],
        set_: dict[str, Any],
        *,
        remove: Iterable[str] = (),
        expect_task: str | None = None,
    ) -> dict[str, Any] | None:
        """Apply a transition that gives the quota unit back, in one transaction with the quota
        item. Returns the updated item, or None when the session changed since it was read."""
        sid, owner = item["id"], item["owner"]
        remove = ("quotaHeld", *remove)
        e = Expr()
        update = e.update(set_=set_, remove=remove)
        condition = f"attribute_exists({e.n('quotaHeld')}) AND {e.n('status')} = {e.v(item['status'])}"
        if expect_task is not None:
            condition += f" AND {e.n('taskArn')} = {e.v(expect_task)}"
        session_op = {"Update": {"TableName": self._s.sessions_table, "Key": self._key(sid),
                                 "UpdateExpression": update, "ConditionExpression": condition, **e.params()}}
        reasons = transact(self._ddb, [session_op, self._quota_release(owner, sid)], sleep=self._sleep)
        if reasons is None:
            merged = {k: v for k, v in item.items() if k not in remove}
            merged.update({k: v for k, v in set_.items() if v is not None})
            for k, v in set_.items():
                if v is None:
                    merged.pop(k, None)
            return merged
        if reasons[0] == CONDITION_FAILED:
            return None
        if len(reasons) > 1 and reasons[1] == CONDITION_FAILED:
            # The quota item does not list this session (edited or lost): still close the session.
            log("ERROR", "quota_counter_inconsistent", sessionId=sid, owner=owner)
            return self._update(sid, e, update, condition)
        raise errors.ServiceBusy("the session store is busy; try again in a moment")

    def _rollback_start(self, sid: str, owner: str) -> None:
        """Undo a start whose launch failed: no item, no quota held."""
        e = Expr()
        condition = f"attribute_exists({e.n('quotaHeld')}) AND attribute_not_exists({e.n('taskArn')})"
        delete = {"Delete": {"TableName": self._s.sessions_table, "Key": self._key(sid),
                             "ConditionExpression": condition, **e.params()}}
        reasons = transact(self._ddb, [delete, self._quota_release(owner, sid)], sleep=self._sleep)
        if reasons is None:
            log("INFO", "session_start_rolled_back", sessionId=sid, owner=owner)
            return
        if reasons[0] != CONDITION_FAILED and not (len(reasons) > 1 and reasons[1] == CONDITION_FAILED):
            raise errors.ServiceBusy("the session store is busy; try again in a moment")
        if reasons[0] != CONDITION_FAILED:
            log("ERROR", "quota_counter_inconsistent", sessionId=sid, owner=owner)
        # Either stop() already released the quota (item is STOPPING) or the counter was off:
        # drop the task-less item on its own.
        de = Expr()
        try:
            self._ddb.delete_item(TableName=self._s.sessions_table, Key=self._key(sid),
                                  ConditionExpression=f"attribute_not_exists({de.n('taskArn')})", **de.params())
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        log("INFO", "session_start_rolled_back", sessionId=sid, owner=owner)

    def _close_stopping(self, item: dict[str, Any], reason: str | None = None) -> dict[str, Any] | None:
        now = iso(self._clock())
        e = Expr()
        fields = {"status": STOPPED, "stoppedAt": now, "updatedAt": now}
        if reason and not item.get("stopReason"):
            fields["stopReason"] = reason
        update = e.update(set_=fields, remove=("editorUrl",))
        updated = self._update(item["id"], e, update, f"{e.n('status')} = {e.v(STOPPING)}")
        if updated:
            self._announce(updated)
        return updated

    def _touch(self, item: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        last = item.get("lastActivityAt")
        if last and now - parse_iso(last) < ACTIVITY_WRITE_INTERVAL_SECONDS:
            return item
        e = Expr()
        update = e.update(set_={"lastActivityAt": iso(now)})
        try:
            return self._update(item["id"], e, update, f"{e.n('status')} = {e.v(RUNNING)}") or item
        except ClientError as exc:  # a missed heartbeat only matters if it keeps failing; reads go on
            log("WARN", "heartbeat_write_failed", sessionId=item["id"], code=error_code(exc))
            return item

    # ------------------------------------------------------------------ ECS primitives

    def _start_plans(self, sid: str) -> list[tuple[dict[str, Any], ...]]:
        """One provider for this session, then on-demand FARGATE as fallback when allowed."""
        provider, why = self._choose_provider()
        log("INFO", "capacity_provider_chosen", sessionId=sid, capacityProvider=provider, why=why)
        plans = [single_provider_plan(provider)]
        if self._s.on_demand_fallback and provider != ON_DEMAND_PROVIDER:
            plans.append(single_provider_plan(ON_DEMAND_PROVIDER))
        return plans

    def _choose_provider(self) -> tuple[str, str]:
        """The configured strategy applied across sessions: the provider with a base while fewer than
        `base` active sessions run on it, otherwise a weighted draw. (provider, 'base' | 'weight')"""
        strategy = self._s.capacity_provider_strategy
        based = next((i for i in strategy if i.base > 0), None)
        if based is not None:
            try:
                active = self._count_active_on(based.capacity_provider, enough=based.base)
            except (ClientError, BotoCoreError) as exc:
                # Placement is a preference: a failed count must not fail the start.
                log("WARN", "capacity_count_failed", capacityProvider=based.capacity_provider,
                    error=f"{type(exc).__name__}: {exc}")
                active = based.base
            if active < based.base:
                return based.capacity_provider, "base"
        weighted = [i for i in strategy if i.weight > 0]
        point = self._rng() * sum(i.weight for i in weighted)
        for entry in weighted:
            point -= entry.weight
            if point < 0:
                return entry.capacity_provider, "weight"
        return weighted[-1].capacity_provider, "weight"  # rng() == 1.0 or float rounding

    def _count_active_on(self, provider: str, enough: int) -> int:
        """PROVISIONING and RUNNING sessions recorded on `provider` (byStatus, COUNT only), stopping
        once `enough` are found. The index is eventually consistent and concurrent starts are not
        serialized, so the base is kept approximately (it can be exceeded by a few at once)."""
        count = 0
        for status in (PROVISIONING, RUNNING):
            e = Expr()
            params: dict[str, Any] = {
                "TableName": self._s.sessions_table,
                "IndexName": "byStatus",
                "Select": "COUNT",
                "KeyConditionExpression": f"{e.n('status')} = {e.v(status)}",
                "FilterExpression": f"{e.n('capacityProvider')} = {e.v(provider)}",
            }
            params.update(e.params())
            while True:
                response = self._ddb.query(**params)
                count += response.get("Count", 0)
                if count >= enough or "LastEvaluatedKey" not in response:
                    break
                params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            if count >= enough:
                break
        return count

    def _run_task_args(self, item: dict[str, Any], plan: tuple[dict[str, Any], ...],
                       client_token: str, env_files: list[dict[str, str]] = ()) -> dict[str, Any]:
        s = self._s
        sid = item["id"]
        # Not secret (DescribeTasks shows these): secrets come in env_files (app/sessions/access.py).
        environment = [{"name": "SESSION_ID", "value": sid}, {"name": "SESSION_OWNER", "value": item["owner"]}]
        if item.get("repositoryUrl"):
            environment.append({"name": "REPOSITORY_URL", "value": item["repositoryUrl"]})
        container = {"name": s.container_name, "environment": environment}
        if env_files:
            container["environmentFiles"] = [dict(f) for f in env_files]
        return {
            "cluster": s.cluster_arn,
            "taskDefinition": s.task_definition,
            "count": 1,
            "startedBy": sid,
            # Makes retries of this launch idempotent (ECS returns the task it already started).
            "clientToken": client_token,
            "capacityProviderStrategy": [dict(p) for p in plan],
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": list(s.subnets),
                "securityGroups": list(s.security_groups),
                "assignPublicIp": "ENABLED" if s.assign_public_ip else "DISABLED",
            }},
            "overrides": {
                "cpu": str(item["cpu"]),
                "memory": str(item["memory"]),
                "containerOverrides": [container],
            },
            "tags": [{"key": "owner", "value": item["owner"]}, {"key": "sessionId", "value": sid}],
            "propagateTags": "TASK_DEFINITION",
            "enableECSManagedTags": True,
        }

    def _launch(self, item: dict[str, Any], plans: list[tuple[dict[str, Any], ...]],
                client_token: str | None = None, env_files: list[dict[str, str]] = ()) -> tuple[dict[str, Any], str]:
        """Try the plans in order. Without client_token each attempt gets a fresh token (a fallback
        is a new launch); a given token is for single-plan launches a retry must repeat (restarts)."""
        sid = item["id"]
        attempts: list[tuple[str, str, bool]] = []  # (providers, ECS reason, capacity shortage?)
        for plan in plans:
            providers = "/".join(p["capacityProvider"] for p in plan)
            try:
                response = self._ecs.run_task(**self._run_task_args(item, plan, client_token or uuid.uuid4().hex,
                                                                    env_files))
            except ClientError as exc:
                code = error_code(exc)
                message = exc.response.get("Error", {}).get("Message", "")
                log("WARN", "run_task_error", sessionId=sid, providers=providers, code=code, message=message)
                if self._is_budget_deny(exc):
                    raise _LaunchError("budget", errors.BudgetLimitReached(BUDGET_MESSAGE)) from None
                if code in ("AccessDeniedException", "AccessDenied"):
                    raise _LaunchError("access-denied", errors.SessionLaunchFailed(
                        "the sessions service is not allowed to launch containers (AccessDenied); "
                        "contact an administrator")) from None
                attempts.append((providers, code or "error", _is_capacity(code + " " + message)))
                continue
            except BotoCoreError as exc:
                log("ERROR", "run_task_no_response", sessionId=sid, providers=providers, error=str(exc))
                raise _LaunchError("no-response", errors.SessionLaunchFailed(
                    "ECS did not answer the launch request; try again"), uncertain=True) from None
            tasks = response.get("tasks") or []
            if tasks:
                task = tasks[0]
                return task, task.get("capacityProviderName") or plan[0]["capacityProvider"]
            reasons = [f.get("reason") or "unknown" for f in response.get("failures") or []] or ["no task returned"]
            log("WARN", "run_task_failures", sessionId=sid, providers=providers, reasons=reasons)
            attempts.append((providers, "; ".join(reasons)[:300], any(_is_capacity(r) for r in reasons)))
        tried = " then ".join(a[0] for a in attempts)
        if all(a[2] for a in attempts):
            raise _LaunchError("capacity", errors.CapacityUnavailable(
                f"no Fargate capacity is available for a '{item['sizePreset']}' session right now (tried {tried}); "
                "try again in a few minutes or choose a smaller size"))
        raise _LaunchError("launch-failed", errors.SessionLaunchFailed(
            f"the editor container could not be launched (tried {tried}; ECS reported: {attempts[-1][1]})"))

    def _record_launch(self, item: dict[str, Any], task: dict[str, Any], provider: str) -> dict[str, Any]:
        sid, arn = item["id"], task["taskArn"]
        e = Expr()
        update = e.update(set_={"taskArn": arn, "capacityProvider": provider, "updatedAt": iso(self._clock())})
        condition = (f"{e.n('status')} IN ({e.v(PROVISIONING)}, {e.v(RUNNING)}) AND "
                     f"(attribute_not_exists({e.n('taskArn')}) OR {e.n('taskArn')} = {e.v(arn)})")
        updated = self._update(sid, e, update, condition)
        if updated is not None:
            metric("SessionStarted", self._s.cluster_name, capacity_provider=provider, sessionId=sid)
            log("INFO", "session_launched", sessionId=sid, owner=item["owner"], taskArn=arn, capacityProvider=provider)
            return updated
        # Stopped (or closed) while RunTask was in flight: the new task must not outlive it.
        current = self._get(sid)
        if current is not None and current["status"] == STOPPING and not current.get("taskArn"):
            se = Expr()
            self._update(sid, se, se.update(set_={"taskArn": arn, "capacityProvider": provider}),
                         f"{se.n('status')} = {se.v(STOPPING)} AND attribute_not_exists({se.n('taskArn')})")
        self._stop_task(arn, "the session was stopped while starting")
        log("WARN", "session_closed_during_launch", sessionId=sid, taskArn=arn)
        if current is None:
            raise errors.SessionLaunchFailed("the session was closed while its container was starting; start a new one")
        return current

    def _stop_task(self, arn: str, reason: str) -> str:
        """'stopped', 'gone' (ECS no longer knows the task) or 'error' (logged; the reaper retries)."""
        try:
            self._ecs.stop_task(cluster=self._s.cluster_arn, task=arn, reason=reason[:255])
            return "stopped"
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            if error_code(exc) == "InvalidParameterException" and "not found" in message.lower():
                return "gone"
            log("ERROR", "stop_task_failed", taskArn=arn, code=error_code(exc), message=message)
        except BotoCoreError as exc:
            log("ERROR", "stop_task_failed", taskArn=arn, error=str(exc))
        return "error"

    def _stop_tasks_started_by(self, sid: str, reason: str) -> int:
        try:
            # startedBy must be ListTasks' only filter (ECS rejects it with desiredStatus etc.);
            # the default desiredStatus is RUNNING, which is what we want.
            arns = self._ecs.list_tasks(cluster=self._s.cluster_arn, startedBy=sid).get("taskArns", [])
        except (ClientError, BotoCoreError) as exc:
            log("ERROR", "list_tasks_failed", sessionId=sid, error=str(exc))
            return 0
        for arn in arns:
            self._stop_task(arn, reason)
        return len(arns)

    def _stop_orphan(self, arn: str, sid: str | None, why: str) -> None:
        outcome = self._stop_task(arn, f"orphan: {why}")
        if outcome != "error":
            metric("SessionReaped", self._s.cluster_name, reason="orphan-task", taskArn=arn, sessionId=sid)
            log("WARN", "orphan_task_stopped", taskArn=arn, sessionId=sid, why=why)

    def _describe_tasks(self, arns: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(arns), 100):
            response = self._ecs.describe_tasks(cluster=self._s.cluster_arn, tasks=arns[start:start + 100], include=["TAGS"])
            for task in response.get("tasks", []):
                found[task["taskArn"]] = task
        return found  # tasks ECS reports as MISSING (or silently omits) are absent

    def _is_our_family(self, task_definition_arn: Any) -> bool:
        return isinstance(task_definition_arn, str) and f":task-definition/{self._s.task_family}:" in task_definition_arn

    def _is_budget_deny(self, exc: ClientError) -> bool:
        """AccessDenied caused by the budget action's deny policy (not some other missing grant)."""
        policy = self._s.budget_deny_policy_arn
        if policy is None or error_code(exc) not in ("AccessDeniedException", "AccessDenied"):
            return False
        message = exc.response.get("Error", {}).get("Message", "")
        if "explicit deny" not in message.lower():
            return False
        # Newer messages name the denying policy; older ones name none, and then the budget
        # action is the only explicit deny this role is expected to meet.
        return policy in message or not _POLICY_ARN_IN_TEXT_RE.search(message)

    # ------------------------------------------------------------------ event helpers

    @staticmethod
    def _relation(item: dict[str, Any] | None, arn: str) -> str:
        """How a task relates to a session: 'current' (its task, or a launch not yet recorded),
        'pending' (a restart is launching a replacement), or 'other'."""
        if item is None:
            return "other"
        task = item.get("taskArn")
        if task == arn:
            return "current"
        if task is None and item.get("status") in (PROVISIONING, STOPPING):
            return "current"
        if item.get("status") == INTERRUPTED and item.get("quotaHeld"):
            return "pending"
        return "other"

    def _ignored(self, why: str, **fields: Any) -> dict[str, Any]:
        log("INFO", "task_event_ignored", why=why, **fields)
        return {"action": "ignored", "why": why}

    def _announce(self, item: dict[str, Any]) -> None:
        log("INFO", "session_status", sessionId=item["id"], owner=item.get("owner"), status=item["status"])
        if self._publisher is not None:
            self._publisher.publish(session_view(item))

    def _on_task_stopped(self, item: dict[str, Any], arn: str, detail: dict[str, Any]) -> dict[str, Any]:
        sid, status = item["id"], item["status"]
        ecs_reason = user_reason(detail.get("stoppedReason") or detail.get("stopCode") or "no reason given", sid)
        if status == STOPPING:
            updated = self._close_stopping(item)
            self._unroute(updated or item)
            return {"action": "stopped" if updated else "unchanged", "sessionId": sid}
        if status not in (PROVISIONING, RUNNING) or not item.get("quotaHeld"):
            self._unroute(item)  # a redelivery after a failed removal
            return self._ignored("session already closed", sessionId=sid, status=status)
        now = iso(self._clock())
        failed = status == PROVISIONING or detail.get("stopCode") == "TaskFailedToStart"
        fields: dict[str, Any] = {"status": FAILED if failed else STOPPED, "taskArn": arn, "stoppedAt": now, "updatedAt": now}
        if failed:
            fields["failureReason"] = f"the container failed to start: {ecs_reason}"
        else:
            fields["stopReason"] = f"the container stopped: {ecs_reason}"
        updated = self._release(item, fields, remove=("editorUrl",), expect_task=item.get("taskArn"))
        if updated is None:
            return {"action": "unchanged", "sessionId": sid}
        updated = self._unroute(updated)
        if failed:
            metric("SessionFailed", self._s.cluster_name, sessionId=sid, reason="task-stopped", stage="provisioning")
        self._announce(updated)
        return {"action": updated["status"].lower(), "sessionId": sid}

    def _mark_running(self, item: dict[str, Any], arn: str, task: dict[str, Any], provider: str | None) -> dict[str, Any] | None:
        """PROVISIONING -> RUNNING (routed first in private mode). The updated item (FAILED when the
        load balancer has no room for the session), or None when nothing changed."""
        sid = item["id"]
        network = _network_details(task)
        ip = network.get("privateIPv4Address")
        route: Route | None = None
        if self._routes is not None:
            if not ip:
                log("WARN", "private_ip_unavailable", sessionId=sid, taskArn=arn)
                return None  # the reaper retries from DescribeTasks
            try:
                route = self._routes.ensure(sid, item["owner"], ip)
            except RoutingCapacity as exc:
                return self._fail_unroutable(item, arn, str(exc))
        url = self._editor_url(sid, network)
        now = iso(self._clock())
        fields = {"status": RUNNING, "taskArn": arn, "startedAt": now, "lastActivityAt": now, "updatedAt": now,
                  "editorUrl": url, "privateIp": ip}
        if route is not None:
            fields.update(targetGroupArn=route.target_group_arn, listenerRuleArn=route.rule_arn)
        if provider:
            fields["capacityProvider"] = provider
        e = Expr()
        update = e.update(set_=fields)
        condition = (f"{e.n('status')} = {e.v(PROVISIONING)} AND "
                     f"(attribute_not_exists({e.n('taskArn')}) OR {e.n('taskArn')} = {e.v(arn)})")
        updated = self._update(sid, e, update, condition)
        if updated is None:
            if route is not None:
                self._discard_route(sid, route)
            return None
        if url is None:
            log("WARN", "editor_url_unavailable", sessionId=sid, taskArn=arn)
        self._announce(updated)
        return updated

    def _fail_unroutable(self, item: dict[str, Any], arn: str, reason: str) -> dict[str, Any] | None:
        self._stop_task(arn, "the editor could not be routed")
        now = iso(self._clock())
        updated = self._release(
            item,
            {"status": FAILED, "taskArn": arn, "stoppedAt": now, "updatedAt": now,
             "failureReason": f"the editor could not be reached through the load balancer: {reason}; try again later"},
            expect_task=item.get("taskArn"),
        )
        metric("SessionFailed", self._s.cluster_name, sessionId=item["id"], reason="routing-capacity", stage="provisioning")
        log("ERROR", "session_unroutable", sessionId=item["id"], taskArn=arn, reason=reason)
        if updated is not None:
            self._announce(updated)
        return updated

    def _discard_route(self, sid: str, route: Route) -> None:
        """Remove a routing created for a session that moved on meanwhile, sparing whatever parts
        the session's current item records (an identical, idempotent creation by someone else)."""
        current = self._get(sid)
        live = current if current is not None and current.get("status") == RUNNING else {}
        self._routes.remove(None if live.get("targetGroupArn") == route.target_group_arn else route.target_group_arn,
                            None if live.get("listenerRuleArn") == route.rule_arn else route.rule_arn)

    def _unroute(self, item: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
        """Delete the routing the item records and forget it. strict=False logs a failure instead of
        raising (callers whose own work must not fail on it; the reaper sweeps leftovers)."""
        group, rule = item.get("targetGroupArn"), item.get("listenerRuleArn")
        if self._routes is None or not (group or rule):
            return item
        try:
            self._routes.remove(group, rule)
        except (ClientError, BotoCoreError, RoutingError) as exc:
            if strict:
                raise
            log("WARN", "route_removal_failed", sessionId=item["id"], error=f"{type(exc).__name__}: {exc}")
            return item
        e = Expr()
        condition = " AND ".join(f"{e.n(k)} = {e.v(item[k])}" if item.get(k) else f"attribute_not_exists({e.n(k)})"
                                 for k in ROUTE_ATTRIBUTES)
        updated = self._update(item["id"], e, e.update(remove=ROUTE_ATTRIBUTES), condition)
        log("INFO", "session_unrouted", sessionId=item["id"], targetGroupArn=group, listenerRuleArn=rule)
        return updated or {k: v for k, v in item.items() if k not in ROUTE_ATTRIBUTES}

    def _editor_url(self, sid: str, network: dict[str, str]) -> str | None:
        if self._s.editor_access == "private":
            return f"https://{self._s.editor_domain}{editor_path(sid)}/"
        eni = network.get("networkInterfaceId")
        if not eni or self._ec2 is None:
            return None
        try:
            interfaces = self._ec2.describe_network_interfaces(NetworkInterfaceIds=[eni]).get("NetworkInterfaces", [])
        except (ClientError, BotoCoreError) as exc:
            log("WARN", "describe_eni_failed", sessionId=sid, eni=eni, error=str(exc))
            return None
        ip = interfaces[0].get("Association", {}).get("PublicIp") if interfaces else None
        return f"http://{ip}:{self._s.editor_port}/" if ip else None

    def _on_interruption(self, item: dict[str, Any], arn: str, task_stopped: bool) -> dict[str, Any]:
        """Spot reclaims the task. The warning comes about two minutes before the task stops: its
        routing stays until then (removed on the STOPPED event), so the owner can still save work."""
        sid = item["id"]
        now = iso(self._clock())
        restart = self._s.restart_on_interruption
        metric("SpotInterruption", self._s.cluster_name, sessionId=sid, taskArn=arn, restart=restart)
        reclaimed = "Fargate Spot reclaimed the capacity this session ran on"
        if not restart:
            updated = self._release(
                item,
                {"status": INTERRUPTED, "taskArn": arn, "failureReason": reclaimed, "stoppedAt": now, "updatedAt": now},
                remove=("editorUrl", "privateIp"),
                expect_task=item.get("taskArn"),
            )
            if updated is None:
                return {"action": "unchanged", "sessionId": sid}
            if task_stopped:
                self._unroute(updated, strict=False)
            self._announce(updated)
            return {"action": "interrupted", "sessionId": sid}

        # Keep the quota through the restart; INTERRUPTED is visible while the replacement launches.
        e = Expr()
        update = e.update(set_={"status": INTERRUPTED, "taskArn": arn, "failureReason": reclaimed,
                                "interruptedAt": now, "updatedAt": now},
                          remove=("editorUrl", "privateIp"), add={"interruptions": 1})
        condition = (f"attribute_exists({e.n('quotaHeld')}) AND {e.n('status')} IN ({e.v(PROVISIONING)}, {e.v(RUNNING)}) "
                     f"AND (attribute_not_exists({e.n('taskArn')}) OR {e.n('taskArn')} = {e.v(arn)})")
        marked = self._update(sid, e, update, condition)
        if marked is None:
            return {"action": "unchanged", "sessionId": sid}
        # Kept through the warning; the replacement's routing re-points the same group at its address.
        if task_stopped:
            marked = self._unroute(marked, strict=False)  # best effort, so the restart goes ahead
        self._announce(marked)
        return self._restart(marked, arn)

    def _restart(self, item: dict[str, Any], arn: str) -> dict[str, Any]:
        """Launch the replacement of an INTERRUPTED session (which still holds its quota) on on-demand
        FARGATE and record it. Safe to repeat: the launch's clientToken is fixed per interruption."""
        sid = item["id"]
        launch = int(item.get("interruptions") or 0)
        token = restart_client_token(sid, launch)
        try:
            # A fresh Git token: the first one may have expired (GitHub's tokens live one hour).
            env_files = self._access.environment_files(item, launch)
            task, provider = self._launch(item, [single_provider_plan(ON_DEMAND_PROVIDER)], client_token=token,
                                          env_files=env_files)
        except errors.SessionError as exc:
            failure = _LaunchError("credentials", exc)
            return self._restart_failed(item, arn, failure)
        except _LaunchError as failure:
            return self._restart_failed(item, arn, failure)


        new_arn = task["taskArn"]
        re_ = Expr()
        update = re_.update(set_={"status": PROVISIONING, "taskArn": new_arn, "capacityProvider": provider,
                                  "failureReason": None, "restartedAt": iso(self._clock()), "updatedAt": iso(self._clock())})
        condition = (f"attribute_exists({re_.n('quotaHeld')}) AND {re_.n('status')} = {re_.v(INTERRUPTED)} "
                     f"AND {re_.n('taskArn')} = {re_.v(arn)}")
        restarted = self._update(sid, re_, update, condition)
        if restarted is None:
            current = self._get(sid)
            if not (current and current.get("taskArn") == new_arn):
                self._stop_task(new_arn, "the session was stopped during its restart")
            return {"action": "restart-abandoned", "sessionId": sid}
        log("INFO", "session_restarted", sessionId=sid, taskArn=new_arn, capacityProvider=provider)
        self._announce(restarted)
        return {"action": "restarted", "sessionId": sid}

    def _adopt_replacement(self, item: dict[str, Any], arn: str, detail: dict[str, Any]) -> dict[str, Any]:
        sid = item["id"]
        e = Expr()
        update = e.update(set_={"status": PROVISIONING, "taskArn": arn, "failureReason": None,
                                "restartedAt": iso(self._clock()), "updatedAt": iso(self._clock())})
        condition = (f"attribute_exists({e.n('quotaHeld')}) AND {e.n('status')} = {e.v(INTERRUPTED)} "
                     f"AND {e.n('taskArn')} = {e.v(item['taskArn'])}")
        adopted = self._update(sid, e, update, condition)
        if adopted is None:
            return self._ignored("the restart was recorded meanwhile", sessionId=sid, taskArn=arn)
        log("WARN", "replacement_adopted", sessionId=sid, taskArn=arn)
        updated = self._mark_running(adopted, arn, detail, detail.get("capacityProviderName"))
        return {"action": updated["status"].lower() if updated else "adopted", "sessionId": sid}

    def _restart_failed(self, item: dict[str, Any], arn: str, failure: "_LaunchError") -> dict[str, Any]:
        sid = item["id"]
        if failure.uncertain:
            self._stop_tasks_started_by(sid, "session restart failed")
        later = iso(self._clock())
        if failure.kind == "budget":
            # The budget action's deny policy covers this role too: no new spend, not an error.
            fields: dict[str, Any] = {"status": STOPPED, "stopReason": BUDGET_RESTART_STOP_REASON,
                                      "failureReason": None, "stoppedAt": later, "updatedAt": later}
        else:
            fields = {"status": FAILED, "failureReason": f"restart after a Spot interruption failed: {failure.user_error}",
                      "stoppedAt": later, "updatedAt": later}
        updated = self._release(item, fields, expect_task=arn)
        metric("SessionFailed", self._s.cluster_name, sessionId=sid, reason=failure.kind, stage="restart")
        if updated is not None:
            self._announce(updated)
        return {"action": "restart-refused-budget" if failure.kind == "budget" else "restart-failed",
                "sessionId": sid}

    # ------------------------------------------------------------------ reaper helpers

    def _active_items(self) -> Iterator[dict[str, Any]]:
        for status in (PROVISIONING, RUNNING, STOPPING, INTERRUPTED):
            e = Expr()
            params: dict[str, Any] = {
                "TableName": self._s.sessions_table,
                "IndexName": "byStatus",
                "KeyConditionExpression": f"{e.n('status')} = {e.v(status)}",
            }
            if status == INTERRUPTED:  # only restarts in flight still hold quota
                params["FilterExpression"] = f"attribute_exists({e.n('quotaHeld')})"
            params.update(e.params())
            while True:
                response = self._ddb.query(**params)
                for raw in response.get("Items", []):
                    yield from_item(raw)
                if "LastEvaluatedKey" not in response:
                    break
                params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _reap_item(self, item: dict[str, Any], tasks: dict[str, dict[str, Any]], now: float) -> str | None:
        sid, status, arn = item["id"], item["status"], item.get("taskArn")
        stamp = iso(now)
        stale = now - parse_iso(item["updatedAt"]) > LAUNCH_GRACE_SECONDS

        if status == INTERRUPTED or arn is None:
            # A start or restart that never recorded its task: wait out the grace, then close it.
            if not stale:
                return None
            self._stop_tasks_started_by(sid, "the session launch did not complete")
            if status == STOPPING:
                updated = self._close_stopping(item, "the container never started")
            else:
                what = "restart after a Spot interruption" if status == INTERRUPTED else "launch"
                updated = self._release(item, {"status": FAILED, "failureReason": f"the {what} did not complete",
                                               "stoppedAt": stamp, "updatedAt": stamp})
                if updated:
                    self._announce(updated)
            if updated:
                self._unroute(updated)
            return self._reaped(updated, sid, "launch-incomplete")

        task = tasks.get(arn)
        if task is None or task.get("lastStatus") == "STOPPED":
            if status == STOPPING:
                closed = self._close_stopping(item)
                if closed:
                    self._unroute(closed)
                return self._reaped(closed, sid, "task-gone")
            ecs_reason = user_reason((task or {}).get("stoppedReason") or "the container no longer exists", sid)
            if task and task.get("stopCode") == "SpotInterruption":
                fields = {"status": INTERRUPTED, "failureReason": "Fargate Spot reclaimed the capacity this session ran on"}
            elif status == PROVISIONING:
                fields = {"status": FAILED, "failureReason": f"the container failed to start: {ecs_reason}"}
            else:
                fields = {"status": STOPPED, "stopReason": f"the container stopped: {ecs_reason}"}
            fields.update(stoppedAt=stamp, updatedAt=stamp)
            updated = self._release(item, fields, remove=("editorUrl",), expect_task=arn)
            if updated:
                updated = self._unroute(updated)
                self._announce(updated)
            return self._reaped(updated, sid, "task-gone")

        if status == STOPPING:
            self._stop_task(arn, "the session is stopping")
            return "stop-reissued"
        age = now - parse_iso(item["createdAt"])
        if age > self._s.max_lifetime_hours * 3600:
            return self._reap_running(item, f"reached the maximum lifetime of {self._s.max_lifetime_hours} h", "max-lifetime")
        idle_limit = self._s.idle_timeout_minutes * 60
        if status == RUNNING and idle_limit:
            last_active = max(parse_iso(item.get(k)) for k in ("createdAt", "startedAt", "lastActivityAt") if item.get(k))
            if now - last_active > idle_limit:
                return self._reap_running(item, f"idle for more than {self._s.idle_timeout_minutes} min", "idle-timeout")
        if status == PROVISIONING and task.get("lastStatus") == RUNNING:
            # The RUNNING event was lost or arrived before the task was recorded.
            updated = self._mark_running(item, arn, task, task.get("capacityProviderName"))
            if updated is None:
                return None
            return "marked-running" if updated["status"] == RUNNING else "routing-failed"
        if status == RUNNING and self._routes is not None and not item.get("listenerRuleArn"):
            return self._route_running(item, task)
        if status == RUNNING and not item.get("editorUrl"):
            url = self._editor_url(sid, _network_details(task))
            if url:
                e = Expr()
                updated = self._update(sid, e, e.update(set_={"editorUrl": url, "updatedAt": stamp}),
                                       f"{e.n('status')} = {e.v(RUNNING)} AND {e.n('taskArn')} = {e.v(arn)}")
                if updated:
                    self._announce(updated)
                    return "editor-url-filled"
        return None

    def _reap_running(self, item: dict[str, Any], reason: str, metric_reason: str) -> str | None:
        stamp = iso(self._clock())
        updated = self._release(item, {"status": STOPPING, "stopReason": reason, "stopRequestedAt": stamp, "updatedAt": stamp},
                                remove=("editorUrl",), expect_task=item["taskArn"])
        if updated is None:
            return None
        updated = self._unroute(updated)
        self._announce(updated)
        if self._stop_task(item["taskArn"], reason) == "gone":
            self._close_stopping(updated)
        return self._reaped(updated, item["id"], metric_reason)

    def _reaped(self, updated: dict[str, Any] | None, sid: str, reason: str) -> str | None:
        if updated is None:
            return None
        metric("SessionReaped", self._s.cluster_name, sessionId=sid, reason=reason, status=updated["status"])
        return f"reaped-{reason}"

    def _reap_orphans(self, items: list[dict[str, Any]]) -> dict[str, int]:
        known = {i["taskArn"] for i in items if i.get("taskArn")}  # the item pass handled these
        arns: list[str] = []
        params: dict[str, Any] = {"cluster": self._s.cluster_arn, "family": self._s.task_family, "desiredStatus": "RUNNING"}
        while True:
            response = self._ecs.list_tasks(**params)
            arns.extend(a for a in response.get("taskArns", []) if a not in known)
            if not response.get("nextToken"):
                break
            params["nextToken"] = response["nextToken"]
        stopped = 0
        for arn, task in self._describe_tasks(arns).items():
            if task.get("desiredStatus") != "RUNNING" or task.get("lastStatus") == "STOPPED":
                continue
            sid = task.get("startedBy") or next(
                (t.get("value") for t in task.get("tags", []) if t.get("key") == "sessionId"), None)
            item = self._get(sid) if is_session_id(sid) else None
            relation = self._relation(item, arn)
            if relation == "pending" and not self._is_stale(item):
                continue  # a restart is launching this replacement
            if relation == "current" and item["status"] in (PROVISIONING, RUNNING):
                continue  # index lag: the session moved to this task after the query
            self._stop_orphan(arn, sid if is_session_id(sid) else None, "no active session owns this task")
            stopped += 1
        return {"orphans-stopped": stopped} if stopped else {}

    def _route_running(self, item: dict[str, Any], task: dict[str, Any]) -> str | None:
        """Route a RUNNING session that has no routing (its RUNNING transition predates routing)."""
        sid, arn = item["id"], item["taskArn"]
        ip = _network_details(task).get("privateIPv4Address") or item.get("privateIp")
        if not ip:
            return None
        try:
            route = self._routes.ensure(sid, item["owner"], ip)
        except RoutingCapacity as exc:
            return self._reap_running(item, f"the editor could not be routed: {exc}", "routing-capacity")
        e = Expr()
        update = e.update(set_={"targetGroupArn": route.target_group_arn, "listenerRuleArn": route.rule_arn,
                                "editorUrl": self._editor_url(sid, {}), "privateIp": ip, "updatedAt": iso(self._clock())})
        updated = self._update(sid, e, update, f"{e.n('status')} = {e.v(RUNNING)} AND {e.n('taskArn')} = {e.v(arn)}")
        if updated is None:
            self._discard_route(sid, route)
            return None
        self._announce(updated)
        return "routed"

    def _reap_routes(self, _items: list[dict[str, Any]]) -> dict[str, int]:
        """Delete load-balancer routings no RUNNING session records: left by crashes, failed
        removals or duplicate creations. Rules go first (a group in use cannot be deleted)."""
        if self._routes is None:
            return {}
        found = [("listenerRuleArn", r) for r in self._routes.rules()]
        found += [("targetGroupArn", g) for g in self._routes.target_groups()]
        items: dict[str, dict[str, Any] | None] = {}
        live_groups: set[str] = set()
        removed: set[str] = set()
        failures = 0
        for attribute, entry in found:
            if entry.arn in removed or entry.arn in live_groups:
                continue
            sid = entry.session_id
            if sid not in items:
                items[sid] = self._get(sid) if is_session_id(sid) else None
            item = items[sid]
            if self._route_is_live(item, attribute, entry.arn):
                live_groups.update(entry.target_group_arns)
                continue
            try:
                if item is not None and item.get(attribute) == entry.arn:
                    recorded = [item[k] for k in ROUTE_ATTRIBUTES if item.get(k)]
                    items[sid] = self._unroute(item)
                    removed.update(recorded)
                else:
                    self._routes.remove(entry.arn if attribute == "targetGroupArn" else None,
                                        entry.arn if attribute == "listenerRuleArn" else None)
                    removed.add(entry.arn)
            except (ClientError, BotoCoreError, RoutingError) as exc:
                log("ERROR", "orphan_route_removal_failed", sessionId=sid, arn=entry.arn, error=f"{type(exc).__name__}: {exc}")
                failures += 1
                continue
            log("WARN", "orphan_route_removed", sessionId=sid, arn=entry.arn,
                status=item["status"] if item else None)
        counts = {"routes-removed": len(removed)} if removed else {}
        if failures:
            counts["errors"] = failures
        return counts

    def _route_is_live(self, item: dict[str, Any] | None, attribute: str, arn: str) -> bool:
        if item is None:
            return False
        if item["status"] == RUNNING:
            return item.get(attribute) == arn
        # The task-state handler routes a session before marking it RUNNING; an interrupted task
        # keeps its routing through the Spot warning (until its STOPPED event).
        return item["status"] in (PROVISIONING, INTERRUPTED) and not self._is_stale(item)

    def _is_stale(self, item: dict[str, Any] | None) -> bool:
        return item is not None and self._clock() - parse_iso(item["updatedAt"]) > LAUNCH_GRACE_SECONDS

    def _reconcile_quotas(self, _items: list[dict[str, Any]]) -> dict[str, int]:
        """Give back quota units whose session item is gone or no longer holds them (e.g. TTL
        deleted an item the reaper could not close in time)."""
        e = Expr()
        params: dict[str, Any] = {
            "TableName": self._s.sessions_table,
            "ConsistentRead": True,
            "FilterExpression": f"begins_with({e.n('id')}, {e.v(QUOTA_PREFIX)}) AND attribute_exists({e.n('sessionIds')})",
            "ProjectionExpression": f"{e.n('id')}, {e.n('sessionIds')}",
            **e.params(),
        }
        released = 0
        while True:
            response = self._ddb.scan(**params)
            for raw in response.get("Items", []):
                quota = from_item(raw)
                owner = quota["id"][len(QUOTA_PREFIX):]
                for sid in sorted(quota.get("sessionIds", ())):
                    item = self._get(sid)
                    if item is not None and item.get("quotaHeld"):
                        continue
                    op = self._quota_release(owner, sid)["Update"]
                    try:
                        self._ddb.update_item(**op)
                    except ClientError as exc:
                        if error_code(exc) != "ConditionalCheckFailedException":
                            raise
                        continue
                    log("WARN", "quota_unit_reclaimed", owner=owner, sessionId=sid)
                    released += 1
            if "LastEvaluatedKey" not in response:
                break
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return {"quota-reclaimed": released} if released else {}


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


def _validate_repository_url(value: Any) -> None:
    if not isinstance(value, str):
        raise errors.ValidationError("repositoryUrl must be a string")
    if len(value) > 2048:
        raise errors.ValidationError("repositoryUrl must be at most 2048 characters")
    if any(not 33 <= ord(ch) <= 126 for ch in value):
        raise errors.ValidationError("repositoryUrl must not contain spaces, control or non-ASCII characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise errors.ValidationError(f"repositoryUrl {value!r} is not a valid URL") from None
    if parts.scheme != "https" or not parts.hostname:
        raise errors.ValidationError("repositoryUrl must be an https:// URL with a host, e.g. https://github.com/org/repo.git")
    if parts.username is not None or parts.password is not None:
        raise errors.ValidationError("repositoryUrl must not embed credentials; grant repository access another way")


def _encode_token(mode: str, key: dict[str, Any]) -> str:
    raw = json.dumps({"m": mode, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: Any, mode: str, key_attrs: tuple[str, ...], expected: dict[str, str]) -> dict[str, Any]:
    problem = errors.ValidationError("nextToken is invalid; pass the nextToken returned by the previous listSessions call with the same arguments")
    if not isinstance(token, str) or len(token) > 4096:
        raise problem
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise problem from None
    key = data.get("k") if isinstance(data, dict) and data.get("m") == mode else None
    if not isinstance(key, dict) or set(key) != set(key_attrs):
        raise problem
    for name, value in key.items():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            raise problem
    # The key must stay inside the partition being listed (no peeking at another owner's items).
    if any(key[name]["S"] != want for name, want in expected.items()):
        raise problem
    return key
