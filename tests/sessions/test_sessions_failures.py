"""Launch failures: every path leaves DynamoDB consistent with ECS (no item, no quota, no task)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from app.sessions import errors
from app.sessions.service import Caller

from .conftest import OWNER, capacity_failure, client_error, events, metrics

alice = Caller(OWNER)
DENY_ARN = "arn:aws:iam::123456789012:policy/aiplatform-budget-deny"


def assert_nothing_left(infra):
    assert infra.session_items() == []
    assert infra.quota() == {"active": 0, "sessionIds": set()}
    assert infra.running_tasks() == []


def test_run_task_error_without_fallback_leaves_no_item_and_no_quota(infra, make_service, capsys):
    service = make_service()
    service.scripted_ecs.script = [client_error("InvalidParameterException", "No Container Instances were found")]
    with pytest.raises(errors.SessionLaunchFailed) as info:
        service.start(alice, {})
    assert str(info.value) == (
        "the editor container could not be launched (tried FARGATE_SPOT; ECS reported: InvalidParameterException)"
    )
    assert len(service.scripted_ecs.run_task_calls) == 1
    assert_nothing_left(infra)
    [failed] = metrics(capsys.readouterr().out, "SessionFailed")
    assert (failed["reason"], failed["stage"]) == ("launch-failed", "start")
    # The freed quota is usable right away.
    service.start(alice, {})
    service.start(alice, {})


def test_spot_capacity_shortage_falls_back_to_on_demand_fargate(infra, make_service):
    service = make_service(ON_DEMAND_FALLBACK="true")
    service.scripted_ecs.script = [capacity_failure(infra.cluster_arn)]
    session = service.start(alice, {})
    first, second = service.scripted_ecs.run_task_calls
    assert first["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert second["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    assert "launchType" not in second
    assert first["clientToken"] != second["clientToken"]
    assert session["capacityProvider"] == "FARGATE"
    assert [t["capacityProviderName"] for t in infra.running_tasks()] == ["FARGATE"]
    assert infra.quota()["active"] == 1


def test_run_task_exception_also_falls_back(infra, make_service):
    service = make_service(ON_DEMAND_FALLBACK="true")
    service.scripted_ecs.script = [client_error("ServerException", "Service Unavailable. Please try again later.")]
    assert service.start(alice, {})["capacityProvider"] == "FARGATE"


def test_no_capacity_anywhere_is_a_specific_error(infra, make_service):
    service = make_service(ON_DEMAND_FALLBACK="true")
    service.scripted_ecs.script = [capacity_failure(infra.cluster_arn), capacity_failure(infra.cluster_arn)]
    with pytest.raises(errors.CapacityUnavailable) as info:
        service.start(alice, {"sizePreset": "large"})
    assert str(info.value) == (
        "no Fargate capacity is available for a 'large' session right now (tried FARGATE_SPOT then FARGATE); "
        "try again in a few minutes or choose a smaller size"
    )
    assert_nothing_left(infra)


def test_on_demand_only_strategy_does_not_retry_the_same_thing(infra, make_service):
    service = make_service(ON_DEMAND_FALLBACK="true", CAPACITY_PROVIDER_STRATEGY='[{"capacityProvider": "FARGATE", "weight": 1}]')
    service.scripted_ecs.script = [capacity_failure(infra.cluster_arn)]
    with pytest.raises(errors.CapacityUnavailable):
        service.start(alice, {})
    assert len(service.scripted_ecs.run_task_calls) == 1


def test_budget_deny_is_reported_as_budget_limit_and_rolled_back(infra, make_service, capsys):
    service = make_service(ON_DEMAND_FALLBACK="true", BUDGET_DENY_POLICY_ARN=DENY_ARN)
    service.scripted_ecs.script = [client_error(
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/sessions-api/fn is not authorized to perform: ecs:RunTask "
        f"on resource: arn:aws:ecs:us-east-1:123456789012:task-definition/code-server:1 with an explicit deny "
        f"in an identity-based policy: {DENY_ARN}",
    )]
    with pytest.raises(errors.BudgetLimitReached) as info:
        service.start(alice, {})
    assert str(info.value).startswith("budget limit reached: new sessions are paused")
    assert len(service.scripted_ecs.run_task_calls) == 1  # on-demand would be denied just the same
    assert_nothing_left(infra)
    assert metrics(capsys.readouterr().out, "SessionFailed")[0]["reason"] == "budget"


def test_budget_deny_without_policy_arn_in_message_still_counts(infra, make_service):
    service = make_service(BUDGET_DENY_POLICY_ARN=DENY_ARN)
    service.scripted_ecs.script = [client_error(
        "AccessDeniedException", "User: x is not authorized to perform: ecs:RunTask with an explicit deny")]
    with pytest.raises(errors.BudgetLimitReached):
        service.start(alice, {})


@pytest.mark.parametrize(
    ("deny_arn", "message"),
    [
        # Another policy's explicit deny is a permissions problem, not the budget.
        (DENY_ARN, "... with an explicit deny in an identity-based policy: arn:aws:iam::123456789012:policy/other"),
        # A missing grant (implicit deny) is never the budget action.
        (DENY_ARN, "User: x is not authorized to perform: ecs:RunTask because no identity-based policy allows it"),
        # No budget action configured.
        (None, "User: x is not authorized to perform: ecs:RunTask with an explicit deny"),
    ],
)
def test_other_access_denied_is_not_budget(infra, make_service, deny_arn, message):
    overrides = {"BUDGET_DENY_POLICY_ARN": deny_arn} if deny_arn else {}
    service = make_service(**overrides)
    service.scripted_ecs.script = [client_error("AccessDeniedException", message)]
    with pytest.raises(errors.SessionLaunchFailed, match=r"not allowed to launch containers \(AccessDenied\)"):
        service.start(alice, {})
    assert_nothing_left(infra)


def test_no_answer_from_ecs_rolls_back_and_stops_any_task_it_may_have_started(infra, make_service):
    service = make_service()

    def launch_then_lose_the_answer(kwargs):
        infra.ecs.run_task(**kwargs)  # the task starts, the response never arrives
        raise EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com/")

    service.scripted_ecs.before_run_task = launch_then_lose_the_answer
    with pytest.raises(errors.SessionLaunchFailed, match="ECS did not answer"):
        service.start(alice, {})
    assert_nothing_left(infra)


def test_a_retry_with_the_same_token_after_a_failure_starts_afresh(infra, make_service):
    service = make_service()
    service.scripted_ecs.script = [capacity_failure(infra.cluster_arn)]
    with pytest.raises(errors.CapacityUnavailable):
        service.start(alice, {"idempotencyToken": "t-1"})
    session = service.start(alice, {"idempotencyToken": "t-1"})
    assert session["status"] == "PROVISIONING" and session["taskArn"]
    assert infra.quota()["active"] == 1


def test_stop_while_run_task_is_in_flight_stops_the_new_task(infra, make_service):
    service = make_service()
    stopped = {}

    def user_stops_meanwhile(kwargs):
        stopped["session"] = service.stop(alice, kwargs["startedBy"])

    service.scripted_ecs.before_run_task = user_stops_meanwhile
    session = service.start(alice, {})
    assert stopped["session"]["status"] == "STOPPING"
    assert session["status"] == "STOPPING"
    item = infra.item(session["id"])
    assert item["taskArn"] and "quotaHeld" not in item
    assert infra.running_tasks() == []
    assert infra.quota() == {"active": 0, "sessionIds": set()}


def test_transaction_conflicts_on_the_quota_item_are_retried(infra, make_service):
    service = make_service()
    real = infra.ddb
    calls = {"n": 0}

    class ConflictOnce:
        def transact_write_items(self, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                                   "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]},
                                  "TransactWriteItems")
            return real.transact_write_items(**kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    service._ddb = ConflictOnce()
    assert service.start(alice, {})["status"] == "PROVISIONING"
    assert calls["n"] == 2 and infra.quota()["active"] == 1


def test_crash_mid_start_is_logged_as_failure_and_leaves_nothing(infra, make_service, capsys):
    service = make_service()
    service.scripted_ecs.script = [RuntimeError("bug")]
    with pytest.raises(RuntimeError):
        service.start(alice, {})
    assert_nothing_left(infra)
    out = capsys.readouterr().out
    assert metrics(out, "SessionFailed")[0]["reason"] == "internal"
    assert events(out, "session_start_rolled_back")


def test_stop_of_a_session_whose_task_ecs_forgot_closes_it_directly(infra, make_service):
    service = make_service()
    session = service.start(alice, {})

    def not_found(**_kwargs):
        raise client_error("InvalidParameterException", "The referenced task was not found.", "StopTask")

    service.scripted_ecs.stop_task = not_found
    assert service.stop(alice, session["id"])["status"] == "STOPPED"
    item = infra.item(session["id"])
    assert item["status"] == "STOPPED" and item["stopReason"] == "stopped by the owner"
    assert infra.quota()["active"] == 0


def test_stop_task_errors_leave_the_session_stopping_for_the_reaper(infra, make_service, capsys):
    service = make_service()
    session = service.start(alice, {})
    real_stop = service.scripted_ecs.stop_task

    def throttled(**_kwargs):
        raise client_error("ThrottlingException", "Rate exceeded", "StopTask")

    service.scripted_ecs.stop_task = throttled
    assert service.stop(alice, session["id"])["status"] == "STOPPING"
    assert infra.quota()["active"] == 0 and len(infra.running_tasks()) == 1
    assert events(capsys.readouterr().out, "stop_task_failed")
    service.scripted_ecs.stop_task = real_stop
    assert service.reap() == {"stop-reissued": 1}
    assert infra.running_tasks() == []
