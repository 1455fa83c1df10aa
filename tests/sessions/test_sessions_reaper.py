"""The reaper: lifetime and idle limits, orphans both ways, crashed launches, quota reconciliation."""

from __future__ import annotations

import uuid

import pytest

from app.sessions.service import Caller

from .conftest import OWNER, metrics

alice = Caller(OWNER)
HOUR = 3600


def running(service, infra):
    session = service.start(alice, {})
    infra.assign_public_ip(session["taskArn"])
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    return session["id"], session["taskArn"]


def test_nothing_to_do_on_a_healthy_fleet(infra, make_service):
    service = make_service()
    sid, _ = running(service, infra)
    assert service.reap() == {}
    assert infra.item(sid)["status"] == "RUNNING"


def test_sessions_past_max_lifetime_are_stopped(infra, make_service, clock, capsys):
    service = make_service(IDLE_TIMEOUT_MINUTES="0")
    sid, arn = running(service, infra)
    clock.advance(7 * HOUR)
    assert service.reap() == {}
    clock.advance(1 * HOUR + 1)
    assert service.reap() == {"reaped-max-lifetime": 1}
    item = infra.item(sid)
    assert item["status"] == "STOPPING" and item["stopReason"] == "reached the maximum lifetime of 8 h"
    assert infra.task(arn)["lastStatus"] == "STOPPED"
    assert infra.quota()["active"] == 0
    [reaped] = metrics(capsys.readouterr().out, "SessionReaped")
    assert reaped["reason"] == "max-lifetime"


def test_idle_sessions_are_stopped_unless_the_owner_keeps_polling(infra, make_service, clock):
    service = make_service(IDLE_TIMEOUT_MINUTES="30")
    idle, _ = running(service, infra)
    busy, _ = running(service, infra)
    for _ in range(3):
        clock.advance(20 * 60)
        service.get(alice, busy)
    assert service.reap() == {"reaped-idle-timeout": 1}
    assert infra.item(idle)["status"] == "STOPPING"
    assert infra.item(idle)["stopReason"] == "idle for more than 30 min"
    assert infra.item(busy)["status"] == "RUNNING"


def test_items_whose_task_is_gone_are_closed(infra, make_service):
    service = make_service()
    stopped_behind_our_back, arn = running(service, infra)
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn, reason="operator")
    vanished = service.start(alice, {})["id"]
    # ECS forgets stopped tasks after a while: DescribeTasks no longer returns them.
    fake_arn = f"{infra.cluster_arn.replace(':cluster/', ':task/')}/{uuid.uuid4().hex}"
    infra.ddb.update_item(TableName=infra.table, Key={"id": {"S": vanished}}, UpdateExpression="SET taskArn = :a",
                          ExpressionAttributeValues={":a": {"S": fake_arn}})

    assert service.reap()["reaped-task-gone"] == 2
    assert infra.item(stopped_behind_our_back)["status"] == "STOPPED"
    assert infra.item(stopped_behind_our_back)["stopReason"] == "the container stopped: operator"
    assert infra.item(vanished)["status"] == "FAILED"  # it never reached RUNNING
    assert infra.quota() == {"active": 0, "sessionIds": set()}


def test_stopping_sessions_are_closed_once_their_task_stopped(infra, make_service):
    service = make_service()
    sid, arn = running(service, infra)
    service.stop(alice, sid)  # the STOPPED event is lost
    assert service.reap() == {"reaped-task-gone": 1}
    assert infra.item(sid)["status"] == "STOPPED"


def test_orphan_tasks_without_session_items_are_stopped(infra, make_service):
    service = make_service()
    kept, kept_arn = running(service, infra)
    network = {"awsvpcConfiguration": {"subnets": infra.subnets, "securityGroups": [infra.security_group]}}
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]

    def run(family, started_by=None):
        kwargs = {"startedBy": started_by} if started_by else {}
        return infra.ecs.run_task(cluster=infra.cluster_arn, taskDefinition=family, networkConfiguration=network,
                                  capacityProviderStrategy=strategy, **kwargs)["tasks"][0]["taskArn"]

    no_item = run("code-server", str(uuid.uuid4()))       # its item was TTL-deleted / rolled back
    manual = run("code-server")                          # someone ran the family by hand
    closed_sid, closed_arn = running(service, infra)     # item closed, task somehow still up
    infra.ddb.update_item(TableName=infra.table, Key={"id": {"S": closed_sid}},
                          UpdateExpression="SET #s = :s REMOVE quotaHeld", ExpressionAttributeNames={"#s": "status"},
                          ExpressionAttributeValues={":s": {"S": "STOPPED"}})
    other_family = run("unrelated-batch-job", "nightly")

    counts = service.reap()
    assert counts["orphans-stopped"] == 3
    still_running = {t["taskArn"] for t in infra.running_tasks()}
    assert still_running == {kept_arn, other_family}
    assert {no_item, manual, closed_arn}.isdisjoint(still_running)
    assert infra.item(kept)["status"] == "RUNNING"


def test_start_in_flight_is_not_an_orphan(infra, make_service):
    service = make_service()
    seen = {}

    def reaper_runs_between_run_task_and_record(kwargs):
        arn = infra.ecs.run_task(**kwargs)["tasks"][0]["taskArn"]
        seen["counts"] = service.reap()
        seen["arn"] = arn
        raise AssertionError("not reached")

    # Emulate the window: task launched, item not yet updated with it.
    service.scripted_ecs.before_run_task = reaper_runs_between_run_task_and_record
    with pytest.raises(AssertionError):
        service.start(alice, {})
    assert seen["counts"] == {}


def test_crashed_launch_is_failed_after_the_grace_period(infra, make_service, clock):
    service = make_service()

    class LambdaTimeout(BaseException):
        """The runtime killing the function: no except-Exception cleanup runs."""

    service.scripted_ecs.script = [LambdaTimeout()]
    with pytest.raises(LambdaTimeout):
        service.start(alice, {})
    [item] = infra.session_items()
    assert item["status"] == "PROVISIONING" and "taskArn" not in item and infra.quota()["active"] == 1

    clock.advance(10 * 60)
    assert service.reap() == {}
    clock.advance(6 * 60)
    assert service.reap() == {"reaped-launch-incomplete": 1}
    item = infra.item(item["id"])
    assert item["status"] == "FAILED" and item["failureReason"] == "the launch did not complete"
    assert infra.quota() == {"active": 0, "sessionIds": set()}


def test_lost_running_event_is_recovered(infra, make_service):
    service = make_service()
    session = service.start(alice, {})
    ip = infra.assign_public_ip(session["taskArn"])
    assert service.reap() == {"marked-running": 1}
    item = infra.item(session["id"])
    assert item["status"] == "RUNNING" and item["editorUrl"] == f"http://{ip}:8080/"


def test_quota_of_a_ttl_deleted_session_is_reclaimed(infra, make_service):
    service = make_service()
    sid, arn = running(service, infra)
    infra.ddb.delete_item(TableName=infra.table, Key={"id": {"S": sid}})  # DynamoDB TTL did this
    counts = service.reap()
    assert counts == {"orphans-stopped": 1, "quota-reclaimed": 1}
    assert infra.quota() == {"active": 0, "sessionIds": set()}
    assert infra.running_tasks() == []
    # And the owner can use both slots again.
    service.start(alice, {})
    service.start(alice, {})


def test_one_failing_item_does_not_stop_the_sweep_but_fails_the_run(infra, make_service, clock, capsys):
    service = make_service(IDLE_TIMEOUT_MINUTES="0")
    first, _ = running(service, infra)
    second, _ = running(service, infra)
    clock.advance(9 * HOUR)
    real_stop = service.scripted_ecs.stop_task
    calls = {"n": 0}

    def flaky_stop(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real_stop(**kwargs)

    service.scripted_ecs.stop_task = flaky_stop
    with pytest.raises(RuntimeError, match="reaper finished with 1 error"):
        service.reap()
    statuses = sorted(infra.item(s)["status"] for s in (first, second))
    assert statuses == ["STOPPING", "STOPPING"]
    assert infra.quota()["active"] == 0
    assert "reap_item_failed" in capsys.readouterr().out


def test_each_run_reports_the_active_sessions_gauge(infra, make_service, capsys):
    service = make_service(MAX_SESSIONS_PER_USER="5")
    service.reap()
    [empty] = metrics(capsys.readouterr().out, "ActiveSessions")
    assert empty["ActiveSessions"] == 0  # emitted every run, so the chart shows zero, not a gap
    running(service, infra)
    running(service, infra)
    service.start(alice, {})  # PROVISIONING counts too
    stopping, _ = running(service, infra)
    service.stop(alice, stopping)  # STOPPING does not
    capsys.readouterr()
    service.reap()
    [gauge] = metrics(capsys.readouterr().out, "ActiveSessions")
    assert gauge["ActiveSessions"] == 3 and gauge["ClusterName"] == "sessions"
    assert gauge["_aws"]["CloudWatchMetrics"] == [{"Namespace": "AIPlatform/Sessions", "Dimensions": [["ClusterName"]],
                                                   "Metrics": [{"Name": "ActiveSessions", "Unit": "Count"}]}]
