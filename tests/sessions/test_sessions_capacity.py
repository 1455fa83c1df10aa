"""The configured capacity-provider strategy applied across sessions, not per RunTask.

ECS applies a strategy's `base` per RunTask call, so passing prod's strategy (FARGATE base 1, Spot
weight 3) to every count=1 launch would put every session on on-demand FARGATE. The runtime instead
picks one provider per session: the base's provider while fewer than `base` active sessions are on
it, otherwise a weighted draw, and launches with that provider alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.sessions import errors
from app.sessions.service import Caller

from .conftest import OWNER, capacity_failure, client_error, events

alice = Caller(OWNER)
PROD_STRATEGY = json.dumps([{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                            {"capacityProvider": "FARGATE_SPOT", "weight": 3}])


def plan(provider: str) -> list[dict[str, Any]]:
    return [{"capacityProvider": provider, "weight": 1, "base": 0}]


class Draws:
    """An injected RNG: returns the given values in order, and counts the draws."""

    def __init__(self, *values: float):
        self.values = list(values)
        self.used = 0

    def __call__(self) -> float:
        self.used += 1
        return self.values.pop(0)


class RecordingDynamoDB:
    """The moto DynamoDB client with every Query recorded (and optionally failing)."""

    def __init__(self, real: Any):
        self.real = real
        self.queries: list[dict[str, Any]] = []
        self.query_error: Exception | None = None

    def query(self, **kwargs: Any) -> dict[str, Any]:
        self.queries.append(kwargs)
        if self.query_error is not None:
            raise self.query_error
        return self.real.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def providers_launched(service) -> list[str]:
    strategies = [call["capacityProviderStrategy"] for call in service.scripted_ecs.run_task_calls]
    # Every launch names exactly one provider and no base: nothing for ECS to apply per call.
    for strategy in strategies:
        assert len(strategy) == 1 and strategy[0]["weight"] == 1 and strategy[0]["base"] == 0, strategy
    return [s[0]["capacityProvider"] for s in strategies]


def test_prod_strategy_fills_the_on_demand_base_once_then_draws_by_weight(infra, make_service, capsys):
    draws = Draws(0.9, 0.1, 0.6)
    service = make_service(rng=draws, CAPACITY_PROVIDER_STRATEGY=PROD_STRATEGY, MAX_SESSIONS_PER_USER="5")
    sessions = [service.start(alice, {}) for _ in range(4)]
    # The base session goes to FARGATE without a draw; then FARGATE [0, 1) / Spot [1, 4) of 4.
    assert providers_launched(service) == ["FARGATE", "FARGATE_SPOT", "FARGATE", "FARGATE_SPOT"]
    assert [s["capacityProvider"] for s in sessions] == ["FARGATE", "FARGATE_SPOT", "FARGATE", "FARGATE_SPOT"]
    assert draws.used == 3
    assert sorted(t["capacityProviderName"] for t in infra.running_tasks()) == ["FARGATE", "FARGATE",
                                                                               "FARGATE_SPOT", "FARGATE_SPOT"]
    chosen = events(capsys.readouterr().out, "capacity_provider_chosen")
    assert [(e["capacityProvider"], e["why"]) for e in chosen] == [
        ("FARGATE", "base"), ("FARGATE_SPOT", "weight"), ("FARGATE", "weight"), ("FARGATE_SPOT", "weight")]


def test_base_counts_running_sessions_and_is_refilled_when_the_base_session_ends(infra, make_service):
    service = make_service(rng=Draws(0.9, 0.9), CAPACITY_PROVIDER_STRATEGY=PROD_STRATEGY, MAX_SESSIONS_PER_USER="5")
    base = service.start(alice, {})
    service.handle_task_event(infra.event(base["taskArn"], "RUNNING"))
    assert infra.item(base["id"])["status"] == "RUNNING"
    service.start(alice, {})  # the RUNNING base session still fills the base: a draw (Spot)
    service.stop(alice, base["id"])  # STOPPING is not active: the base is free again
    service.start(alice, {})
    service.start(alice, {})  # filled again by the new base session
    assert providers_launched(service) == ["FARGATE", "FARGATE_SPOT", "FARGATE", "FARGATE_SPOT"]


def test_base_is_counted_on_the_status_index_with_a_count_only_query(infra, make_service):
    service = make_service(rng=Draws(0.9), CAPACITY_PROVIDER_STRATEGY=PROD_STRATEGY)
    service._ddb = ddb = RecordingDynamoDB(infra.ddb)
    service.start(alice, {})
    service.start(alice, {})
    counts = [q for q in ddb.queries if q.get("Select") == "COUNT"]
    assert counts and all(q["IndexName"] == "byStatus" for q in counts)
    for q in counts:
        names, values = q["ExpressionAttributeNames"], q["ExpressionAttributeValues"]
        assert names["#capacityProvider"] == "capacityProvider" and {"S": "FARGATE"} in values.values()
        assert "#capacityProvider" in q["FilterExpression"] and "#status" in q["KeyConditionExpression"]
    # The second start stopped counting as soon as the base (1) was reached: one PROVISIONING query.
    assert [q["ExpressionAttributeValues"][":v0"]["S"] for q in counts] == ["PROVISIONING", "RUNNING", "PROVISIONING"]


def test_without_a_base_nothing_is_counted_and_weights_decide(infra, make_service):
    strategy = json.dumps([{"capacityProvider": "FARGATE_SPOT", "weight": 3}, {"capacityProvider": "FARGATE", "weight": 1}])
    service = make_service(rng=Draws(0.0, 0.74, 0.75, 0.99), CAPACITY_PROVIDER_STRATEGY=strategy,
                           MAX_SESSIONS_PER_USER="5")
    service._ddb = ddb = RecordingDynamoDB(infra.ddb)
    for _ in range(4):
        service.start(alice, {})
    assert providers_launched(service) == ["FARGATE_SPOT", "FARGATE_SPOT", "FARGATE", "FARGATE"]
    assert not [q for q in ddb.queries if q.get("Select") == "COUNT"]


def test_dev_strategy_is_always_spot(infra, make_service):
    service = make_service(MAX_SESSIONS_PER_USER="3")  # conftest's env: FARGATE_SPOT weight 1
    for _ in range(3):
        service.start(alice, {})
    assert providers_launched(service) == ["FARGATE_SPOT"] * 3


def test_a_base_session_short_of_capacity_does_not_fall_back_to_itself(infra, make_service):
    service = make_service(ON_DEMAND_FALLBACK="true", CAPACITY_PROVIDER_STRATEGY=PROD_STRATEGY)
    service.scripted_ecs.script = [capacity_failure(infra.cluster_arn)]
    with pytest.raises(errors.CapacityUnavailable, match=r"\(tried FARGATE\)"):
        service.start(alice, {})
    assert providers_launched(service) == ["FARGATE"]


def test_a_spot_draw_short_of_capacity_still_falls_back_to_on_demand(infra, make_service):
    service = make_service(rng=Draws(0.9), ON_DEMAND_FALLBACK="true", CAPACITY_PROVIDER_STRATEGY=PROD_STRATEGY)
    service.start(alice, {})  # base
    service.scripted_ecs.script = [capacity_failure(infra.cluster_arn)]
    assert service.start(alice, {})["capacityProvider"] == "FARGATE"
    assert providers_launched(service) == ["FARGATE", "FARGATE_SPOT", "FARGATE"]


def test_a_failed_count_does_not_fail_the_start(infra, make_service, capsys):
    service = make_service(rng=Draws(0.9), CAPACITY_PROVIDER_STRATEGY=PROD_STRATEGY)
    service._ddb = ddb = RecordingDynamoDB(infra.ddb)
    ddb.query_error = client_error("ProvisionedThroughputExceededException", "slow down", "Query")
    assert service.start(alice, {})["capacityProvider"] == "FARGATE_SPOT"
    [warning] = events(capsys.readouterr().out, "capacity_count_failed")
    assert warning["capacityProvider"] == "FARGATE" and "ProvisionedThroughputExceeded" in warning["error"]
