"""The AgentCore app end to end: POST /invocations -> quota -> memory -> MAGI -> recordAgentReply,
with scripted models, moto's DynamoDB and a local signed GraphQL endpoint; one trace throughout."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pytest
from starlette.testclient import TestClient

from app.agents.main import Runtime, create_app
from app.agents.memory import ConversationMemory
from app.agents.reply import ReplyWriter
from app.agents.scripted_model import Turn
from app.agents.usage import DailyQuota
from tests.agents.conftest import unanimous, usage_table
from tests.agents.fake_appsync import CREDENTIALS, REGION, FakeAppSync, ok

def bearer(claims: dict) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"Bearer {part({'alg': 'RS256', 'kid': 'k'})}.{part(claims)}.c2lnbmF0dXJl"


ALICE = {"Authorization": bearer({"sub": "alice-sub", "token_use": "access", "client_id": "webclient"})}
PAYLOAD = {"conversationId": "conv-1", "prompt": "Should we migrate to Aurora?"}


@dataclass
class FakeMemoryClient:
    """Stands in for the bedrock-agentcore client (its request shapes are checked in test_memory)."""

    events: list = field(default_factory=list)
    created: list = field(default_factory=list)

    def list_events(self, **kwargs):
        return {"events": self.events}

    def create_event(self, **kwargs):
        self.created.append(kwargs)
        return {"event": {}}


@pytest.fixture
def world(ddb, prompts):
    table = usage_table(ddb)

    class World:
        pass

    w = World()
    w.script = unanimous()
    w.memory = FakeMemoryClient()
    w.appsync = FakeAppSync(ok).__enter__()
    w.runtime = Runtime(prompts=prompts, model_for=w.script, quota=DailyQuota(table, limit=1),
                        memory=ConversationMemory(w.memory, "magi_memory-Ab12Cd34Ef"),
                        writer=ReplyWriter(w.appsync.url, REGION, CREDENTIALS, timeout_seconds=5))
    w.client = TestClient(create_app(w.runtime))
    yield w
    w.appsync.__exit__(None, None, None)


def model_calls(world) -> int:
    return sum(len(m.calls) for m in world.script.models.values())


def test_an_invocation_answers_records_the_reply_and_remembers_it_in_one_trace(world, spans):
    world.memory.events = [{"eventTimestamp": 1, "payload": [
        {"conversational": {"content": {"text": "Is Aurora costly?"}, "role": "USER"}},
        {"conversational": {"content": {"text": "Somewhat."}, "role": "ASSISTANT"}}]}]
    response = world.client.post("/invocations", json=PAYLOAD, headers=ALICE)
    assert response.status_code == 200, response.text
    body = response.json()

    (sent,) = world.appsync.received
    assert sent.signature_valid
    reply = sent.body["variables"]["input"]
    assert (reply["owner"], reply["conversationId"]) == ("alice-sub", "conv-1")
    assert reply["content"] == "Go ahead, carefully."
    assert [s["stepNumber"] for s in reply["steps"]] == [1, 2, 3, 4, 5]
    assert json.loads(reply["judgeResponse"])["finalDecision"] == "APPROVED"
    assert body["message"]["traceId"] == body["traceId"] == reply["traceId"]
    assert body["message"]["owner"] == "alice-sub"

    # Memory: the sages saw the earlier turns; the new exchange was stored for alice's conversation.
    assert "USER: Is Aurora costly?" in world.script.models["caspar"].calls[0].messages[0]["content"][0]["text"]
    (created,) = world.memory.created
    assert (created["actorId"], created["sessionId"]) == ("alice-sub", "conv-1")
    assert [p["conversational"]["content"]["text"] for p in created["payload"]] == [PAYLOAD["prompt"], "Go ahead, carefully."]

    # One trace links the invocation, MAGI, every model call and the GraphQL call; the trace id is
    # the one stored on the Message and its steps, and the one AppSync receives.
    finished = spans.get_finished_spans()
    root = next(s for s in finished if s.name == "magi.invocation")
    assert body["traceId"] == format(root.context.trace_id, "032x")
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}
    names = {s.name for s in finished}
    assert {"magi.decide", "magi.vote", "magi.judge", "appsync recordAgentReply"} <= names
    assert sum(1 for s in finished if s.name.startswith("chat")) == 4
    assert sent.headers["traceparent"].split("-")[1] == body["traceId"]


def test_the_daily_cap_refuses_before_any_model_call(world):
    assert world.client.post("/invocations", json=PAYLOAD, headers=ALICE).status_code == 200
    calls, writes = model_calls(world), len(world.appsync.received)
    refused = world.client.post("/invocations", json=PAYLOAD, headers=ALICE)
    assert refused.status_code == 429
    assert refused.json() == {"error": {"type": "QuotaExceeded", "message": "the daily limit of 1 agent invocations is "
                                                                           "used up; it resets at 00:00 UTC"}}
    assert model_calls(world) == calls and len(world.appsync.received) == writes


@pytest.mark.parametrize("headers,payload,status,error_type,message", [
    ({}, PAYLOAD, 401, "Unauthorized", "a Cognito bearer token is required"),
    ({"Authorization": "Bearer not-a-jwt"}, PAYLOAD, 401, "Unauthorized", "a Cognito bearer token is required"),
    ({"Authorization": bearer({"token_use": "access"})}, PAYLOAD, 401, "Unauthorized", "the token carries no sub"),
    (ALICE, {"prompt": "hi"}, 400, "ValidationError", "conversationId must be a conversation id"),
    (ALICE, {**PAYLOAD, "prompt": "  "}, 400, "ValidationError", "prompt must be 1-10000 characters"),
    (ALICE, {**PAYLOAD, "owner": "bob-sub"}, 400, "ValidationError", "unknown payload field(s): owner"),
    (ALICE, ["not", "an", "object"], 400, "ValidationError", "the payload must be a JSON object"),
])
def test_bad_requests_are_refused_before_quota_or_models(world, headers, payload, status, error_type, message):
    response = world.client.post("/invocations", json=payload, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type and message in response.json()["error"]["message"]
    assert model_calls(world) == 0 and world.appsync.received == []


def test_a_refused_reply_is_reported_and_not_remembered(world):
    world.appsync.respond = lambda _body: (200, {"data": {"recordAgentReply": None}, "errors": [
        {"errorType": "Unauthorized", "message": "Not Authorized to access recordAgentReply on type Mutation"}]})
    response = world.client.post("/invocations", json=PAYLOAD, headers=ALICE)
    assert response.status_code == 502
    assert response.json() == {"error": {"type": "ReplyNotRecorded", "message": "the reply could not be stored (Unauthorized)"}}
    assert world.memory.created == []


def test_a_failing_sage_still_gives_a_recorded_reply(world):
    world.script.models["melchior"].turns[:] = [Turn(error=RuntimeError("ServiceUnavailableException"))]
    response = world.client.post("/invocations", json=PAYLOAD, headers=ALICE)
    assert response.status_code == 200
    steps = world.appsync.received[0].body["variables"]["input"]["steps"]
    assert [s["errorCount"] for s in steps] == [0, 0, 1, 0, 0]


def test_an_unexpected_failure_is_a_fixed_500_without_internals(world):
    def broken(agent_id):
        raise KeyError(f"internal detail {agent_id}")

    app = create_app(Runtime(prompts=world.runtime.prompts, model_for=broken, quota=world.runtime.quota,
                             memory=world.runtime.memory, writer=world.runtime.writer))
    response = TestClient(app).post("/invocations", json=PAYLOAD, headers=ALICE)
    assert response.status_code == 500
    assert response.json() == {"error": {"type": "InternalError", "message": "MAGI failed unexpectedly; try again later"}}
