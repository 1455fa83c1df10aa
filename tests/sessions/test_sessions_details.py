"""The smaller user-facing properties: subscribers see every status, expired items are gone for the
API, ECS's internals stay out of user-visible reasons, and AWS calls end inside AppSync's limit."""

from __future__ import annotations

import pytest

from app.sessions import errors, handlers
from app.sessions.service import Caller, user_reason

from .conftest import OWNER

alice = Caller(OWNER)


class Recorder:
    def __init__(self):
        self.sent: list[dict] = []

    def publish(self, session: dict) -> bool:
        self.sent.append(session)
        return True


def test_subscribers_see_provisioning_and_stopping_too(infra, make_service):
    publisher = Recorder()
    service = make_service(publisher=publisher)
    session = service.start(alice, {})
    assert [s["status"] for s in publisher.sent] == ["PROVISIONING"]
    assert publisher.sent[0]["taskArn"] == session["taskArn"] and "editorPassword" not in publisher.sent[0]
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    service.stop(alice, session["id"])
    assert [s["status"] for s in publisher.sent] == ["PROVISIONING", "RUNNING", "STOPPING"]


def test_items_past_their_ttl_are_gone_for_the_api(infra, make_service, clock):
    service = make_service(MAX_SESSIONS_PER_USER="5")
    old = service.start(alice, {})
    clock.advance(2 * 3600)
    fresh = service.start(alice, {})
    clock.advance(22 * 3600 + 1)  # old is past expiresAt (24 h); DynamoDB has not deleted it yet
    assert infra.item(old["id"]) is not None
    assert service.get(alice, old["id"]) is None
    assert [s["id"] for s in service.list(alice, {})["items"]] == [fresh["id"]]
    assert service.get(alice, fresh["id"])["id"] == fresh["id"]
    with pytest.raises(errors.SessionNotFound):
        service.stop(alice, old["id"])


def test_stop_reasons_shown_to_users_carry_no_arns_or_account_ids(infra, make_service, capsys):
    service = make_service()
    session = service.start(alice, {})
    service.handle_task_event(infra.event(session["taskArn"], "RUNNING"))
    raw = ("Essential container in task exited: CannotPullContainerError: pull access denied for "
           "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo, role "
           "arn:aws:iam::123456789012:role/sessions-exec-1a2b3c4 is not authorized")
    infra.ecs.stop_task(cluster=infra.cluster_arn, task=session["taskArn"], reason="x")
    service.handle_task_event(infra.event(session["taskArn"], "STOPPED", reason=raw))
    reason = infra.item(session["id"])["stopReason"]
    assert "123456789012" not in reason and "arn:aws" not in reason
    assert reason == ("the container stopped: Essential container in task exited: CannotPullContainerError: pull "
                      "access denied for <account>.dkr.ecr.us-east-1.amazonaws.com/repo, role <resource> is not "
                      "authorized")
    assert raw in capsys.readouterr().out  # operators still get the original in the logs


def test_user_reason_leaves_plain_text_alone():
    assert user_reason("Task stopped by user", "s") == "Task stopped by user"
    assert user_reason("x" * 900, "s") == "x" * 500


def test_aws_calls_with_retries_end_inside_appsync_and_lambda_timeouts():
    cfg = handlers.CLIENT_CONFIG
    attempts = cfg["retries"]["max_attempts"]
    worst = attempts * (cfg["connect_timeout"] + cfg["read_timeout"]) + attempts  # + backoff, at most ~1 s each
    assert worst < handlers.APPSYNC_TIMEOUT_SECONDS / 2
