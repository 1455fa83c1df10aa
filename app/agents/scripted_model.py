"""A deterministic Strands model answering from a script, so the MAGI flow runs without Bedrock.

Each call to ``stream`` takes the next ``Turn`` for the agent that calls it: text to answer, an
exception to raise (as Bedrock's client would), a delay (to reach a timeout), or a stop reason such
as ``guardrail_intervened`` (what Bedrock reports when a guardrail blocks or masks). Every call is
recorded (system prompt and messages) so tests can assert what each agent was asked.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass, field
from typing import Any, Optional

from strands.models.model import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec


@dataclass(frozen=True)
class Turn:
    text: str = ""
    stop_reason: str = "end_turn"
    error: Optional[BaseException] = None
    delay_seconds: float = 0.0


@dataclass
class Call:
    system_prompt: Optional[str]
    messages: Messages


@dataclass
class ScriptedModel(Model):
    """Answers turn after turn from ``turns``; running out of turns is a test bug and says so."""

    name: str
    turns: list[Turn]
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def update_config(self, **model_config: Any) -> None:
        raise NotImplementedError("the scripted model has no configuration")

    def get_config(self) -> dict[str, Any]:
        return {"model_id": f"scripted:{self.name}"}

    def structured_output(self, output_model: Any, prompt: Messages, system_prompt: Optional[str] = None,
                          **kwargs: Any) -> AsyncGenerator[dict[str, Any], None]:
        raise NotImplementedError("MAGI parses JSON text itself; structured output is not scripted")

    async def stream(self, messages: Messages, tool_specs: Optional[list[ToolSpec]] = None,
                     system_prompt: Optional[str] = None, **kwargs: Any) -> AsyncIterable[StreamEvent]:
        with self._lock:
            self.calls.append(Call(system_prompt=system_prompt, messages=list(messages)))
            if not self.turns:
                raise AssertionError(f"scripted model {self.name}: no turn left for call {len(self.calls)}")
            turn = self.turns.pop(0)
        if turn.delay_seconds:
            await asyncio.sleep(turn.delay_seconds)
        if turn.error is not None:
            raise turn.error
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        yield {"contentBlockDelta": {"delta": {"text": turn.text}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": turn.stop_reason}}
        tokens = max(1, len(turn.text) // 4)
        yield {"metadata": {"usage": {"inputTokens": 10, "outputTokens": tokens, "totalTokens": 10 + tokens},
                            "metrics": {"latencyMs": int(turn.delay_seconds * 1000)}}}
