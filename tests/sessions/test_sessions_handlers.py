"""The Lambda adapters, configured through the environment exactly as deployed."""

from __future__ import annotations

import re

import pytest

from app.sessions import errors, handlers
from tests.conftest import ROOT

from .conftest import ADMIN, OTHER, OWNER, events

RESOLVER = ROOT / "app" / "graphql" / "resolvers" / "sessionsLambda.js"
USER_ERRORS = sorted(cls.__name__ for cls in errors.SessionError.__subclasses__())


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


def error_result(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def test_user_facing_errors_are_returned_typed_not_raised(deployed, capsys):
    for _ in range(2):
        handlers.api_handler(appsync_event("startSession", {"input": {}}), Context())
    assert handlers.api_handler(appsync_event("startSession", {"input": {}}), Context()) == error_result(
        "QuotaExceeded",
        "session limit reached: you already have 2 active sessions, the maximum; stop one before starting another")
    assert handlers.api_handler({"arguments": {}, "identity": None, "info": {"fieldName": "getSession"}}, Context()) \
        == error_result("Unauthorized", "sign in with a user account to manage sessions")
    assert handlers.api_handler(appsync_event("deleteSession", {}), Context()) == error_result(
        "ValidationError", "field 'deleteSession' is not served by the sessions resolver")
    assert handlers.api_handler([appsync_event("getSession", {"id": "x"})], Context()) == error_result(
        "ValidationError", "expected one AppSync resolver event; batch invocation is not supported")
    missing = "8b1e0c1e-0000-4000-8000-000000000000"
    assert handlers.api_handler(appsync_event("stopSession", {"id": missing}), Context()) == error_result(
        "SessionNotFound", f"session {missing} was not found")
    assert handlers.api_handler(appsync_event("listSessions", {"all": True}), Context()) == error_result(
        "Forbidden", "only members of the ADMIN group can list other users' sessions")
    logged = events(capsys.readouterr().out, "api_error")
    assert {e["errorType"] for e in logged} == {"QuotaExceeded", "Unauthorized", "ValidationError", "SessionNotFound",
                                                "Forbidden"}


@pytest.mark.parametrize("name", USER_ERRORS)
def test_every_user_facing_error_class_becomes_exactly_type_and_message(deployed, monkeypatch, name):
    service = handlers._service()

    def failing(*_args):
        raise getattr(errors, name)(f"what the caller reads about {name}")

    monkeypatch.setattr(service, "stop", failing)
    result = handlers.api_handler(appsync_event("stopSession", {"id": "8b1e0c1e-0000-4000-8000-000000000000"}), Context())
    assert result == error_result(name, f"what the caller reads about {name}")


def test_returned_error_types_are_the_ones_the_resolver_passes_on():
    """The JS resolver turns only the types it lists into typed GraphQL errors (anything else becomes
    InternalError): the two lists must be the same."""
    listed = re.search(r"const ERROR_TYPES = \[(.*?)\];", RESOLVER.read_text(), re.S)
    assert listed, "sessionsLambda.js no longer declares ERROR_TYPES"
    assert sorted(re.findall(r"'(\w+)'", listed.group(1))) == USER_ERRORS
    assert len(USER_ERRORS) == 12


def test_unexpected_failures_are_logged_and_raised_for_lambda_to_report(deployed, monkeypatch, capsys):
    service = handlers._service()

    def broken(*_args):
        raise KeyError("taskArn")

    monkeypatch.setattr(service, "start", broken)
    with pytest.raises(KeyError, match="taskArn"):
        handlers.api_handler(appsync_event("startSession", {"input": {}}), Context())
    [logged] = events(capsys.readouterr().out, "api_unhandled_error")
    assert "KeyError" in logged["error"] and "Traceback" in logged["traceback"]
    assert logged["requestId"] == "req-123" and logged["field"] == "startSession"


def test_misconfiguration_is_service_unavailable_for_users_and_named_in_logs(deployed, monkeypatch, capsys):
    monkeypatch.delenv("SIZE_PRESETS")
    handlers.reset()
    result = handlers.api_handler(appsync_event("getSession", {"id": "8b1e0c1e-0000-4000-8000-000000000000"}), Context())
    assert result == error_result("ServiceUnavailable",
                                  "the sessions service is misconfigured; an administrator has to fix its settings")
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


def test_private_mode_handlers_route_through_their_own_elbv2_client(deployed, editor_lb, monkeypatch):
    for key, value in editor_lb.env.items():
        monkeypatch.setenv(key, value)
    handlers.reset()
    started = handlers.api_handler(appsync_event("startSession", {"input": {}}), Context())
    assert handlers.task_state_handler(deployed.event(started["taskArn"], "RUNNING"), Context())["action"] == "running"
    [rule] = editor_lb.rules()
    assert deployed.item(started["id"])["listenerRuleArn"] == rule["RuleArn"]
    stopped = handlers.api_handler(appsync_event("stopSession", {"id": started["id"]}), Context())
    assert stopped["status"] == "STOPPING" and editor_lb.rules() == [] and editor_lb.target_groups() == []


IDENTITY = {"sub": OWNER, "claims": {"cognito:groups": []}}
INFO = {"fieldName": "listSessions", "parentTypeName": "Query"}
MALFORMED = [
    ({"identity": {"sub": OWNER, "claims": "x"}, "arguments": {}, "info": INFO},
     "Unauthorized", "the request's identity is malformed (claims is not an object); sign in again"),
    ({"identity": {"sub": OWNER, "claims": ["cognito:groups"]}, "arguments": {}, "info": INFO},
     "Unauthorized", "the request's identity is malformed (claims is not an object); sign in again"),
    ({"identity": {"sub": OWNER, "claims": {"cognito:groups": {"ADMIN": True}}}, "arguments": {}, "info": INFO},
     "Unauthorized", "the request's identity is malformed (groups is not a list); sign in again"),
    ({"identity": {"sub": OWNER, "groups": 7}, "arguments": {}, "info": INFO},
     "Unauthorized", "the request's identity is malformed (groups is not a list); sign in again"),
    ({"identity": "alice", "arguments": {}, "info": INFO},
     "Unauthorized", "sign in with a user account to manage sessions"),
    ({"identity": IDENTITY, "arguments": "x", "info": INFO},
     "ValidationError", "the resolver event's arguments must be an object"),
    ({"identity": IDENTITY, "arguments": ["limit"], "info": INFO},
     "ValidationError", "the resolver event's arguments must be an object"),
    ({"identity": IDENTITY, "arguments": {}, "info": "listSessions"},
     "ValidationError", "the resolver event has no info object naming the GraphQL field"),
    ({"identity": IDENTITY, "arguments": {}},
     "ValidationError", "the resolver event has no info object naming the GraphQL field"),
    ({"identity": IDENTITY, "arguments": {}, "info": {"fieldName": ["listSessions"]}},
     "ValidationError", "field ['listSessions'] is not served by the sessions resolver"),
]


@pytest.mark.parametrize("event,kind,message", MALFORMED, ids=[f"{k}-{i}" for i, (_, k, _m) in enumerate(MALFORMED)])
def test_malformed_resolver_events_get_the_typed_envelope(deployed, capsys, event, kind, message):
    assert handlers.api_handler(event, Context()) == error_result(kind, message)
    assert not events(capsys.readouterr().out, "api_unhandled_error")


def test_well_formed_identity_variants_still_work(deployed):
    """claims absent or null, and the groups list given at the identity's top level, are accepted."""
    for identity in ({"sub": OWNER}, {"sub": OWNER, "claims": None}, {"sub": ADMIN, "groups": "ADMIN"}):
        result = handlers.api_handler({"identity": identity, "arguments": None, "info": INFO}, Context())
        assert result == {"items": [], "nextToken": None}
    admin = handlers.api_handler({"identity": {"sub": ADMIN, "groups": ["ADMIN"]}, "arguments": {"all": True},
                                  "info": INFO}, Context())
    assert admin == {"items": [], "nextToken": None}
