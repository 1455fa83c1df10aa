"""The Lambda adapters, configured through the environment exactly as deployed."""

from __future__ import annotations

import pytest

from app.sessions import errors, handlers

from .conftest import ADMIN, OTHER, OWNER, events


class Context:
    aws_request_id = "req-123"


def appsync_event(field, arguments, sub=OWNER, groups=()):
    parent = "Mutation" if field in ("startSession", "stopSession") else "Query"
    return {"arguments": arguments, "identity": {"sub": sub, "claims": {"cognito:groups": list(groups)}},
            "info": {"fieldName": field, "parentTypeName": parent}}


@pytest.fixture
def deployed(infra, monkeypatch):
    for key, value in infra.env.items():
        monkeypatch.setenv(key, value)
    handlers.reset()
    yield infra
    handlers.reset()


def test_api_handler_serves_the_four_fields(deployed):
    started = handlers.api_handler(appsync_event("startSession", {"input": {"sizePreset": "large", "idempotencyToken": "k1"}}), Context())
    assert started["status"] == "PROVISIONING" and started["sizePreset"] == "large"
    sid = started["id"]
    assert handlers.api_handler(appsync_event("getSession", {"id": sid}), Context())["id"] == sid
    assert handlers.api_handler(appsync_event("getSession", {"id": sid}, sub=OTHER), Context()) is None
    listed = handlers.api_handler(appsync_event("listSessions", {"limit": 20, "nextToken": None}), Context())
    assert [s["id"] for s in listed["items"]] == [sid] and listed["nextToken"] is None
    admin_list = handlers.api_handler(appsync_event("listSessions", {"limit": 20, "all": True}, sub=ADMIN, groups=["ADMIN"]), Context())
    assert [s["id"] for s in admin_list["items"]] == [sid]
    assert handlers.api_handler(appsync_event("stopSession", {"id": sid}), Context())["status"] == "STOPPING"


def test_errors_are_typed_with_user_facing_messages(deployed, capsys):
    for _ in range(2):
        handlers.api_handler(appsync_event("startSession", {"input": {}}), Context())
    with pytest.raises(errors.QuotaExceeded, match="session limit reached"):
        handlers.api_handler(appsync_event("startSession", {"input": {}}), Context())
    with pytest.raises(errors.Unauthorized, match="sign in"):
        handlers.api_handler({"arguments": {}, "identity": None, "info": {"fieldName": "getSession"}}, Context())
    with pytest.raises(errors.ValidationError, match="field 'deleteSession' is not served"):
        handlers.api_handler(appsync_event("deleteSession", {}), Context())
    with pytest.raises(errors.ValidationError, match="batch invocation is not supported"):
        handlers.api_handler([appsync_event("getSession", {"id": "x"})], Context())
    with pytest.raises(errors.SessionNotFound):
        handlers.api_handler(appsync_event("stopSession", {"id": "8b1e0c1e-0000-4000-8000-000000000000"}), Context())
    logged = events(capsys.readouterr().out, "api_error")
    assert {e["errorType"] for e in logged} >= {"QuotaExceeded", "Unauthorized", "ValidationError", "SessionNotFound"}


def test_unexpected_failures_become_internal_errors_with_request_id(deployed, monkeypatch, capsys):
    service = handlers._service()

    def broken(*_args):
        raise KeyError("taskArn")

    monkeypatch.setattr(service, "start", broken)
    with pytest.raises(errors.InternalError) as info:
        handlers.api_handler(appsync_event("startSession", {"input": {}}), Context())
    assert str(info.value) == "internal error; quote request id req-123 when reporting it"
    [logged] = events(capsys.readouterr().out, "api_unhandled_error")
    assert "KeyError" in logged["error"] and "Traceback" in logged["traceback"]


def test_misconfiguration_is_service_unavailable_for_users_and_named_in_logs(deployed, monkeypatch, capsys):
    monkeypatch.delenv("SIZE_PRESETS")
    handlers.reset()
    with pytest.raises(errors.ServiceUnavailable, match="misconfigured"):
        handlers.api_handler(appsync_event("getSession", {"id": "8b1e0c1e-0000-4000-8000-000000000000"}), Context())
    [logged] = events(capsys.readouterr().out, "configuration_error")
    assert logged["message"] == "environment variable SIZE_PRESETS is required but not set"


def test_task_state_and_reaper_handlers(deployed):
    started = handlers.api_handler(appsync_event("startSession", {"input": {}}), Context())
    result = handlers.task_state_handler(deployed.event(started["taskArn"], "RUNNING"), Context())
    assert result == {"action": "running", "sessionId": started["id"]}
    assert deployed.item(started["id"])["status"] == "RUNNING"
    assert handlers.reaper_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, Context()) == {}


def test_clients_are_created_lazily_and_reused(deployed):
    service = handlers._service()
    assert handlers._service() is service
    assert service._ec2._client is None  # nothing touched EC2 yet
    handlers.api_handler(appsync_event("listSessions", {"limit": 5}), Context())
    assert service._ecs._client is None and service._ddb._client is not None
