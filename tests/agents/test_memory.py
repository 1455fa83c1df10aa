"""Conversation memory against the bedrock-agentcore service model (botocore Stubber checks every request)."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from app.agents.magi import MemoryTurn
from app.agents.memory import RECENT_EVENTS, ConversationMemory

MEMORY_ID = "magi_memory-Ab12Cd34Ef"
T = datetime(2026, 3, 14, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def client():
    c = boto3.client("bedrock-agentcore", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(c) as stub:
        c.stub = stub
        yield c
        stub.assert_no_pending_responses()


def said(role, text):
    return {"conversational": {"content": {"text": text}, "role": role}}


def event(i, *payload):
    return {"memoryId": MEMORY_ID, "actorId": "alice-sub", "sessionId": "conv-1", "eventId": f"e-{i}",
            "eventTimestamp": datetime(2026, 3, 14, 11, i, tzinfo=timezone.utc), "payload": list(payload)}


def test_recent_turns_come_oldest_first_for_the_user_and_conversation(client):
    client.stub.add_response("list_events", {"events": [
        event(5, said("USER", "And the cost?"), said("ASSISTANT", "Higher.")),
        event(1, said("USER", "Aurora?"), said("ASSISTANT", "Approved.")),
    ]}, {"memoryId": MEMORY_ID, "actorId": "alice-sub", "sessionId": "conv-1", "includePayloads": True,
         "maxResults": RECENT_EVENTS})
    turns = ConversationMemory(client, MEMORY_ID).recent("alice-sub", "conv-1")
    assert turns == [MemoryTurn("USER", "Aurora?"), MemoryTurn("ASSISTANT", "Approved."), MemoryTurn("USER", "And the cost?"),
                     MemoryTurn("ASSISTANT", "Higher.")]


def test_an_exchange_is_one_event_of_two_turns(client):
    client.stub.add_response("create_event", {"event": event(0)}, {
        "memoryId": MEMORY_ID, "actorId": "alice-sub", "sessionId": "conv-1", "eventTimestamp": T,
        "payload": [said("USER", "Q?"), said("ASSISTANT", "A.")]})
    assert ConversationMemory(client, MEMORY_ID, clock=lambda: T).remember("alice-sub", "conv-1", "Q?", "A.") is True


def test_memory_failures_degrade_to_no_context_and_are_logged(client, caplog):
    client.stub.add_client_error("list_events", "AccessDeniedException", "not allowed")
    client.stub.add_client_error("create_event", "ThrottledException", "slow down")
    memory = ConversationMemory(client, MEMORY_ID, clock=lambda: T)
    assert memory.recent("alice-sub", "conv-1") == []
    assert memory.remember("alice-sub", "conv-1", "Q?", "A.") is False
    assert "memory read failed" in caplog.text and "memory write failed" in caplog.text
