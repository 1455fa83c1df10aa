"""Writes the assistant reply through AppSync's ``recordAgentReply`` mutation, signed with SigV4.

The runtime's execution role is the only principal granted ``appsync:GraphQL`` on that field. The
request is signed with botocore's SigV4Auth (service ``appsync``) from the role's credentials, sent
in a CLIENT span whose context is injected into the headers (the distro's propagators: X-Ray in AWS),
so AppSync's own X-Ray segment joins the runtime's trace. The selection set holds every Message field:
AppSync fans exactly that out to ``onMessageCreated``, filtered on ``owner`` and ``conversationId``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from opentelemetry import propagate, trace

from .magi import MagiReply

MESSAGE_FIELDS = ("id", "conversationId", "owner", "role", "content", "agentResponses", "judgeResponse", "traceId",
                  "executionTimeMs", "createdAt", "updatedAt")
MUTATION = ("mutation RecordAgentReply($input: AgentReplyInput!) {\n  recordAgentReply(input: $input) { "
            + " ".join(MESSAGE_FIELDS) + " }\n}")
tracer = trace.get_tracer("aiplatform.agents.reply")


class ReplyError(Exception):
    """AppSync refused or failed the write; ``error_type`` is its errorType (or the HTTP failure)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


def reply_input(owner: str, conversation_id: str, reply: MagiReply) -> dict[str, Any]:
    """AgentReplyInput; AWSJSON values travel as JSON strings."""
    return {
        "conversationId": conversation_id,
        "owner": owner,
        "content": reply.content,
        "agentResponses": json.dumps(reply.agent_responses, ensure_ascii=False),
        "judgeResponse": json.dumps(reply.judge_response, ensure_ascii=False),
        "traceId": reply.trace_id,
        "executionTimeMs": reply.execution_time_ms,
        "steps": [{**s, "metadata": json.dumps(s["metadata"], ensure_ascii=False)} for s in reply.steps],
    }


@dataclass(frozen=True)
class ReplyWriter:
    graphql_url: str
    region: str
    credentials: Any  # botocore Credentials (the execution role's, refreshed by the session)
    timeout_seconds: float = 10.0

    def signed_request(self, body: bytes, headers: Mapping[str, str]) -> AWSRequest:
        request = AWSRequest(method="POST", url=self.graphql_url, data=body,
                             headers={"Content-Type": "application/json", **headers})
        SigV4Auth(self.credentials.get_frozen_credentials(), "appsync", self.region).add_auth(request)
        return request

    def record(self, owner: str, conversation_id: str, reply: MagiReply) -> dict[str, Any]:
        """The Message as AppSync stored it; ReplyError on any GraphQL or HTTP failure."""
        body = json.dumps({"query": MUTATION, "variables": {"input": reply_input(owner, conversation_id, reply)}},
                          ensure_ascii=False).encode()
        with tracer.start_as_current_span("appsync recordAgentReply", kind=trace.SpanKind.CLIENT, attributes={
                "rpc.system": "graphql", "graphql.operation.name": "RecordAgentReply",
                "server.address": self.graphql_url}) as span:
            headers: dict[str, str] = {}
            propagate.inject(headers)  # traceparent / X-Amzn-Trace-Id: AppSync's segment joins this trace
            prepared = self.signed_request(body, headers).prepare()
            status, payload = self._send(prepared.url, prepared.body, dict(prepared.headers))
            span.set_attribute("http.response.status_code", status)
            errors = payload.get("errors") if isinstance(payload, dict) else None
            if errors:
                first = errors[0] if isinstance(errors[0], dict) else {}
                error = ReplyError(str(first.get("errorType") or "GraphQLError"), str(first.get("message")))
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)))
                raise error
            message = (payload.get("data") or {}).get("recordAgentReply") if isinstance(payload, dict) else None
            if status != 200 or not isinstance(message, dict):
                raise ReplyError(f"HTTP{status}", "AppSync returned no message")
            return message

    def _send(self, url: str, body: Optional[bytes], headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310 (https URL from config)
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except json.JSONDecodeError:
                raise ReplyError(f"HTTP{exc.code}", exc.reason or "no JSON body") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise ReplyError("Unreachable", str(getattr(exc, "reason", exc))) from None
        except json.JSONDecodeError:
            raise ReplyError("BadResponse", "AppSync answered with something other than JSON") from None
