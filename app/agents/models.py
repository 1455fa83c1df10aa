"""The Bedrock models the agents run on: one Strands BedrockModel per agent, guardrail on every call."""

from __future__ import annotations

from typing import Any, Callable, Optional

from botocore.config import Config
from strands.models import BedrockModel
from strands.models.model import Model

from .config import AgentSettings

MAX_TOKENS = 2048  # a vote or a judgement is short; this bounds the cost of a runaway answer
# Retries stay with botocore (adaptive backoff on throttling); the sage timeout bounds the total.
CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 3}, connect_timeout=5, read_timeout=60)


def bedrock_model(settings: AgentSettings, agent_id: str, boto_session: Optional[Any] = None) -> BedrockModel:
    """The agent's model (its AGENT_MODELS entry). With a guardrail configured, Strands sends
    guardrailConfig on every Converse call and reports an intervention as stop reason
    ``guardrail_intervened`` (and redacts the blocked input from the conversation)."""
    guardrail: dict[str, Any] = {}
    if settings.guardrail is not None:
        guardrail = {"guardrail_id": settings.guardrail.id, "guardrail_version": settings.guardrail.version,
                     "guardrail_trace": "enabled"}
    location = {"boto_session": boto_session} if boto_session is not None else {"region_name": settings.region}
    return BedrockModel(model_id=settings.models[agent_id], max_tokens=MAX_TOKENS, boto_client_config=CLIENT_CONFIG,
                        **location, **guardrail)


def bedrock_models(settings: AgentSettings, boto_session: Optional[Any] = None) -> Callable[[str], Model]:
    """agent id -> its model, built once at start-up (a model holds configuration and a thread-safe
    boto3 client, no per-conversation state)."""
    models = {agent_id: bedrock_model(settings, agent_id, boto_session) for agent_id in settings.models}
    return models.__getitem__
