"""Launching and stopping ECS tasks: the capacity-provider choice (base, then weights), RunTask with the
session's overrides and launch file, recording the launch, and StopTask / orphan stops.
A mixin of SessionService (app/sessions/service.py), which owns the clients and settings."""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import errors
from .ddb import Expr, error_code
from .model import (BUDGET_MESSAGE, PROVISIONING, RUNNING, STOPPING, _LaunchError, _POLICY_ARN_IN_TEXT_RE, _is_capacity, iso, single_provider_plan)
from .observability import log, metric
from .settings import ON_DEMAND_PROVIDER


class Launching:
    """Launching and stopping tasks (mixin of SessionService)."""

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
            # With efs workspaces, the owner's revision (the one that mounts their access point).
            "taskDefinition": item.get("taskDefinition") or s.task_definition,
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
