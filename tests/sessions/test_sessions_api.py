"""start / get / list / stop against moto: happy paths, ownership, idempotency, quota, bad input."""

from __future__ import annotations

import re

import pytest

from app.sessions import errors
from app.sessions.service import SESSION_FIELDS, Caller, is_session_id, session_id_for

from .conftest import ADMIN, CONTAINER, FAMILY, OTHER, OWNER, metrics

alice = Caller(OWNER)
bob = Caller(OTHER)
admin = Caller(ADMIN, ("ADMIN",))


def test_start_records_session_and_runs_task_with_strategy_tags_and_overrides(infra, make_service, capsys):
    service = make_service()
    session = service.start(alice, {"sizePreset": "large", "repositoryUrl": "https://github.com/example/repo.git"})

    # Public mode: the one answer that carries the session's password (its owner's start).
    assert set(session) == {*SESSION_FIELDS, "editorPassword"}
    assert is_session_id(session["id"])
    assert session["owner"] == OWNER and session["status"] == "PROVISIONING"
    assert session["sizePreset"] == "large" and session["capacityProvider"] == "FARGATE_SPOT"
    assert session["expiresAt"] - int(service._clock()) == 24 * 3600
    assert session["createdAt"].endswith("Z") and len(session["createdAt"]) == 24

    [call] = service.scripted_ecs.run_task_calls
    assert "launchType" not in call
    assert call["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert call["startedBy"] == session["id"]
    assert call["overrides"]["cpu"] == "4096" and call["overrides"]["memory"] == "8192"
    env = {e["name"]: e["value"] for e in call["overrides"]["containerOverrides"][0]["environment"]}
    assert call["overrides"]["containerOverrides"][0]["name"] == CONTAINER
    assert env == {"SESSION_ID": session["id"], "SESSION_OWNER": OWNER,
                   "REPOSITORY_URL": "https://github.com/example/repo.git"}
    assert call["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"

    [task] = infra.running_tasks()
    assert task["taskArn"] == session["taskArn"]
    assert {t["key"]: t["value"] for t in task["tags"]} == {"owner": OWNER, "sessionId": session["id"]}
    assert task["taskDefinitionArn"].split("/")[-1].startswith(FAMILY + ":")

    item = infra.item(session["id"])
    assert item["quotaHeld"] is True and item["cpu"] == 4096
    assert infra.quota() == {"active": 1, "sessionIds": {session["id"]}}
    [started] = metrics(capsys.readouterr().out, "SessionStarted")
    # [ClusterName] for alarms, [ClusterName, CapacityProvider] for the Spot vs on-demand chart.
    assert started["_aws"]["CloudWatchMetrics"] == [
        {"Namespace": "AIPlatform/Sessions", "Dimensions": [["ClusterName"], ["ClusterName", "CapacityProvider"]],
         "Metrics": [{"Name": "SessionStarted", "Unit": "Count"}]}
    ]
    assert started["ClusterName"] == "sessions" and started["CapacityProvider"] == "FARGATE_SPOT"
    assert started["SessionStarted"] == 1


def test_default_size_applies_when_none_requested(make_service):
    service = make_service()
    assert service.start(alice, None)["sizePreset"] == "small"
    assert service.start(alice, {"sizePreset": None})["sizePreset"] == "small"
    assert service.scripted_ecs.run_task_calls[0]["overrides"]["memory"] == "2048"


def test_get_is_owner_only_unless_admin(make_service):
    service = make_service()
    session = service.start(alice, {})
    assert service.get(alice, session["id"])["id"] == session["id"]
    assert service.get(bob, session["id"]) is None
    assert service.get(admin, session["id"])["owner"] == OWNER
    assert service.get(alice, "8b1e0c1e-0000-4000-8000-000000000000") is None


def test_list_shows_only_own_sessions_newest_first_and_pages(make_service, clock):
    service = make_service(MAX_SESSIONS_PER_USER="5")
    mine = []
    for _ in range(3):
        mine.append(service.start(alice, {})["id"])
        clock.advance(1)
    theirs = service.start(bob, {})["id"]

    page = service.list(alice, {"limit": 2})
    assert [s["id"] for s in page["items"]] == [mine[2], mine[1]]
    assert page["nextToken"]
    rest = service.list(alice, {"limit": 2, "nextToken": page["nextToken"]})
    assert [s["id"] for s in rest["items"]] == [mine[0]]
    assert rest["nextToken"] is None
    assert [s["id"] for s in service.list(bob, {})["items"]] == [theirs]

    # A token from alice's listing cannot be replayed to walk bob's partition.
    with pytest.raises(errors.ValidationError, match="nextToken is invalid"):
        service.list(bob, {"nextToken": page["nextToken"]})
    with pytest.raises(errors.ValidationError, match="nextToken is invalid"):
        service.list(alice, {"nextToken": "not-base64!"})


def test_admin_may_list_everyone_users_may_not(make_service):
    service = make_service()
    a = service.start(alice, {})["id"]
    b = service.start(bob, {})["id"]
    assert {s["id"] for s in service.list(admin, {"all": True})["items"]} == {a, b}
    assert [s["id"] for s in service.list(admin, {"owner": OTHER})["items"]] == [b]
    assert [s["id"] for s in service.list(admin, {"all": True, "status": "PROVISIONING", "limit": 10})["items"]] != []
    with pytest.raises(errors.Forbidden, match="only members of the ADMIN group"):
        service.list(alice, {"all": True})
    with pytest.raises(errors.Forbidden):
        service.list(alice, {"owner": OTHER})
    assert service.list(admin, {})["items"] == []  # an admin's own listing is still their own


def test_stop_is_idempotent_stops_task_and_releases_quota_once(infra, make_service):
    service = make_service()
    session = service.start(alice, {})
    stopped = service.stop(alice, session["id"])
    assert stopped["status"] == "STOPPING"
    assert infra.quota() == {"active": 0, "sessionIds": set()}
    assert infra.running_tasks() == []
    assert infra.task(session["taskArn"])["lastStatus"] == "STOPPED"

    again = service.stop(alice, session["id"])
    assert again["status"] == "STOPPING"
    assert infra.quota()["active"] == 0  # never below zero
    assert "quotaHeld" not in infra.item(session["id"])


def test_stop_of_someone_elses_session_is_not_found_but_admin_may(make_service, infra):
    service = make_service()
    session = service.start(alice, {})
    with pytest.raises(errors.SessionNotFound, match=f"session {session['id']} was not found"):
        service.stop(bob, session["id"])
    assert infra.item(session["id"])["status"] == "PROVISIONING"
    assert service.stop(admin, session["id"])["status"] == "STOPPING"
    assert infra.item(session["id"])["stopReason"] == "stopped by an administrator"


def test_quota_blocks_third_session_until_one_stops(make_service):
    service = make_service()
    first = service.start(alice, {})
    service.start(alice, {})
    with pytest.raises(errors.QuotaExceeded) as info:
        service.start(alice, {})
    assert str(info.value) == (
        "session limit reached: you already have 2 active sessions, the maximum; stop one before starting another"
    )
    service.start(bob, {})  # quotas are per owner
    service.stop(alice, first["id"])
    assert service.start(alice, {})["status"] == "PROVISIONING"


def test_retried_start_with_same_token_returns_the_same_session(infra, make_service):
    service = make_service()
    one = service.start(alice, {"idempotencyToken": "click-42", "sizePreset": "large"})
    two = service.start(alice, {"idempotencyToken": "click-42", "sizePreset": "large"})
    assert one["id"] == two["id"] == session_id_for(OWNER, "click-42")
    assert len(service.scripted_ecs.run_task_calls) == 1
    assert len(infra.running_tasks()) == 1
    assert infra.quota()["active"] == 1
    # The same token from another user is another session.
    assert service.start(bob, {"idempotencyToken": "click-42"})["id"] != one["id"]
    with pytest.raises(errors.IdempotencyConflict, match="already used for a start request with a different sizePreset"):
        service.start(alice, {"idempotencyToken": "click-42", "sizePreset": "small"})


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"sizePreset": "huge"}, "sizePreset 'huge' is not allowed; choose one of: small, large"),
        ({"sizePreset": 4}, "sizePreset 4 is not allowed"),
        ({"size": "small"}, "unknown input field(s) size; allowed: idempotencyToken, repositoryUrl, sizePreset"),
        ("small", "input must be an object"),
        ({"repositoryUrl": "http://github.com/x/y"}, "repositoryUrl must be an https:// URL"),
        ({"repositoryUrl": "https://user:ghp_secret@github.com/x/y"}, "must not embed credentials"),
        ({"repositoryUrl": "https://github.com/x/y z"}, "must not contain spaces"),
        ({"repositoryUrl": "https://github.com:99999/x"}, "is not a valid URL"),
        ({"repositoryUrl": "https://" + "a" * 2050}, "at most 2048 characters"),
        ({"repositoryUrl": ["https://github.com/x"]}, "repositoryUrl must be a string"),
        ({"idempotencyToken": "has space"}, "idempotencyToken must be 1-64 characters"),
        ({"idempotencyToken": "x" * 65}, "idempotencyToken must be 1-64 characters"),
        ({"idempotencyToken": ""}, "idempotencyToken must be 1-64 characters"),
    ],
)
def test_bad_start_input_is_rejected_before_anything_is_written(infra, make_service, request_, message):
    service = make_service()
    with pytest.raises(errors.ValidationError) as info:
        service.start(alice, request_)
    assert message in str(info.value)
    assert infra.session_items() == [] and service.scripted_ecs.run_task_calls == []


@pytest.mark.parametrize("bad_id", [None, "", "quota#" + OWNER, "8B1E0C1E-0000-4000-8000-000000000000", 42])
def test_bad_ids_are_validation_errors(make_service, bad_id):
    service = make_service()
    for call in (service.get, service.stop):
        with pytest.raises(errors.ValidationError, match="id must be a session id"):
            call(alice, bad_id)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"limit": 0}, errors.ValidationError, "limit must be an integer from 1 to 100"),
        ({"limit": True}, errors.ValidationError, "limit must be an integer"),
        ({"status": "DONE"}, errors.ValidationError, "status 'DONE' is not one of PROVISIONING"),
        ({"sort": "asc"}, errors.ValidationError, "unknown arguments field(s) sort"),
        ({"all": "yes"}, errors.ValidationError, "all must be true or false"),
    ],
)
def test_bad_list_arguments(make_service, args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make_service().list(alice, args)


def test_get_heartbeat_refreshes_activity_at_most_once_a_minute(infra, make_service, clock):
    service = make_service()
    session = service.start(alice, {})
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    before = infra.item(session["id"])["lastActivityAt"]
    clock.advance(30)
    service.get(alice, session["id"])
    assert infra.item(session["id"])["lastActivityAt"] == before
    clock.advance(60)
    service.get(admin, session["id"])  # an admin looking does not keep it alive
    assert infra.item(session["id"])["lastActivityAt"] == before
    service.get(alice, session["id"])
    assert infra.item(session["id"])["lastActivityAt"] > before


def test_admin_listing_of_everyone_pages_through_the_whole_table(make_service):
    service = make_service()
    created = {service.start(caller, {})["id"] for caller in (alice, alice, bob)}
    seen, token = [], None
    for _ in range(20):
        page = service.list(admin, {"all": True, "limit": 1, "nextToken": token})
        seen.extend(s["id"] for s in page["items"])
        token = page["nextToken"]
        if token is None:
            break
    # Pages may end on a quota counter item (filtered out); the token must still be accepted.
    assert sorted(seen) == sorted(created)


def test_only_session_starts_are_split_by_capacity_provider():
    from app.sessions import observability

    with pytest.raises(ValueError, match="'SessionStarted' needs capacity_provider"):
        observability.metric("SessionStarted", "sessions")
    with pytest.raises(ValueError, match="'SessionFailed' takes no capacity_provider"):
        observability.metric("SessionFailed", "sessions", capacity_provider="FARGATE")
    with pytest.raises(ValueError, match="unknown metric"):
        observability.metric("SessionsStarted", "sessions")


def test_stop_reason_and_interruptions_are_part_of_the_session(make_service):
    service = make_service()
    session = service.start(alice, {})
    assert (session["stopReason"], session["interruptions"]) == (None, 0)
    stopped = service.stop(alice, session["id"])
    assert (stopped["stopReason"], stopped["interruptions"]) == ("stopped by the owner", 0)
    assert service.get(alice, session["id"])["stopReason"] == "stopped by the owner"
