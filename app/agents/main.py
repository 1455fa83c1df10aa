"""The MAGI agent served by AgentCore Runtime (``BedrockAgentCoreApp``, POST /invocations).

The web app calls the runtime endpoint with the user's Cognito token; AgentCore's inbound JWT
authorizer has checked its signature, issuer and client before the request reaches this container,
and forwards the ``Authorization`` header (the runtime's request header allowlist), from which only
``sub`` is read. Payload: ``{"conversationId": "...", "prompt": "..."}``. One invocation:

1. count it against the user's daily cap (QuotaExceeded at the limit, before any model call);
2. read the conversation's recent turns from AgentCore memory;
3. run MAGI (three sages, the vote, SOLOMON);
4. write the Message and its TraceSteps with ``recordAgentReply`` (SigV4, the execution role);
5. remember the exchange.

Answers: 200 ``{"message": <Message>, "traceId": ...}``, or ``{"error": {"type", "message"}}`` with
400 ValidationError, 401 Unauthorized, 429 QuotaExceeded, 502 ReplyNotRecorded, 500 InternalError
(anything unexpected; the details stay in the logs). Start-up reads
every setting (``config.load_settings``) and the prompts; a bad one stops it with one line.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from bedrock_agentcore.runtime import BedrockAgentCoreApp, RequestContext
from opentelemetry import trace
from starlette.responses import JSONResponse

from .config import AgentSettings, ConfigError, load_settings
from .magi import ModelFor, decide
from .memory import ConversationMemory
from .prompts import MagiPrompts, load_prompts
from .reply import ReplyError, ReplyWriter
from .usage import DailyQuota, QuotaExceeded

log = logging.getLogger(__name__)
tracer = trace.get_tracer("aiplatform.agents.main")
MAX_PROMPT_CHARS = 10_000
CONVERSATION_ID_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$")  # also an AgentCore memory session id
PAYLOAD_KEYS = {"conversationId", "prompt"}


class RequestRefused(Exception):
    def __init__(self, status: int, error_type: str, message: str):
        super().__init__(message)
        self.status, self.error_type = status, error_type

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"type": self.error_type, "message": str(self)}}, status_code=self.status)


@dataclass(frozen=True)
class Runtime:
    """Everything an invocation uses; ``build_runtime`` makes the AWS one, tests their own."""

    prompts: MagiPrompts
    model_for: ModelFor
    quota: DailyQuota
    memory: ConversationMemory
    writer: ReplyWriter


def caller_sub(headers: Optional[Mapping[str, str]]) -> str:
    """The ``sub`` claim of the bearer token AgentCore's JWT authorizer has already verified."""
    auth = (headers or {}).get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    parts = token.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        raise RequestRefused(401, "Unauthorized", "a Cognito bearer token is required")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        raise RequestRefused(401, "Unauthorized", "the bearer token is not a JWT") from None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or not sub:
        raise RequestRefused(401, "Unauthorized", "the token carries no sub")
    return sub


def checked_payload(payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        raise RequestRefused(400, "ValidationError", "the payload must be a JSON object with conversationId and prompt")
    unknown = sorted(set(payload) - PAYLOAD_KEYS)
    if unknown:
        raise RequestRefused(400, "ValidationError", f"unknown payload field(s): {', '.join(unknown)}")
    conversation_id, prompt = payload.get("conversationId"), payload.get("prompt")
    if not isinstance(conversation_id, str) or not CONVERSATION_ID_RE.fullmatch(conversation_id):
        raise RequestRefused(400, "ValidationError", "conversationId must be a conversation id (letters, digits, - and _)")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        raise RequestRefused(400, "ValidationError", f"prompt must be 1-{MAX_PROMPT_CHARS} characters and not blank")
    return conversation_id, prompt.strip()


async def invoke(runtime: Runtime, payload: Any, headers: Optional[Mapping[str, str]]) -> Any:
    with tracer.start_as_current_span("magi.invocation") as span:
        try:
            sub = caller_sub(headers)
            conversation_id, prompt = checked_payload(payload)
            try:
                runtime.quota.consume(sub)
            except QuotaExceeded as exc:
                raise RequestRefused(429, "QuotaExceeded", str(exc)) from None
            history = runtime.memory.recent(sub, conversation_id)
            reply = await decide(runtime.prompts, runtime.model_for, prompt, history)
            try:
                message = runtime.writer.record(sub, conversation_id, reply)
            except ReplyError as exc:
                # Unauthorized here means the conversation is not the caller's (or the role lacks the grant).
                log.error("recordAgentReply failed: %s", exc)
                raise RequestRefused(502, "ReplyNotRecorded", f"the reply could not be stored ({exc.error_type})") from None
        except RequestRefused as refused:
            span.set_attribute("magi.refused", refused.error_type)
            return refused.response()
        except Exception as exc:  # a bug or an AWS failure: logged with its trace, never shown to the caller
            span.record_exception(exc)
            log.exception("invocation failed")
            return RequestRefused(500, "InternalError", "MAGI failed unexpectedly; try again later").response()
        runtime.memory.remember(sub, conversation_id, prompt, reply.content)
        return {"message": message, "traceId": reply.trace_id}


def create_app(runtime: Runtime) -> BedrockAgentCoreApp:
    app = BedrockAgentCoreApp()

    @app.entrypoint
    async def handler(payload: Any, context: RequestContext) -> Any:
        return await invoke(runtime, payload, context.request_headers)

    return app


def build_runtime(settings: AgentSettings) -> Runtime:
    """The AWS runtime: one boto3 session (the execution role), clients in the configured region."""
    import boto3

    from .models import bedrock_models

    session = boto3.Session(region_name=settings.region)
    credentials = session.get_credentials()
    if credentials is None:
        raise ConfigError("error: no AWS credentials: the runtime signs recordAgentReply with its execution role's")
    return Runtime(
        prompts=load_prompts(),
        model_for=bedrock_models(settings, session),
        quota=DailyQuota(session.resource("dynamodb").Table(settings.usage_table), settings.daily_invocation_limit),
        memory=ConversationMemory(session.client("bedrock-agentcore"), settings.memory_id),
        writer=ReplyWriter(settings.graphql_url, settings.region, credentials),
    )


def main(env: Mapping[str, str] = os.environ) -> int:
    try:
        runtime = build_runtime(load_settings(env))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    # AgentCore sends invocations to port 8080 of the container, so listen on every interface.
    create_app(runtime).run(port=8080, host="0.0.0.0")  # nosec B104
    return 0


if __name__ == "__main__":
    sys.exit(main())
