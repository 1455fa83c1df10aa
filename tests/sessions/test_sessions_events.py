"""ECS Task State Change events: RUNNING, STOPPED, Spot interruption, orphans, stale events."""

from __future__ import annotations

from app.sessions.service import Caller

from .conftest import OWNER, capacity_failure, metrics

alice = Caller(OWNER)


def started(service):
    session = service.start(alice, {})
    return session["id"], session["taskArn"]


def test_running_in_public_mode_sets_editor_url_from_task_public_ip(infra, make_service):
    service = make_service()
    sid, arn = started(service)
    ip = infra.assign_public_ip(arn)
    result = service.handle_task_event(infra.event(arn, "RUNNING"))
    assert result == {"action": "running", "sessionId": sid}
    item = infra.item(sid)
    assert item["status"] == "RUNNING"
    assert item["editorUrl"] == f"http://{ip}:8080/"
    assert item["privateIp"].startswith("10.") and item["startedAt"]
    # A duplicate delivery changes nothing.
    assert service.handle_task_event(infra.event(arn, "RUNNING"))["action"] == "ignored"


def test_running_in_private_mode_routes_a_per_session_path(infra, make_service, editor_lb):
    service = make_service(**editor_lb.env)
    sid, arn = started(service)
    [call] = service.scripted_ecs.run_task_calls
    env = {e["name"]: e["value"] for e in call["overrides"]["containerOverrides"][0]["environment"]}
    # The proxy serves /<SESSION_ID>/ and admits only SESSION_OWNER; no password in private mode.
    assert env == {"SESSION_ID": sid, "SESSION_OWNER": alice.sub}
    assert "environmentFiles" not in call["overrides"]["containerOverrides"][0]
    assert call["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert service.handle_task_event(infra.event(arn, "RUNNING")) == {"action": "running", "sessionId": sid}
    item = infra.item(sid)
    assert item["editorUrl"] == f"https://ide.example.com/{sid}/"
    [rule] = editor_lb.rules()
    assert item["listenerRuleArn"] == rule["RuleArn"]


def test_stopped_after_user_stop_closes_the_session_without_touching_quota(infra, make_service):
    service = make_service()
    sid, arn = started(service)
    other, _ = started(service)
    service.stop(alice, sid)
    assert infra.quota()["active"] == 1
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="UserInitiated", reason="stopped by the owner"))
    item = infra.item(sid)
    assert item["status"] == "STOPPED" and item["stoppedAt"]
    assert infra.quota() == {"active": 1, "sessionIds": {other}}


def test_container_exit_while_running_releases_quota(infra, make_service):
    service = make_service()
    sid, arn = started(service)
    service.handle_task_event(infra.event(arn, "RUNNING"))
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="EssentialContainerExited",
                                          reason="Essential container in task exited"))
    item = infra.item(sid)
    assert item["status"] == "STOPPED"
    assert item["stopReason"] == "the container stopped: Essential container in task exited"
    assert "editorUrl" not in item and "quotaHeld" not in item
    assert infra.quota()["active"] == 0


def test_task_that_never_ran_marks_failed(infra, make_service, capsys):
    service = make_service()
    sid, arn = started(service)
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="TaskFailedToStart",
                                          reason="CannotPullContainerError: pull access denied"))
    item = infra.item(sid)
    assert item["status"] == "FAILED"
    assert item["failureReason"] == "the container failed to start: CannotPullContainerError: pull access denied"
    assert infra.quota()["active"] == 0
    assert metrics(capsys.readouterr().out, "SessionFailed")[0]["stage"] == "provisioning"


def test_spot_interruption_marks_interrupted_and_releases_quota(infra, make_service, capsys):
    service = make_service()
    sid, arn = started(service)
    service.handle_task_event(infra.event(arn, "RUNNING"))
    # ECS announces the interruption while the task is still up (desiredStatus STOPPED) ...
    result = service.handle_task_event(infra.event(arn, "RUNNING", desired="STOPPED", stop_code="SpotInterruption",
                                                   reason="Your Spot Task was interrupted."))
    assert result == {"action": "interrupted", "sessionId": sid}
    item = infra.item(sid)
    assert item["status"] == "INTERRUPTED"
    assert item["failureReason"] == "Fargate Spot reclaimed the capacity this session ran on"
    assert infra.quota()["active"] == 0
    # ... and again when it has stopped: nothing more happens.
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="SpotInterruption"))
    assert infra.item(sid)["status"] == "INTERRUPTED"
    assert infra.quota()["active"] == 0
    [spot] = metrics(capsys.readouterr().out, "SpotInterruption")
    assert spot["sessionId"] == sid and spot["restart"] is False


def test_spot_interruption_restarts_on_on_demand_when_configured(infra, make_service):
    service = make_service(RESTART_ON_INTERRUPTION="true")
    sid, arn = started(service)
    service.handle_task_event(infra.event(arn, "RUNNING"))
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    result = service.handle_task_event(infra.event(arn, "STOPPED", stop_code="SpotInterruption"))
    assert result == {"action": "restarted", "sessionId": sid}

    restart_call = service.scripted_ecs.run_task_calls[-1]
    assert restart_call["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    assert restart_call["startedBy"] == sid
    item = infra.item(sid)
    assert item["status"] == "PROVISIONING" and item["taskArn"] != arn
    assert item["capacityProvider"] == "FARGATE" and item["interruptions"] == 1
    assert "failureReason" not in item
    assert infra.quota() == {"active": 1, "sessionIds": {sid}}  # held throughout
    [task] = infra.running_tasks()
    assert task["taskArn"] == item["taskArn"] and task["capacityProviderName"] == "FARGATE"

    # Redelivery of the interruption does not launch a second replacement.
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="SpotInterruption"))
    assert len(infra.running_tasks()) == 1
    # The replacement reaching RUNNING completes the recovery.
    service.handle_task_event(infra.event(item["taskArn"], "RUNNING"))
    assert infra.item(sid)["status"] == "RUNNING"


def test_failed_restart_marks_failed_and_releases_quota(infra, make_service):
    service = make_service(RESTART_ON_INTERRUPTION="true")
    sid, arn = started(service)
    service.scripted_ecs.script = [capacity_failure(infra.cluster_arn)]
    service.handle_task_event(infra.event(arn, "RUNNING", desired="STOPPED", stop_code="SpotInterruption"))
    item = infra.item(sid)
    assert item["status"] == "FAILED"
    assert item["failureReason"].startswith("restart after a Spot interruption failed: no Fargate capacity")
    assert infra.quota()["active"] == 0


def test_out_of_order_running_after_stopped_does_not_resurrect(infra, make_service):
    service = make_service()
    sid, arn = started(service)
    service.stop(alice, sid)
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="UserInitiated"))
    late = infra.event(arn, "RUNNING")
    service.handle_task_event(late)
    assert infra.item(sid)["status"] == "STOPPED"
    assert infra.quota()["active"] == 0


def test_running_event_for_a_task_without_session_stops_it(infra, make_service, capsys):
    service = make_service()
    sid, arn = started(service)
    infra.ddb.delete_item(TableName=infra.table, Key={"id": {"S": sid}})
    assert service.handle_task_event(infra.event(arn, "RUNNING"))["action"] == "stopped-orphan"
    assert infra.running_tasks() == []
    assert metrics(capsys.readouterr().out, "SessionReaped")[0]["reason"] == "orphan-task"


def test_foreign_events_are_ignored(infra, make_service):
    service = make_service()
    sid, arn = started(service)
    other_cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/other"
    assert service.handle_task_event(infra.event(arn, "STOPPED", cluster_arn=other_cluster))["action"] == "ignored"
    unrelated = infra.ecs.run_task(
        cluster=infra.cluster_arn, taskDefinition="unrelated-batch-job", startedBy="nightly-job",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": infra.subnets, "securityGroups": [infra.security_group]}},
    )["tasks"][0]["taskArn"]
    assert service.handle_task_event(infra.event(unrelated, "RUNNING"))["action"] == "ignored"
    assert service.handle_task_event({"detail-type": "Scheduled Event", "detail": {}})["action"] == "ignored"
    assert infra.item(sid)["status"] == "PROVISIONING"
    assert len(infra.running_tasks()) == 2
