"""MAGI: SOLOMON consults CASPAR, BALTHASAR and MELCHIOR, tallies their votes and judges.

Each sage is a Strands agent with its own disposition (system prompt from prompts/magi.yaml) and
model; the three run concurrently, each under a timeout. A sage's answer must be one JSON vote;
anything else (an error, a timeout, malformed JSON, a guardrail intervention) is a failed vote,
recorded as such, never guessed. The tally is plain code (``tally``): the majority decides, the
score is the mean signed confidence. SOLOMON, a Strands agent too, explains the tallied decision.
Every step becomes a TraceStep (sage consultations, the vote, the judgement) carrying the
OpenTelemetry trace id, so the web app can show the steps and X-Ray the spans of the same trace.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Sequence

from opentelemetry import trace
from strands import Agent
from strands.models.model import Model

from .prompts import JUDGE_ID, MagiPrompts, Sage

DECISIONS = ("APPROVED", "REJECTED")
GUARDRAIL_STOP = "guardrail_intervened"
MAX_REASONING = 2000  # characters kept of a sage's reasoning (TraceStep metadata stays small)
tracer = trace.get_tracer("aiplatform.agents.magi")

ModelFor = Callable[[str], Model]  # agent id -> the Strands model it runs on


@dataclass(frozen=True)
class MemoryTurn:
    """One earlier exchange from the conversation's memory."""

    role: str  # USER | ASSISTANT
    text: str


@dataclass(frozen=True)
class Vote:
    decision: str
    confidence: float
    reasoning: str


@dataclass(frozen=True)
class SageOutcome:
    sage: Sage
    model_id: str
    status: str  # OK | ERROR | TIMEOUT | MALFORMED | BLOCKED
    started: str
    duration_ms: int
    vote: Optional[Vote] = None
    error: Optional[str] = None

    def response(self) -> dict[str, Any]:
        """The AgentResponse the Message carries."""
        out: dict[str, Any] = {"agentId": self.sage.id, "name": self.sage.name, "disposition": self.sage.disposition,
                               "status": self.status, "modelId": self.model_id, "durationMs": self.duration_ms}
        if self.vote:
            out.update(decision=self.vote.decision, confidence=self.vote.confidence, reasoning=self.vote.reasoning)
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Verdict:
    decision: str  # APPROVED | REJECTED | SPLIT | NO_QUORUM | BLOCKED
    approved: int
    rejected: int
    failed: int
    score: float  # mean signed confidence of the valid votes, -1 (all reject) .. 1 (all approve)
    voters: tuple[str, ...]


@dataclass(frozen=True)
class MagiReply:
    content: str
    agent_responses: list[dict[str, Any]]
    judge_response: dict[str, Any]
    steps: list[dict[str, Any]]
    trace_id: str
    execution_time_ms: int


class MalformedVote(ValueError):
    pass


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def trace_id_hex(span: trace.Span) -> str:
    """The W3C form (32 hex digits) of the span's trace id; X-Ray shows it as 1-<8>-<24>."""
    return format(span.get_span_context().trace_id, "032x")


def parse_json_object(text: str) -> dict[str, Any]:
    """The one JSON object the model was asked for (a surrounding Markdown code fence is tolerated)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedVote(f"not a JSON object ({exc.msg})") from None
    if not isinstance(value, dict):
        raise MalformedVote(f"not a JSON object but {type(value).__name__}")
    return value


def parse_vote(text: str) -> Vote:
    value = parse_json_object(text)
    decision, confidence, reasoning = value.get("decision"), value.get("confidence"), value.get("reasoning")
    if decision not in DECISIONS:
        raise MalformedVote(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise MalformedVote(f"confidence must be a number from 0 to 1, got {confidence!r}")
    if not isinstance(reasoning, str) or not reasoning.strip():
        raise MalformedVote("reasoning must be non-empty text")
    return Vote(decision, float(confidence), reasoning.strip()[:MAX_REASONING])


def tally(outcomes: Sequence[SageOutcome], quorum: int) -> Verdict:
    """Majority of the valid votes; a tie goes by the score's sign, an exact tie is SPLIT. Fewer valid
    votes than ``quorum`` is NO_QUORUM, or BLOCKED when a guardrail stopped any of the missing ones."""
    valid = [o for o in outcomes if o.vote is not None]
    approved = sum(1 for o in valid if o.vote.decision == "APPROVED")
    rejected = len(valid) - approved
    signed = [o.vote.confidence if o.vote.decision == "APPROVED" else -o.vote.confidence for o in valid]
    score = round(sum(signed) / len(signed), 4) if signed else 0.0
    if len(valid) < quorum:
        decision = "BLOCKED" if any(o.status == "BLOCKED" for o in outcomes) else "NO_QUORUM"
    elif approved != rejected:
        decision = "APPROVED" if approved > rejected else "REJECTED"
    else:
        decision = "APPROVED" if score > 0 else "REJECTED" if score < 0 else "SPLIT"
    return Verdict(decision, approved, rejected, len(outcomes) - len(valid), score, tuple(o.sage.id for o in valid))


def _model_id(model: Model) -> str:
    config = model.get_config()
    return str(config.get("model_id", "unknown")) if isinstance(config, dict) else "unknown"


def _question_with_history(prompts: MagiPrompts, question: str, history: Sequence[MemoryTurn]) -> str:
    if not history:
        return question
    turns = "\n".join(f"{t.role}: {t.text}" for t in history)
    return f"{prompts.history.format(turns=turns).strip()}\n\n{question}"


async def consult(sage: Sage, model: Model, prompts: MagiPrompts, question: str) -> SageOutcome:
    """One sage's vote, under the sage timeout. Never raises: a failure is an outcome."""
    started, t0 = iso_now(), time.monotonic()
    model_id = _model_id(model)
    with tracer.start_as_current_span(f"magi.sage.{sage.id}", attributes={
            "magi.agent_id": sage.id, "magi.disposition": sage.disposition, "gen_ai.request.model": model_id}) as span:
        def outcome(status: str, vote: Optional[Vote] = None, error: Optional[str] = None) -> SageOutcome:
            span.set_attribute("magi.status", status)
            if error:
                span.set_status(trace.Status(trace.StatusCode.ERROR, error))
            return SageOutcome(sage, model_id, status, started, int((time.monotonic() - t0) * 1000), vote, error)

        agent = Agent(model=model, system_prompt=prompts.sage_system_prompt(sage), callback_handler=None,
                      name=sage.name, agent_id=sage.id)
        try:
            result = await asyncio.wait_for(agent.invoke_async(question), prompts.sage_timeout)
        except asyncio.TimeoutError:
            return outcome("TIMEOUT", error=f"no answer within {prompts.sage_timeout:g} s")
        except Exception as exc:  # the model call failed (throttled, denied, network): a failed vote
            span.record_exception(exc)
            return outcome("ERROR", error=f"{type(exc).__name__}: {str(exc)[:300]}")
        if result.stop_reason == GUARDRAIL_STOP:
            return outcome("BLOCKED", error="the guardrail intervened")
        try:
            vote = parse_vote(str(result))
        except MalformedVote as exc:
            return outcome("MALFORMED", error=f"malformed vote: {exc}")
        span.set_attribute("magi.decision", vote.decision)
        return outcome("OK", vote=vote)


@dataclass
class _Steps:
    trace_id: str
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, agent_id: str, action: str, started: str, duration_ms: int, *, errors: int = 0,
            tools: Sequence[str] = (), citations: Sequence[str] = (), metadata: Optional[dict[str, Any]] = None) -> None:
        self.items.append({
            "stepNumber": len(self.items) + 1, "agentId": agent_id, "action": action, "toolsUsed": list(tools),
            "citations": list(citations), "duration": duration_ms, "errorCount": errors,
            "metadata": metadata or {}, "timestamp": started,
        })


async def judge(prompts: MagiPrompts, model: Model, question: str, verdict: Verdict,
                outcomes: Sequence[SageOutcome]) -> tuple[dict[str, Any], str, int]:
    """SOLOMON's explanation of the tallied decision: (fields for judgeResponse, content, errors)."""
    counts = {"approved": verdict.approved, "rejected": verdict.rejected}
    if verdict.decision in ("NO_QUORUM", "BLOCKED"):
        message = prompts.blocked if verdict.decision == "BLOCKED" else prompts.no_quorum.format(quorum=prompts.quorum)
        return {"status": "SKIPPED"}, message, 0
    votes = "\n".join(json.dumps(o.response(), ensure_ascii=False) for o in outcomes)
    request = prompts.judge_request.format(question=question, decision=verdict.decision, failed=verdict.failed,
                                           score=verdict.score, votes=votes, **counts)
    agent = Agent(model=model, system_prompt=prompts.judge_system_prompt(), callback_handler=None,
                  name="SOLOMON", agent_id=JUDGE_ID)
    fallback = prompts.vote_only.format(decision=verdict.decision, **counts)
    try:
        result = await asyncio.wait_for(agent.invoke_async(request), prompts.judge_timeout)
    except asyncio.TimeoutError:
        return {"status": "TIMEOUT", "error": f"no answer within {prompts.judge_timeout:g} s"}, fallback, 1
    except Exception as exc:
        trace.get_current_span().record_exception(exc)
        return {"status": "ERROR", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}, fallback, 1
    if result.stop_reason == GUARDRAIL_STOP:
        return {"status": "BLOCKED", "error": "the guardrail intervened"}, prompts.blocked, 1
    try:
        answer = parse_json_object(str(result))
        summary, reasoning = answer.get("summary"), answer.get("reasoning")
        if not isinstance(summary, str) or not summary.strip() or not isinstance(reasoning, str):
            raise MalformedVote("summary and reasoning must be text")
    except MalformedVote as exc:
        return {"status": "MALFORMED", "error": f"malformed judgement: {exc}"}, fallback, 1
    return {"status": "OK", "summary": summary.strip(), "reasoning": reasoning.strip()}, summary.strip(), 0


async def decide(prompts: MagiPrompts, model_for: ModelFor, question: str, history: Sequence[MemoryTurn] = ()) -> MagiReply:
    """The whole MAGI flow for one question, in the current OpenTelemetry trace."""
    t0 = time.monotonic()
    with tracer.start_as_current_span("magi.decide", attributes={"magi.question_length": len(question)}) as span:
        steps = _Steps(trace_id_hex(span))
        asked = _question_with_history(prompts, question, history)
        outcomes = await asyncio.gather(*(consult(s, model_for(s.id), prompts, asked) for s in prompts.sages))
        for o in outcomes:
            steps.add(o.sage.id, "consult", o.started, o.duration_ms, errors=0 if o.status == "OK" else 1,
                      metadata={"status": o.status, "modelId": o.model_id, "disposition": o.sage.disposition,
                                **({"decision": o.vote.decision, "confidence": o.vote.confidence} if o.vote else {}),
                                **({"error": o.error} if o.error else {})})

        vote_started, v0 = iso_now(), time.monotonic()
        with tracer.start_as_current_span("magi.vote") as vote_span:
            verdict = tally(outcomes, prompts.quorum)
            vote_span.set_attributes({"magi.decision": verdict.decision, "magi.score": verdict.score})
        steps.add(JUDGE_ID, "vote", vote_started, int((time.monotonic() - v0) * 1000), citations=verdict.voters,
                  errors=0 if verdict.decision not in ("NO_QUORUM", "BLOCKED") else 1,
                  metadata={"decision": verdict.decision, "approved": verdict.approved, "rejected": verdict.rejected,
                            "failed": verdict.failed, "score": verdict.score, "quorum": prompts.quorum})

        judge_started, j0 = iso_now(), time.monotonic()
        judge_model = model_for(JUDGE_ID)
        with tracer.start_as_current_span("magi.judge", attributes={"gen_ai.request.model": _model_id(judge_model)}):
            judgement, content, judge_errors = await judge(prompts, judge_model, question, verdict, outcomes)
        final = "BLOCKED" if judgement["status"] == "BLOCKED" else verdict.decision
        steps.add(JUDGE_ID, "judge", judge_started, int((time.monotonic() - j0) * 1000), errors=judge_errors,
                  tools=[s.id for s in prompts.sages], citations=verdict.voters,
                  metadata={"status": judgement["status"], "finalDecision": final, "modelId": _model_id(judge_model)})
        span.set_attribute("magi.final_decision", final)
        judge_response = {"agentId": JUDGE_ID, "finalDecision": final, "score": verdict.score,
                          "voteResult": {"approved": verdict.approved, "rejected": verdict.rejected,
                                         "failed": verdict.failed}, **judgement}
        return MagiReply(content=content, agent_responses=[o.response() for o in outcomes],
                         judge_response=judge_response, steps=steps.items, trace_id=steps.trace_id,
                         execution_time_ms=int((time.monotonic() - t0) * 1000))
