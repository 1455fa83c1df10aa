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
  item) while it is RUNNING, and through a Spot warning until its task stops. The routing is
  created before the item turns RUNNING, so the editor URL works when it is announced; a routing no
  RUNNING (or just-interrupted) session records is an orphan the reaper deletes.
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from . import errors
from .access import SessionAccess
from .ddb import CONDITION_FAILED, Expr, error_code, from_item, to_item, transact
from .events import TaskEvents
from .launch import Launching
from .model import (ACTIVITY_WRITE_INTERVAL_SECONDS, BUDGET_MESSAGE, _LIST_FIELDS, _START_FIELDS,
                    _TASK_ROLE_SESSION_RE, _TOKEN_RE, _LaunchError)
# The runtime's public names, importable from here as before the split (handlers, tests, bench).
from .model import (  # noqa: F401
    ADMIN_GROUP, FAILED, INTERRUPTED, PROVISIONING, QUOTA_PREFIX, RUNNING, SESSION_FIELDS, STATUSES, STOPPED, STOPPING,
    Caller, is_session_id, iso, parse_iso, restart_client_token, session_id_for, session_view, single_provider_plan,
    user_reason,
)
from .observability import log, metric
from .reaper import Reaping
from .routing import EditorRoutes, cognito_auth
from .settings import Settings
from .workspace import Workspaces


class SessionService(Launching, TaskEvents, Reaping):
    """The API operations (start, get, list, stop, activity) and the DynamoDB primitives every part
    uses; launching (launch.py), task events (events.py) and the reaper (reaper.py) are mixins
    working on the same clients and settings."""

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
        efs: Any = None,
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
        self._workspaces = (Workspaces(settings, efs=efs, ecs=ecs, dynamodb=dynamodb, sleep=sleep)
                            if settings.workspace == "efs" else None)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng  # uniform in [0, 1): the weighted capacity-provider choice

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
        if self._workspaces is not None:
            # Before the quota unit is taken: nothing to roll back if EFS refuses. Stored on the item so
            # a Spot restart mounts the same workspace.
            item["taskDefinition"] = self._workspaces.task_definition(owner, self._key(QUOTA_PREFIX + owner))
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
