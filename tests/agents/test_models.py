"""The Bedrock models: each agent's configured model id, and the guardrail on every Converse call."""

from __future__ import annotations

import boto3
import pytest
from strands import Agent

from app.agents.config import AgentSettings, Guardrail
from app.agents.models import MAX_TOKENS, bedrock_models
from tests.agents.conftest import run_async

MODELS = {"solomon": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "caspar": "amazon.nova-pro-v1:0",
          "balthasar": "us.amazon.nova-lite-v1:0", "melchior": "anthropic.claude-3-5-haiku-20241022-v1:0"}


def settings(guardrail=None) -> AgentSettings:
    return AgentSettings(models=MODELS, guardrail=guardrail, memory_id="m-Ab12Cd34Ef", usage_table="usage",
                         daily_invocation_limit=10, graphql_url="https://x.appsync-api.us-east-1.amazonaws.com/graphql",
                         region="us-east-1")


def converse_requests(model, answers=2):
    """Run an agent on ``model`` with its bedrock-runtime client's converse_stream replaced by a recorder."""
    sent = []

    def converse_stream(**request):
        sent.append(request)
        return {"stream": iter([
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"delta": {"text": "ok"}, "contentBlockIndex": 0}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
            {"metadata": {"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}, "metrics": {"latencyMs": 1}}},
        ])}

    model.client.converse_stream = converse_stream
    for i in range(answers):
        run_async(Agent(model=model, callback_handler=None).invoke_async(f"question {i}"))
    return sent


@pytest.fixture
def session():
    return boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def test_each_agent_runs_its_configured_model(session):
    model_for = bedrock_models(settings(), session)
    for agent_id, model_id in MODELS.items():
        assert model_for(agent_id).get_config()["model_id"] == model_id
    [request] = converse_requests(model_for("caspar"), answers=1)
    assert request["modelId"] == MODELS["caspar"]
    assert request["inferenceConfig"]["maxTokens"] == MAX_TOKENS
    assert "guardrailConfig" not in request, "no guardrail configured, none sent"
    with pytest.raises(KeyError):
        model_for("gaspard")


def test_the_guardrail_is_applied_on_every_call(session):
    model_for = bedrock_models(settings(Guardrail("gr1abc2def3", "4")), session)
    for agent_id in MODELS:
        requests = converse_requests(model_for(agent_id))
        assert len(requests) == 2
        for request in requests:
            assert request["guardrailConfig"] == {"guardrailIdentifier": "gr1abc2def3", "guardrailVersion": "4",
                                                  "trace": "enabled"}, agent_id
