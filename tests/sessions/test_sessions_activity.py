"""Idle detection from the IDE itself: reportSessionActivity, called by the session's own task."""

from __future__ import annotations

import pytest

from app.sessions import errors, handlers
from app.sessions.service import Caller

from .conftest import OWNER

alice = Caller(OWNER)
ROLE = "sessions-task-1a2b3c4"
MINUTE = 60


def task_caller(task_arn: str, role: str = ROLE) -> str:
    """The ARN AppSync reports for a task-role caller: ECS names the role session after the task id."""
    return f"arn:aws:sts::123456789012:assumed-role/{role}/{task_arn.rsplit('/', 1)[1]}"


@pytest.fixture
def running(infra, make_service):
    service = make_service(TASK_ROLE_NAME=ROLE, IDLE_TIMEOUT_MINUTES="30", MAX_SESSIONS_PER_USER="5")
    session = service.start(alice, {})
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    return service, session


def test_activity_from_the_ide_keeps_a_session_the_web_app_stopped_polling(infra, running, clock):
    service, session = running
    for _ in range(6):  # an hour of typing, reported every 10 minutes; nobody calls getSession
        clock.advance(10 * MINUTE)
        assert service.record_activity(task_caller(session["taskArn"]), session["id"]) is True
        assert service.reap().get("reaped-idle-timeout") is None
    assert infra.item(session["id"])["status"] == "RUNNING"
    clock.advance(31 * MINUTE)  # then the IDE goes quiet
    assert service.reap()["reaped-idle-timeout"] == 1
    assert infra.item(session["id"])["status"] == "STOPPING"


def test_a_task_can_report_only_for_its_own_session(infra, running):
    service, session = running
    other = service.start(alice, {})
    service.handle_task_event(infra.event(other["taskArn"], "RUNNING"))
    before = infra.item(other["id"])["lastActivityAt"]
    with pytest.raises(errors.Forbidden, match="only the session's own task"):
        service.record_activity(task_caller(session["taskArn"]), other["id"])
    assert infra.item(other["id"])["lastActivityAt"] == before


@pytest.mark.parametrize("caller", [
    "arn:aws:sts::123456789012:assumed-role/some-admin-role/0123456789abcdef0123456789abcdef",
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:sts::123456789012:assumed-role/sessions-task-1a2b3c4/not-a-task-id",
    None,
])
def test_any_other_iam_principal_is_refused(running, caller):
    service, session = running
    with pytest.raises(errors.Forbidden):
        service.record_activity(caller, session["id"])


def test_without_the_task_role_configured_nothing_is_accepted(infra, make_service):
    service = make_service()
    session = service.start(alice, {})
    with pytest.raises(errors.Forbidden):
        service.record_activity(task_caller(session["taskArn"]), session["id"])


def test_the_handler_routes_the_iam_field_without_a_user_identity(running, monkeypatch):
    service, session = running
    monkeypatch.setitem(handlers._cache, "service", service)
    event = {"arguments": {"id": session["id"]}, "identity": {"userArn": task_caller(session["taskArn"])},
             "info": {"fieldName": "reportSessionActivity", "parentTypeName": "Mutation"}}
    assert handlers.api_handler(event, None) is True
    event["identity"]["userArn"] = task_caller(session["taskArn"], role="other")
    assert handlers.api_handler(event, None)["error"]["type"] == "Forbidden"
