"""ECS task state changes: RUNNING (routing first in private mode), STOPPED, Spot interruptions
and restarts, and announcing every status change. A mixin of SessionService."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import errors
from .ddb import Expr
from .model import (BUDGET_RESTART_STOP_REASON, FAILED, INTERRUPTED, PROVISIONING, ROUTE_ATTRIBUTES, RUNNING, STOPPED, STOPPING, _LaunchError, _network_details, is_session_id, iso, restart_client_token, session_view, single_provider_plan, user_reason)
from .observability import log, metric
from .routing import Route, RoutingCapacity, RoutingError, editor_path
from .settings import ON_DEMAND_PROVIDER


class TaskEvents:
    """ECS task state changes (mixin of SessionService)."""

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
            # The URL is announced once the load balancer has the target healthy (else the first
            # clicks get 503s); a target still starting after the wait is announced anyway.
            if not self._routes.wait_healthy(route.target_group_arn, ip, self._sleep):
                log("WARN", "editor_target_not_healthy_yet", sessionId=sid, taskArn=arn)
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
