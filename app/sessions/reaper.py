"""The reaper: idle, expired and incomplete sessions, orphan tasks and routings, quota
reconciliation. A mixin of SessionService."""

from __future__ import annotations

from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from .ddb import Expr, error_code, from_item
from .model import (FAILED, INTERRUPTED, LAUNCH_GRACE_SECONDS, PROVISIONING, QUOTA_PREFIX, ROUTE_ATTRIBUTES, RUNNING, STOPPED, STOPPING, _network_details, is_session_id, iso, parse_iso, user_reason)
from .observability import log, metric
from .routing import RoutingCapacity, RoutingError


class Reaping:
    """The reaper (mixin of SessionService)."""

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
