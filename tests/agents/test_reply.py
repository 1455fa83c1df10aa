"""recordAgentReply over SigV4-signed HTTP, against a local endpoint that checks the signature."""

from __future__ import annotations

import json
import socket

import pytest
from botocore.credentials import Credentials
from graphql import execute_sync, parse, validate
from opentelemetry import trace

from app.agents.magi import MagiReply
from app.agents.reply import MESSAGE_FIELDS, MUTATION, ReplyError, ReplyWriter, reply_input
from tests.agents.fake_appsync import CREDENTIALS, REGION, FakeAppSync, ok, stored_message
from tests.api.test_schema import MANIFEST, build, SCHEMA_TEXT

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
REPLY = MagiReply(
    content="Migrate, with a rollback plan.",
    agent_responses=[{"agentId": "caspar", "decision": "REJECTED", "confidence": 0.8}],
    judge_response={"agentId": "solomon", "finalDecision": "APPROVED"},
    steps=[{"stepNumber": 1, "agentId": "caspar", "action": "consult", "toolsUsed": [], "citations": [],
            "duration": 812, "errorCount": 0, "metadata": {"status": "OK"}, "timestamp": "2026-03-14T12:00:00.000Z"}],
    trace_id=TRACE_ID, execution_time_ms=2400)


def writer(url: str, credentials: Credentials = CREDENTIALS) -> ReplyWriter:
    return ReplyWriter(url, REGION, credentials, timeout_seconds=5)


def test_the_reply_is_signed_for_appsync_and_carries_the_trace_context(spans):
    with FakeAppSync(ok) as appsync:
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("invocation") as parent:
            message = writer(appsync.url).record("alice-sub", "conv-1", REPLY)
    (got,) = appsync.received
    assert got.signature_valid, "the endpoint recomputed the SigV4 signature from the request"
    assert got.credential_scope.endswith(f"/{REGION}/appsync/aws4_request")
    assert got.headers["x-amz-security-token"] == "session-token-1"
    assert got.body["query"] == MUTATION
    assert got.body["variables"] == {"input": reply_input("alice-sub", "conv-1", REPLY)}
    assert message == stored_message(got.body)

    # One trace: the GraphQL call is a CLIENT span under the invocation, and its context travels in
    # the request headers (the SDK default here is W3C traceparent; the AWS distro adds X-Ray's).
    client = next(s for s in spans.get_finished_spans() if s.name == "appsync recordAgentReply")
    assert client.kind == trace.SpanKind.CLIENT
    assert client.parent.span_id == parent.get_span_context().span_id
    version, trace_id, span_id, _ = got.headers["traceparent"].split("-")
    assert (trace_id, span_id) == (format(client.context.trace_id, "032x"), format(client.context.span_id, "016x"))


def test_awsjson_values_travel_as_json_strings():
    sent = reply_input("alice-sub", "conv-1", REPLY)
    assert json.loads(sent["agentResponses"]) == REPLY.agent_responses
    assert json.loads(sent["judgeResponse"]) == REPLY.judge_response
    assert json.loads(sent["steps"][0]["metadata"]) == {"status": "OK"}
    assert sent["traceId"] == TRACE_ID and sent["owner"] == "alice-sub"


def test_the_mutation_and_its_variables_are_valid_for_the_schema():
    schema = build(SCHEMA_TEXT)
    schema.mutation_type.fields["recordAgentReply"].resolve = lambda _root, _info, input: {
        **{f: None for f in MESSAGE_FIELDS}, "id": "m-1", "owner": input["owner"],
        "conversationId": input["conversationId"], "role": "ASSISTANT", "content": input["content"],
        "createdAt": "2026-03-14T12:00:00.000Z", "updatedAt": "2026-03-14T12:00:00.000Z"}
    document = parse(MUTATION)
    assert [e.message for e in validate(schema, document)] == []
    result = execute_sync(schema, document, variable_values={"input": reply_input("alice-sub", "conv-1", REPLY)})
    assert result.errors is None
    # onMessageCreated filters on these and subscribers see only what the mutation selects: all of it.
    [entry] = [e for e in MANIFEST["subscriptions"] if e["field"] == "Subscription.onMessageCreated"]
    assert set(entry["filterFields"]) <= set(MESSAGE_FIELDS)
    assert set(MESSAGE_FIELDS) == set(schema.get_type("Message").fields)


def test_a_bad_signature_is_refused_and_reported():
    wrong = Credentials(CREDENTIALS.access_key, "not-the-secret", CREDENTIALS.token)
    with FakeAppSync(ok) as appsync, pytest.raises(ReplyError) as err:
        writer(appsync.url, wrong).record("alice-sub", "conv-1", REPLY)
    assert appsync.received[0].signature_valid is False
    assert err.value.error_type == "UnauthorizedException"


def test_a_resolver_refusal_is_reported_with_its_error_type():
    def refuse(_body):
        return 200, {"data": {"recordAgentReply": None},
                     "errors": [{"errorType": "Unauthorized", "message": "Not Authorized to access recordAgentReply"}]}

    with FakeAppSync(refuse) as appsync, pytest.raises(ReplyError, match="Unauthorized: Not Authorized") as err:
        writer(appsync.url).record("mallory-sub", "conv-1", REPLY)
    assert err.value.error_type == "Unauthorized"


@pytest.mark.parametrize("status,answer,error_type", [
    (200, {"data": {"recordAgentReply": None}}, "HTTP200"),
    (500, b"<html>oops</html>", "HTTP500"),
    (200, b"not json", "BadResponse"),
])
def test_answers_without_a_message_are_errors(status, answer, error_type):
    with FakeAppSync(lambda _body: (status, answer)) as appsync, pytest.raises(ReplyError) as err:
        writer(appsync.url).record("alice-sub", "conv-1", REPLY)
    assert err.value.error_type == error_type


def test_an_unreachable_endpoint_is_an_error_not_a_hang():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ReplyError) as err:
        writer(f"http://127.0.0.1:{port}/graphql").record("alice-sub", "conv-1", REPLY)
    assert err.value.error_type == "Unreachable"
