"""Conversation context in AgentCore memory (short-term events).

Actor = the user's Cognito sub, session = the conversation id: each answered question is one event
holding the user's turn and MAGI's reply; the most recent events give the sages the conversation so
far. Memory is context, not the record (that is the Message in DynamoDB), so a failed read or write
is logged and the answer goes on without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from .magi import MemoryTurn

log = logging.getLogger(__name__)
RECENT_EVENTS = 10  # exchanges the sages see (20 turns)
MAX_TURN_CHARS = 4000  # per remembered turn, so the prompt stays bounded


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ConversationMemory:
    client: Any  # boto3 "bedrock-agentcore" client
    memory_id: str
    clock: Callable[[], datetime] = _utc_now

    def recent(self, user_id: str, conversation_id: str) -> list[MemoryTurn]:
        """The last exchanges of this conversation, oldest first; [] when memory cannot be read."""
        try:
            events = self.client.list_events(memoryId=self.memory_id, actorId=user_id, sessionId=conversation_id,
                                             includePayloads=True, maxResults=RECENT_EVENTS)["events"]
        except (ClientError, BotoCoreError) as exc:
            log.warning("memory read failed, answering without context: %s", exc)
            return []
        turns: list[MemoryTurn] = []
        for event in sorted(events, key=lambda e: e["eventTimestamp"]):
            for item in event.get("payload", []):
                said = item.get("conversational") or {}
                text = (said.get("content") or {}).get("text")
                if said.get("role") in ("USER", "ASSISTANT") and isinstance(text, str):
                    turns.append(MemoryTurn(said["role"], text[:MAX_TURN_CHARS]))
        return turns

    def remember(self, user_id: str, conversation_id: str, question: str, answer: str) -> bool:
        """Store one exchange; False (logged) when memory cannot be written."""
        try:
            self.client.create_event(
                memoryId=self.memory_id, actorId=user_id, sessionId=conversation_id, eventTimestamp=self.clock(),
                payload=[{"conversational": {"content": {"text": question}, "role": "USER"}},
                         {"conversational": {"content": {"text": answer}, "role": "ASSISTANT"}}])
        except (ClientError, BotoCoreError) as exc:
            log.warning("memory write failed, the reply is stored without it: %s", exc)
            return False
        return True
