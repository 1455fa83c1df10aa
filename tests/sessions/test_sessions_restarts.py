"""Restarts after a Spot interruption: refused by the budget action, and resumed after a crash."""

from __future__ import annotations

import pytest

from app.sessions.service import Caller, restart_client_token

from .conftest import OWNER, client_error, events, metrics

alice = Caller(OWNER)
DENY_ARN = "arn:aws:iam::123456789012:policy/aiplatform-budget-deny"


def running_session(service, infra):
    session = service.start(alice, {})
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    return session["id"], session["taskArn"]


def interruption(infra, arn):
    """ECS's first notice: the task is still up, its desired status already STOPPED."""
    return infra.event(arn, "RUNNING", desired="STOPPED", stop_code="SpotInterruption",
                       reason="Your Spot Task was interrupted.")


def tasks_of(infra, sid):
    return [t for t in infra.running_tasks() if t.get("startedBy") == sid]


# --- the budget action's deny policy also covers the restarting role -----------------------------
def budget_deny(role: str) -> Exception:
    return client_error(
        "AccessDeniedException",
        f"User: arn:aws:sts::123456789012:assumed-role/{role}/fn is not authorized to perform: ecs:RunTask on "
        "resource: arn:aws:ecs:us-east-1:123456789012:task-definition/code-server:1 with an explicit deny in an "
        f"identity-based policy: {DENY_ARN}")


def test_a_restart_refused_by_the_budget_action_stops_the_session_and_frees_its_quota(infra, make_service, capsys):
    service = make_service(RESTART_ON_INTERRUPTION="true", BUDGET_DENY_POLICY_ARN=DENY_ARN)
    sid, arn = running_session(service, infra)
    service.scripted_ecs.script = [budget_deny("sessions-task-state")]
    result = service.handle_task_event(interruption(infra, arn))
    assert result == {"action": "restart-refused-budget", "sessionId": sid}
    item = infra.item(sid)
    assert item["status"] == "STOPPED" and item["stoppedAt"]
    assert item["stopReason"].startswith("budget limit reached: Fargate Spot reclaimed this session's capacity")
    assert "failureReason" not in item and "quotaHeld" not in item and "editorUrl" not in item
    assert infra.quota() == {"active": 0, "sessionIds": set()}
    [failed] = metrics(capsys.readouterr().out, "SessionFailed")
    assert (failed["reason"], failed["stage"]) == ("budget", "restart")
    # The reclaimed task's own STOPPED event, or a redelivery, changes nothing and launches nothing.
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="SpotInterruption"))
    service.handle_task_event(interruption(infra, arn))
    assert len(service.scripted_ecs.run_task_calls) == 2 and tasks_of(infra, sid) == []
    assert infra.item(sid)["status"] == "STOPPED"


def test_another_access_denied_on_restart_is_a_failure_not_the_budget(infra, make_service):
    service = make_service(RESTART_ON_INTERRUPTION="true", BUDGET_DENY_POLICY_ARN=DENY_ARN)
    sid, arn = running_session(service, infra)
    service.scripted_ecs.script = [client_error("AccessDeniedException", "User: x is not authorized to perform: "
                                                                         "ecs:RunTask")]
    assert service.handle_task_event(interruption(infra, arn))["action"] == "restart-failed"
    item = infra.item(sid)
    assert item["status"] == "FAILED" and "not allowed to launch containers" in item["failureReason"]
    assert infra.quota()["active"] == 0


# --- a restart that crashed midway is resumed by the redelivered event ---------------------------
def crash(*_args):
    raise RuntimeError("Lambda timed out mid-restart")


@pytest.mark.parametrize("when", ["before-ecs", "after-ecs"])
def test_redelivery_resumes_a_restart_that_crashed_midway(infra, make_service, capsys, when):
    service = make_service(RESTART_ON_INTERRUPTION="true")
    sid, arn = running_session(service, infra)
    event = interruption(infra, arn)
    if when == "before-ecs":
        service.scripted_ecs.script = [RuntimeError("Lambda timed out mid-restart")]
    else:  # ECS launched the replacement; the handler died before recording it
        service.scripted_ecs.after_run_task = crash
    with pytest.raises(RuntimeError):
        service.handle_task_event(event)  # raised, so EventBridge/Lambda redeliver the event
    service.scripted_ecs.after_run_task = None
    assert infra.item(sid)["status"] == "INTERRUPTED" and infra.quota()["active"] == 1

    assert service.handle_task_event(event) == {"action": "restarted", "sessionId": sid}
    item = infra.item(sid)
    assert item["status"] == "PROVISIONING" and item["taskArn"] != arn
    assert item["capacityProvider"] == "FARGATE" and item["interruptions"] == 1
    assert infra.quota() == {"active": 1, "sessionIds": {sid}}
    first, retry = service.scripted_ecs.run_task_calls[1:]
    # The same launch both times: had ECS started the replacement, it answers with that task.
    assert first["clientToken"] == retry["clientToken"] == restart_client_token(sid, 1)
    assert first["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    replacements = [t["taskArn"] for t in tasks_of(infra, sid) if t["taskArn"] != arn]
    assert replacements == [item["taskArn"]]
    [resumed] = events(capsys.readouterr().out, "session_restart_resumed")
    assert resumed["sessionId"] == sid
    # Further deliveries find the restart done.
    service.handle_task_event(event)
    assert len(service.scripted_ecs.run_task_calls) == 3


def test_the_stopped_event_of_the_reclaimed_task_also_resumes_a_crashed_restart(infra, make_service):
    service = make_service(RESTART_ON_INTERRUPTION="true")
    sid, arn = running_session(service, infra)
    service.scripted_ecs.script = [RuntimeError("crash")]
    with pytest.raises(RuntimeError):
        service.handle_task_event(interruption(infra, arn))
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    result = service.handle_task_event(infra.event(arn, "STOPPED", stop_code="SpotInterruption"))
    assert result == {"action": "restarted", "sessionId": sid}
    assert [t["capacityProviderName"] for t in tasks_of(infra, sid)] == ["FARGATE"]


def test_each_interruption_is_a_new_launch(infra, make_service):
    service = make_service(RESTART_ON_INTERRUPTION="true")
    sid, arn = running_session(service, infra)
    service.handle_task_event(interruption(infra, arn))
    second = infra.item(sid)["taskArn"]
    service.handle_task_event(infra.event(second, "RUNNING"))
    assert service.handle_task_event(interruption(infra, second))["action"] == "restarted"
    tokens = [c["clientToken"] for c in service.scripted_ecs.run_task_calls[1:]]
    assert tokens == [restart_client_token(sid, 1), restart_client_token(sid, 2)] and tokens[0] != tokens[1]
    assert infra.item(sid)["interruptions"] == 2


def test_a_crashed_restart_the_reaper_already_failed_is_not_resumed(infra, make_service, clock):
    service = make_service(RESTART_ON_INTERRUPTION="true")
    sid, arn = running_session(service, infra)
    service.scripted_ecs.script = [RuntimeError("crash")]
    with pytest.raises(RuntimeError):
        service.handle_task_event(interruption(infra, arn))
    clock.advance(16 * 60)
    service.reap()
    assert infra.item(sid)["status"] == "FAILED" and infra.quota()["active"] == 0
    calls = len(service.scripted_ecs.run_task_calls)
    assert service.handle_task_event(interruption(infra, arn))["action"] == "ignored"
    assert len(service.scripted_ecs.run_task_calls) == calls


def test_the_replacements_running_event_is_not_lost_when_the_restart_crashed_before_recording_it(infra, make_service):
    service = make_service(RESTART_ON_INTERRUPTION="true")
    sid, arn = running_session(service, infra)
    service.scripted_ecs.after_run_task = crash  # ECS launched the replacement; the handler died
    with pytest.raises(RuntimeError):
        service.handle_task_event(interruption(infra, arn))
    service.scripted_ecs.after_run_task = None
    [replacement] = [t["taskArn"] for t in tasks_of(infra, sid) if t["taskArn"] != arn]
    assert infra.item(sid)["status"] == "INTERRUPTED"

    # The replacement's RUNNING event arrives before any redelivery: it is adopted, not dropped.
    result = service.handle_task_event(infra.event(replacement, "RUNNING"))
    assert result == {"action": "running", "sessionId": sid}
    item = infra.item(sid)
    assert (item["status"], item["taskArn"], item["quotaHeld"]) == ("RUNNING", replacement, True)
    assert infra.quota() == {"active": 1, "sessionIds": {sid}}
    # The redelivered interruption then finds nothing left to do and launches nothing.
    service.handle_task_event(interruption(infra, arn))
    assert infra.item(sid)["status"] == "RUNNING" and len(service.scripted_ecs.run_task_calls) == 2
