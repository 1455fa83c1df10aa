"""Private editor access: per-session path routing on the load balancer, against moto's elbv2.

A RUNNING session owns one IP target group and one rule on the HTTPS listener (host <editorDomain>,
path /<sessionId>/*, authenticate-cognito against the platform's user pool, then forward); both are
created before the session turns RUNNING, recorded on its item, removed when it leaves RUNNING, and
swept by the reaper when nothing RUNNING records them.
"""

from __future__ import annotations

import re
import uuid

import pytest
from botocore.exceptions import ClientError

from app.sessions.routing import (RoutingError, cognito_auth, priorities, session_conditions, target_group_name,
                                  target_group_prefix)
from app.sessions.service import Caller, session_id_for

from .conftest import (EDITOR_DOMAIN, OWNER, USER_POOL_ARN, USER_POOL_CLIENT_ID, USER_POOL_DOMAIN, client_error,
                       events, metrics)

alice = Caller(OWNER)
MINUTE = 60


@pytest.fixture
def private(make_service, editor_lb):
    def make(**overrides):
        return make_service(**{**editor_lb.env, "MAX_SESSIONS_PER_USER": "5", **overrides})
    return make


def running(service, infra, token=None):
    session = service.start(alice, {"idempotencyToken": token} if token else {})
    assert service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))["action"] == "running"
    return session["id"], session["taskArn"]


def host_rule(sid: str) -> list[dict]:
    """The conditions of a session's rule: the editor host and the session's path."""
    return [{"Field": "host-header", "HostHeaderConfig": {"Values": [EDITOR_DOMAIN]}},
            {"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/{sid}", f"/{sid}/*"]}}]


AUTH = {"UserPoolArn": USER_POOL_ARN, "UserPoolClientId": USER_POOL_CLIENT_ID, "UserPoolDomain": USER_POOL_DOMAIN,
        "OnUnauthenticatedRequest": "authenticate", "Scope": "openid", "SessionTimeout": 43200}


def other_group(infra, name="other-app", port=80) -> str:
    return infra.elb.create_target_group(Name=name, Protocol="HTTP", Port=port, VpcId=infra.vpc_id,
                                         TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]


def add_rule(editor_lb, priority, conditions, group) -> str:
    return editor_lb.elb.create_rule(ListenerArn=editor_lb.listener_arn, Priority=priority, Conditions=conditions,
                                     Actions=[{"Type": "forward", "TargetGroupArn": group}])["Rules"][0]["RuleArn"]


def assert_unrouted(editor_lb, infra, sid):
    assert [r for r in editor_lb.rules() if f"/{sid}/*" in str(r["Conditions"])] == []
    assert not [g for g in editor_lb.target_groups() if g["TargetGroupName"] == target_group_name(editor_lb.listener_arn, sid)]
    item = infra.item(sid)
    assert "targetGroupArn" not in item and "listenerRuleArn" not in item


# --- names and priorities ------------------------------------------------------------------------
def test_target_group_names_fit_aws_rules_and_the_iam_prefix():
    listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/0123456789abcdef/fedcba9876543210"
    prefix = target_group_prefix(listener)
    assert re.fullmatch(r"ide[0-9a-f]{5}", prefix)
    assert target_group_prefix(listener.replace("fedcba", "abcdef")) != prefix  # per listener
    for _ in range(200):
        sid = str(uuid.uuid4())
        name = target_group_name(listener, sid)
        # AWS: 1-32 alphanumerics or hyphens, not starting or ending with '-', not 'internal-'.
        assert re.fullmatch(r"(?!.*--)(?!internal-)[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]", name), name
        assert len(name) == 32 and name.startswith(prefix + "-")
        assert name == target_group_name(listener, sid)  # deterministic


def test_priorities_are_derived_from_the_session_and_visit_every_priority_once():
    sid = str(uuid.uuid4())
    walk = list(priorities(sid))
    assert sorted(walk) == list(range(1, 50001))
    assert walk[:5] == list(priorities(sid))[:5]
    firsts = {next(priorities(str(uuid.uuid4()))) for _ in range(50)}
    assert len(firsts) > 40  # spread, not clustered on low numbers


# --- creation ------------------------------------------------------------------------------------
def test_running_creates_an_ip_target_group_and_a_host_rule_before_announcing_the_url(infra, editor_lb, private):
    service = private()
    session = service.start(alice, {})
    sid = session["id"]
    seen = []
    service.scripted_elb.before["create_rule"] = lambda _kwargs: seen.append(infra.item(sid)["status"])
    assert service.handle_task_event(infra.event(session["taskArn"], "RUNNING")) == {"action": "running", "sessionId": sid}
    assert seen == ["PROVISIONING"]  # routed first, so the URL works once it is announced

    item = infra.item(sid)
    assert item["status"] == "RUNNING" and item["editorUrl"] == f"https://{EDITOR_DOMAIN}/{sid}/"
    [group] = editor_lb.target_groups()
    assert group["TargetGroupName"] == target_group_name(editor_lb.listener_arn, sid)
    assert (group["Protocol"], group["Port"], group["VpcId"], group["TargetType"]) == ("HTTP", 8080, infra.vpc_id, "ip")
    assert (group["HealthCheckProtocol"], group["HealthCheckPath"], group["Matcher"]) == ("HTTP", "/healthz", {"HttpCode": "200"})
    assert editor_lb.targets(group["TargetGroupArn"]) == [(item["privateIp"], 8080)]
    assert editor_lb.tags(group["TargetGroupArn"]) == {"sessionId": sid, "owner": OWNER}
    [rule] = editor_lb.rules()
    assert rule["Conditions"] == host_rule(sid) == session_conditions(sid, EDITOR_DOMAIN)
    # Signed-in users of the platform's pool only (the container's proxy then admits only the owner).
    assert rule["Actions"] == [
        {"Type": "authenticate-cognito", "Order": 1, "AuthenticateCognitoConfig": AUTH},
        {"Type": "forward", "Order": 2, "TargetGroupArn": group["TargetGroupArn"]}]
    assert AUTH == cognito_auth(USER_POOL_ARN, USER_POOL_CLIENT_ID, USER_POOL_DOMAIN)
    assert int(rule["Priority"]) == next(priorities(sid))
    assert editor_lb.tags(rule["RuleArn"]) == {"sessionId": sid, "owner": OWNER}
    assert (item["targetGroupArn"], item["listenerRuleArn"]) == (group["TargetGroupArn"], rule["RuleArn"])


def test_each_session_gets_its_own_routing(infra, editor_lb, private):
    service = private()
    sids = [running(service, infra)[0] for _ in range(3)]
    rules = editor_lb.rules()
    assert sorted(r["Conditions"][1]["PathPatternConfig"]["Values"][1] for r in rules) == sorted(
        f"/{sid}/*" for sid in sids)
    assert len({r["Priority"] for r in rules}) == 3 and len(editor_lb.target_groups()) == 3


def test_a_crash_after_routing_converges_on_redelivery_without_duplicates(infra, editor_lb, private, monkeypatch):
    service = private()
    session = service.start(alice, {})
    sid, event = session["id"], infra.event(session["taskArn"], "RUNNING")
    original = service._update
    failed = []

    def crash_once(*args, **kwargs):
        if not failed:
            failed.append(True)
            raise client_error("ThrottlingException", "Rate exceeded", "UpdateItem")
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "_update", crash_once)
    with pytest.raises(ClientError):
        service.handle_task_event(event)
    assert infra.item(sid)["status"] == "PROVISIONING"
    assert len(editor_lb.rules()) == 1 and len(editor_lb.target_groups()) == 1

    assert service.handle_task_event(event)["action"] == "running"  # EventBridge redelivers
    [rule], [group] = editor_lb.rules(), editor_lb.target_groups()
    item = infra.item(sid)
    assert (item["listenerRuleArn"], item["targetGroupArn"]) == (rule["RuleArn"], group["TargetGroupArn"])
    assert editor_lb.targets(group["TargetGroupArn"]) == [(item["privateIp"], 8080)]


def test_ensure_is_idempotent(infra, editor_lb, private):
    service = private()
    sid, _ = running(service, infra)
    item = infra.item(sid)
    again = service._routes.ensure(sid, OWNER, item["privateIp"])
    assert (again.target_group_arn, again.rule_arn) == (item["targetGroupArn"], item["listenerRuleArn"])
    assert len(editor_lb.rules()) == 1 and len(editor_lb.target_groups()) == 1


def test_a_target_group_left_with_other_settings_is_replaced(infra, editor_lb, private):
    service = private()
    sid = session_id_for(OWNER, "t-1")
    stale = other_group(infra, name=target_group_name(editor_lb.listener_arn, sid), port=9090)
    add_rule(editor_lb, 7, host_rule(sid), stale)
    running(service, infra, token="t-1")
    [group] = editor_lb.target_groups()
    assert group["TargetGroupArn"] != stale and group["Port"] == 8080
    [rule] = editor_lb.rules()
    assert rule["Actions"][-1]["TargetGroupArn"] == group["TargetGroupArn"]


def test_a_session_stopped_while_being_routed_leaves_no_routing(infra, editor_lb, private):
    service = private()
    session = service.start(alice, {})
    sid = session["id"]
    service.scripted_elb.before["create_rule"] = lambda _kwargs: service.stop(alice, sid)
    assert service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))["action"] == "unchanged"
    assert infra.item(sid)["status"] == "STOPPING"
    assert editor_lb.rules() == [] and editor_lb.target_groups() == []


def test_a_routing_recorded_meanwhile_by_the_reaper_is_kept(infra, editor_lb, private, monkeypatch):
    service = private()
    session = service.start(alice, {})
    real_ensure = service._routes.ensure
    raced = []

    def ensure_then_the_reaper_wins(*args):
        route = real_ensure(*args)
        if not raced:
            raced.append(True)
            assert service.reap() == {"marked-running": 1}  # same routing, recorded first
        return route

    monkeypatch.setattr(service._routes, "ensure", ensure_then_the_reaper_wins)
    assert service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))["action"] == "unchanged"
    item = infra.item(session["id"])
    [rule], [group] = editor_lb.rules(), editor_lb.target_groups()
    assert item["status"] == "RUNNING"
    assert (item["listenerRuleArn"], item["targetGroupArn"]) == (rule["RuleArn"], group["TargetGroupArn"])


# --- priorities -----------------------------------------------------------------------------------
def test_a_taken_priority_is_skipped(infra, editor_lb, private):
    service = private()
    sid = session_id_for(OWNER, "t-2")
    first, second = list(priorities(sid))[:2]
    foreign = add_rule(editor_lb, first, [{"Field": "host-header", "HostHeaderConfig": {"Values": ["www.example.com"]}}],
                       other_group(infra))
    running(service, infra, token="t-2")
    assert int(infra.elb.describe_rules(RuleArns=[infra.item(sid)["listenerRuleArn"]])["Rules"][0]["Priority"]) == second
    assert any(r["RuleArn"] == foreign for r in editor_lb.rules())


def test_a_priority_taken_concurrently_is_retried_with_the_next_one(infra, editor_lb, private):
    service = private()
    sid = session_id_for(OWNER, "t-3")
    first, second = list(priorities(sid))[:2]
    competitor = other_group(infra)

    def another_session_wins(kwargs):
        if len(service.scripted_elb.called("create_rule")) == 1:
            add_rule(editor_lb, kwargs["Priority"], host_rule(str(uuid.uuid4())), competitor)

    service.scripted_elb.before["create_rule"] = another_session_wins
    running(service, infra, token="t-3")
    assert [c["Priority"] for c in service.scripted_elb.called("create_rule")] == [first, second]
    mine = infra.item(sid)["listenerRuleArn"]
    assert int(infra.elb.describe_rules(RuleArns=[mine])["Rules"][0]["Priority"]) == second
    assert len(editor_lb.rules()) == 2


def test_priority_retries_are_bounded(infra, editor_lb, private):
    service = private()
    session = service.start(alice, {})
    service.scripted_elb.failures["create_rule"] = [
        client_error("PriorityInUse", "The specified priority is in use.", "CreateRule") for _ in range(10)]
    with pytest.raises(RoutingError, match="no free listener rule priority"):
        service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    assert infra.item(session["id"])["status"] == "PROVISIONING"  # redelivery or the reaper try again
    assert len(service.scripted_elb.called("create_rule")) == 10


@pytest.mark.parametrize("method,code", [("create_rule", "TooManyRules"),
                                         ("create_target_group", "TooManyTargetGroups"),
                                         ("create_rule", "TooManyUniqueTargetGroupsPerLoadBalancer")])
def test_a_full_load_balancer_fails_the_session_cleanly(infra, editor_lb, private, capsys, method, code):
    service = private()
    session = service.start(alice, {})
    service.scripted_elb.failures[method] = [client_error(code, "quota reached", "CreateRule")]
    result = service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    assert result == {"action": "failed", "sessionId": session["id"]}
    item = infra.item(session["id"])
    assert item["status"] == "FAILED" and "quotaHeld" not in item
    assert item["failureReason"].startswith("the editor could not be reached through the load balancer")
    assert code in item["failureReason"]
    assert infra.quota()["active"] == 0 and infra.running_tasks() == []
    assert editor_lb.rules() == [] and editor_lb.target_groups() == []
    [failed] = metrics(capsys.readouterr().out, "SessionFailed")
    assert failed["reason"] == "routing-capacity"


# --- removal --------------------------------------------------------------------------------------
def test_stop_removes_the_rule_then_the_target_group(infra, editor_lb, private):
    service = private()
    sid, arn = running(service, infra)
    assert service.stop(alice, sid)["status"] == "STOPPING"
    assert [name for name, _ in service.scripted_elb.calls if name.startswith("delete_")] == [
        "delete_rule", "delete_target_group"]
    assert editor_lb.rules() == [] and editor_lb.target_groups() == []
    assert_unrouted(editor_lb, infra, sid)
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="UserInitiated"))
    assert infra.item(sid)["status"] == "STOPPED"


def test_container_exit_removes_the_routing(infra, editor_lb, private):
    service = private()
    sid, arn = running(service, infra)
    other, _ = running(service, infra)
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="EssentialContainerExited"))
    assert infra.item(sid)["status"] == "STOPPED"
    assert_unrouted(editor_lb, infra, sid)
    assert infra.item(other)["listenerRuleArn"] == editor_lb.rules()[0]["RuleArn"]  # the other one stays


def test_a_failed_removal_on_stop_is_finished_by_the_stopped_event(infra, editor_lb, private, capsys):
    service = private()
    sid, arn = running(service, infra)
    service.scripted_elb.failures["delete_rule"] = [client_error("Throttling", "Rate exceeded", "DeleteRule")]
    assert service.stop(alice, sid)["status"] == "STOPPING"  # the user's stop does not fail on it
    assert len(editor_lb.rules()) == 1 and infra.item(sid)["listenerRuleArn"]
    assert events(capsys.readouterr().out, "route_removal_failed")
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="UserInitiated"))
    assert_unrouted(editor_lb, infra, sid)


def test_a_failed_removal_on_the_stopped_event_raises_and_the_redelivery_finishes(infra, editor_lb, private):
    service = private()
    sid, arn = running(service, infra)
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    event = infra.event(arn, "STOPPED", stop_code="EssentialContainerExited")
    service.scripted_elb.failures["delete_target_group"] = [client_error("Throttling", "Rate exceeded", "DeleteTargetGroup")]
    with pytest.raises(ClientError):
        service.handle_task_event(event)
    assert infra.item(sid)["status"] == "STOPPED" and infra.quota()["active"] == 0  # the transition stands
    assert infra.item(sid)["targetGroupArn"]
    assert service.handle_task_event(event)["action"] == "ignored"
    assert_unrouted(editor_lb, infra, sid)


def test_reaped_sessions_lose_their_routing(infra, editor_lb, private, clock):
    service = private(IDLE_TIMEOUT_MINUTES="30")
    sid, _ = running(service, infra)
    clock.advance(31 * MINUTE)
    assert service.reap() == {"reaped-idle-timeout": 1}
    assert infra.item(sid)["status"] == "STOPPING"
    assert_unrouted(editor_lb, infra, sid)


def test_a_restarted_session_is_routed_to_its_replacement_only(infra, editor_lb, private):
    service = private(RESTART_ON_INTERRUPTION="true")
    sid, arn = running(service, infra)
    old_ip = infra.item(sid)["privateIp"]
    # The interruption's removal fails: the replacement's routing must still end up exact.
    service.scripted_elb.failures["delete_rule"] = [client_error("Throttling", "Rate exceeded", "DeleteRule")]
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn)
    assert service.handle_task_event(infra.event(arn, "STOPPED", stop_code="SpotInterruption"))["action"] == "restarted"
    replacement = infra.item(sid)["taskArn"]
    [left] = editor_lb.target_groups()
    # The interrupted task's address, still registered (moto may hand the replacement the same IP).
    infra.elb.register_targets(TargetGroupArn=left["TargetGroupArn"], Targets=[{"Id": "10.20.9.9", "Port": 8080}])
    assert ("10.20.9.9", 8080) in editor_lb.targets(left["TargetGroupArn"]) and old_ip
    assert service.handle_task_event(infra.event(replacement, "RUNNING"))["action"] == "running"
    item = infra.item(sid)
    [rule], [group] = editor_lb.rules(), editor_lb.target_groups()
    assert (item["listenerRuleArn"], item["targetGroupArn"]) == (rule["RuleArn"], group["TargetGroupArn"])
    assert editor_lb.targets(group["TargetGroupArn"]) == [(item["privateIp"], 8080)]
    assert item["interruptions"] == 1 and item["taskArn"] == replacement


def test_a_spot_warning_keeps_the_routing_until_the_task_stops(infra, editor_lb, private, clock):
    """Spot warns about two minutes ahead: the owner can still reach the IDE to save work, and the
    reaper spares the routing meanwhile; the task's STOPPED event removes it."""
    service = private()
    sid, arn = running(service, infra)
    service.handle_task_event(infra.event(arn, "RUNNING", desired="STOPPED", stop_code="SpotInterruption"))
    item = infra.item(sid)
    assert item["status"] == "INTERRUPTED" and "quotaHeld" not in item
    [rule] = editor_lb.rules()
    assert item["listenerRuleArn"] == rule["RuleArn"]
    clock.advance(60)
    service.reap()
    assert [r["RuleArn"] for r in editor_lb.rules()] == [rule["RuleArn"]]
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=arn, reason="spot")
    service.handle_task_event(infra.event(arn, "STOPPED", stop_code="SpotInterruption"))
    assert_unrouted(editor_lb, infra, sid)


# --- the reaper -----------------------------------------------------------------------------------
def test_reaper_removes_orphan_routings_and_spares_live_and_foreign_ones(infra, editor_lb, private):
    service = private()
    live, _ = running(service, infra)
    gone, _ = running(service, infra)
    closed, _ = running(service, infra)
    # The item of `gone` was deleted (TTL); `closed` was closed while its removal failed.
    infra.ddb.delete_item(TableName=infra.table, Key={"id": {"S": gone}})
    infra.ddb.update_item(TableName=infra.table, Key={"id": {"S": closed}}, UpdateExpression="SET #s = :s REMOVE quotaHeld",
                          ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "STOPPED"}})
    live_item = infra.item(live)
    duplicate = add_rule(editor_lb, 49999, host_rule(live), live_item["targetGroupArn"])  # a crashed attempt's
    never_recorded = str(uuid.uuid4())
    stray = infra.elb.create_target_group(
        Name=target_group_name(editor_lb.listener_arn, never_recorded), Protocol="HTTP", Port=8080, VpcId=infra.vpc_id,
        TargetType="ip", Tags=[{"Key": "sessionId", "Value": never_recorded}])["TargetGroups"][0]["TargetGroupArn"]
    foreign_group = other_group(infra)
    foreign_rule = add_rule(editor_lb, 5, [{"Field": "host-header", "HostHeaderConfig": {"Values": ["www.example.com"]}}],
                            foreign_group)

    counts = service.reap()
    # gone: rule + group; closed: rule + group; the duplicate rule; the stray group.
    assert counts["routes-removed"] == 6
    rules = {r["RuleArn"] for r in editor_lb.rules()}
    assert rules == {live_item["listenerRuleArn"], foreign_rule}
    groups = {g["TargetGroupArn"] for g in editor_lb.target_groups()}
    assert groups == {live_item["targetGroupArn"], foreign_group}
    assert duplicate not in rules and stray not in groups
    assert "listenerRuleArn" not in infra.item(closed)  # the closed item forgets what was deleted
    assert service.reap() == {}  # nothing left to do


def test_routing_in_flight_for_a_provisioning_session_survives_the_sweep_until_stale(infra, editor_lb, private, clock):
    service = private()
    session = service.start(alice, {})
    task = infra.task(session["taskArn"])
    ip = next(d["value"] for a in task["attachments"] for d in a["details"] if d["name"] == "privateIPv4Address")
    service._routes.ensure(session["id"], OWNER, ip)  # the task-state handler, between routing and recording
    assert service._reap_routes([]) == {}
    assert len(editor_lb.rules()) == 1
    clock.advance(16 * MINUTE)
    assert service._reap_routes([]) == {"routes-removed": 2}
    assert editor_lb.rules() == [] and editor_lb.target_groups() == []


def test_reaper_routes_a_running_session_that_has_no_routing(infra, editor_lb, private):
    service = private()
    sid, _ = running(service, infra)
    item = infra.item(sid)
    # A session that reached RUNNING before routing existed: nothing on the load balancer.
    service._routes.remove(item["targetGroupArn"], item["listenerRuleArn"])
    infra.ddb.update_item(TableName=infra.table, Key={"id": {"S": sid}},
                          UpdateExpression="REMOVE targetGroupArn, listenerRuleArn SET editorUrl = :u",
                          ExpressionAttributeValues={":u": {"S": f"https://old.example.com/{sid}/"}})
    assert service.reap() == {"routed": 1}
    item = infra.item(sid)
    [rule] = editor_lb.rules()
    assert item["listenerRuleArn"] == rule["RuleArn"] and item["editorUrl"] == f"https://{EDITOR_DOMAIN}/{sid}/"


def test_reaper_recovers_a_lost_running_event_with_routing(infra, editor_lb, private):
    service = private()
    session = service.start(alice, {})
    assert service.reap() == {"marked-running": 1}
    item = infra.item(session["id"])
    assert item["status"] == "RUNNING" and item["listenerRuleArn"] == editor_lb.rules()[0]["RuleArn"]


def test_public_mode_never_touches_a_load_balancer(infra, make_service, clock):
    service = make_service()
    session = service.start(alice, {})
    infra.assign_public_ip(session["taskArn"])
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    service.stop(alice, session["id"])
    service.reap()
    assert service.scripted_elb.calls == []


def test_the_editor_url_is_announced_once_the_target_is_healthy(infra, editor_lb, private, monkeypatch):
    service = private()
    session = service.start(alice, {})
    states = iter(["initial", "initial", "healthy"])
    waits, seen = [], []
    real = service.scripted_elb.real.describe_target_health

    def describe_target_health(**kwargs):
        answer = real(TargetGroupArn=kwargs["TargetGroupArn"])
        if "Targets" in kwargs:  # the wait's query for the new target
            seen.append(infra.item(session["id"])["status"])
            for d in answer["TargetHealthDescriptions"]:
                d["TargetHealth"] = {"State": next(states)}
        return answer

    monkeypatch.setattr(service.scripted_elb.real, "describe_target_health", describe_target_health)
    monkeypatch.setattr(service, "_sleep", waits.append)
    assert service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))["action"] == "running"
    assert seen == ["PROVISIONING"] * 3 and waits == [5, 5]  # not announced while initial
    assert infra.item(session["id"])["editorUrl"] == f"https://{EDITOR_DOMAIN}/{session['id']}/"


def test_a_target_slow_to_turn_healthy_is_announced_after_the_wait(infra, editor_lb, private, monkeypatch, capsys):
    service = private()
    session = service.start(alice, {})
    real = service.scripted_elb.real.describe_target_health

    def never_healthy(**kwargs):
        answer = real(TargetGroupArn=kwargs["TargetGroupArn"])
        for d in answer["TargetHealthDescriptions"]:
            d["TargetHealth"] = {"State": "initial"}
        return answer

    monkeypatch.setattr(service.scripted_elb.real, "describe_target_health", never_healthy)
    waits = []
    monkeypatch.setattr(service, "_sleep", waits.append)
    assert service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))["action"] == "running"
    assert sum(waits) == 35 and infra.item(session["id"])["status"] == "RUNNING"
    assert events(capsys.readouterr().out, "editor_target_not_healthy_yet")
