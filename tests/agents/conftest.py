"""Fixtures for the MAGI agent tests: scripted models, fast prompts, OpenTelemetry in memory."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from typing import Iterable

import boto3
import pytest
from moto import mock_aws
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.agents.prompts import load_prompts
from app.agents.scripted_model import ScriptedModel, Turn
from components.data import PLATFORM_TABLES

EXPORTER = InMemorySpanExporter()


def _install_exporter() -> None:
    """One SDK provider per process (OTel refuses to replace it): ours, or the one already set."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))


_install_exporter()


@pytest.fixture
def spans():
    EXPORTER.clear()
    yield EXPORTER
    EXPORTER.clear()


@pytest.fixture(scope="session")
def shipped_prompts():
    return load_prompts()


@pytest.fixture
def prompts(shipped_prompts):
    """The shipped prompts with timeouts short enough for tests."""
    return dataclasses.replace(shipped_prompts, sage_timeout=0.3, judge_timeout=0.3)


def vote(decision: str, confidence: float, reasoning: str = "because") -> Turn:
    return Turn(json.dumps({"decision": decision, "confidence": confidence, "reasoning": reasoning}))


def judgement(summary: str = "Go ahead, carefully.", reasoning: str = "Two sages approved.") -> Turn:
    return Turn(json.dumps({"summary": summary, "reasoning": reasoning}))


class Script:
    """agent id -> ScriptedModel; what each agent answers, turn by turn."""

    def __init__(self, **turns: Iterable[Turn]):
        self.models = {agent: ScriptedModel(agent, list(t)) for agent, t in turns.items()}

    def __call__(self, agent_id: str) -> ScriptedModel:
        return self.models[agent_id]


def unanimous(decision: str = "APPROVED") -> Script:
    return Script(caspar=[vote(decision, 0.6)], balthasar=[vote(decision, 0.9)], melchior=[vote(decision, 0.75)],
                  solomon=[judgement()])


@pytest.fixture(scope="package")
def ddb():
    """One moto account for tests/agents (ended with it); each test makes its own table."""
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(key, value)
        yield boto3.resource("dynamodb", region_name="us-east-1")


def usage_table(ddb):
    """A fresh table shaped as the Data component's agentUsage."""
    spec = PLATFORM_TABLES["agentUsage"]
    return ddb.create_table(
        TableName=f"agentUsage-{uuid.uuid4().hex}", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": spec.hash_key, "KeyType": "HASH"}, {"AttributeName": spec.range_key, "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in spec.attributes.items()])


def run_async(coro):
    """Run ``coro`` on a private event loop. Unlike asyncio.run this leaves the thread's current loop
    alone: asyncio.run unsets it, and the Pulumi mocks tests later in the suite need one."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
