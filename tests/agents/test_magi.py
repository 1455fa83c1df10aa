"""MAGI on scripted models: the sages, the vote and score, SOLOMON, trace steps and the error paths."""

from __future__ import annotations

import pytest

from app.agents import magi
from app.agents.prompts import SAGE_IDS
from app.agents.scripted_model import Turn
from tests.agents.conftest import Script, judgement, run_async, unanimous, vote


def run(prompts, script, question="Should we migrate the billing service to Aurora?", history=()):
    return run_async(magi.decide(prompts, script, question, history))


def test_three_sages_with_their_dispositions_vote_and_solomon_explains(prompts, spans):
    script = Script(caspar=[vote("REJECTED", 0.8, "Migration risk is high.")],
                    balthasar=[vote("APPROVED", 0.9, "Aurora scales better.")],
                    melchior=[vote("APPROVED", 0.6, "Benefits outweigh risk.")],
                    solomon=[judgement("Migrate, with a rollback plan.", "BALTHASAR and MELCHIOR approved.")])
    reply = run(prompts, script)

    # Each sage ran on its own model, under its own disposition, and was asked the question.
    for sage in prompts.sages:
        (call,) = script.models[sage.id].calls
        assert call.system_prompt.startswith(sage.prompt.strip())
        assert prompts.vote_format.strip() in call.system_prompt
        assert call.messages[0]["content"][0]["text"] == "Should we migrate the billing service to Aurora?"
    assert "conservative" in script.models["caspar"].calls[0].system_prompt
    assert "innovative" in script.models["balthasar"].calls[0].system_prompt
    assert "balanced" in script.models["melchior"].calls[0].system_prompt
    # SOLOMON is told the tallied decision and every vote.
    (judge_call,) = script.models["solomon"].calls
    asked = judge_call.messages[0]["content"][0]["text"]
    assert "Decision by vote: APPROVED (approved 2, rejected 1, failed 0; score 0.2333)" in asked
    assert "Migration risk is high." in asked and "Aurora scales better." in asked

    assert reply.content == "Migrate, with a rollback plan."
    assert [r["agentId"] for r in reply.agent_responses] == list(SAGE_IDS)
    assert [(r["decision"], r["confidence"], r["status"]) for r in reply.agent_responses] == [
        ("REJECTED", 0.8, "OK"), ("APPROVED", 0.9, "OK"), ("APPROVED", 0.6, "OK")]
    assert reply.judge_response == {
        "agentId": "solomon", "finalDecision": "APPROVED", "score": 0.2333,
        "voteResult": {"approved": 2, "rejected": 1, "failed": 0}, "status": "OK",
        "summary": "Migrate, with a rollback plan.", "reasoning": "BALTHASAR and MELCHIOR approved."}


def test_every_step_is_a_trace_step_of_the_same_otel_trace(prompts, spans):
    reply = run(prompts, unanimous())
    steps = reply.steps
    assert [(s["stepNumber"], s["agentId"], s["action"]) for s in steps] == [
        (1, "caspar", "consult"), (2, "balthasar", "consult"), (3, "melchior", "consult"),
        (4, "solomon", "vote"), (5, "solomon", "judge")]
    for s in steps:
        assert set(s) == {"stepNumber", "agentId", "action", "toolsUsed", "citations", "duration", "errorCount",
                          "metadata", "timestamp"}
        assert s["errorCount"] == 0 and s["duration"] >= 0 and s["timestamp"].endswith("Z")
    assert steps[0]["metadata"] == {"status": "OK", "modelId": "scripted:caspar", "disposition": "conservative",
                                    "decision": "APPROVED", "confidence": 0.6}
    assert steps[3]["citations"] == list(SAGE_IDS)
    assert steps[3]["metadata"] == {"decision": "APPROVED", "approved": 3, "rejected": 0, "failed": 0,
                                    "score": 0.75, "quorum": 2}
    assert steps[4]["toolsUsed"] == list(SAGE_IDS)
    assert steps[4]["metadata"]["finalDecision"] == "APPROVED"

    finished = spans.get_finished_spans()
    by_name = {s.name: s for s in finished}
    root = by_name["magi.decide"]
    assert reply.trace_id == format(root.context.trace_id, "032x") and len(reply.trace_id) == 32
    for name in ("magi.sage.caspar", "magi.sage.balthasar", "magi.sage.melchior", "magi.vote", "magi.judge"):
        assert by_name[name].context.trace_id == root.context.trace_id, name
        assert by_name[name].parent.span_id == root.context.span_id, name
    # Strands' own model-call spans land in the same trace, under the sage or judge span.
    model_spans = [s for s in finished if s.name.startswith("chat")]
    assert len(model_spans) == 4
    sage_and_judge = {by_name[n].context.span_id for n in by_name if n.startswith(("magi.sage.", "magi.judge"))}
    for s in model_spans:
        assert s.context.trace_id == root.context.trace_id
        ancestor = s
        parents = {x.context.span_id: x for x in finished}
        while ancestor.parent is not None and ancestor.parent.span_id not in sage_and_judge:
            ancestor = parents[ancestor.parent.span_id]
        assert ancestor.parent is not None, f"{s.name} is not under a sage or the judge"


def test_tally_majority_score_ties_and_quorum():
    sages = {s: magi.Sage(s, s.upper(), "d", "p") for s in SAGE_IDS}

    def outcome(sage, decision=None, confidence=0.5, status="OK"):
        v = magi.Vote(decision, confidence, "r") if decision else None
        return magi.SageOutcome(sages[sage], "m", status if decision is None else "OK", "t", 1, v)

    t = magi.tally([outcome("caspar", "APPROVED", 1.0), outcome("balthasar", "REJECTED", 0.2),
                    outcome("melchior", "REJECTED", 0.2)], 2)
    assert (t.decision, t.approved, t.rejected, t.failed, t.score) == ("REJECTED", 1, 2, 0, 0.2)
    # A 1-1 tie goes by the score's sign; an exact tie is SPLIT.
    assert magi.tally([outcome("caspar", "APPROVED", 0.9), outcome("balthasar", "REJECTED", 0.3),
                       outcome("melchior", status="ERROR")], 2).decision == "APPROVED"
    assert magi.tally([outcome("caspar", "APPROVED", 0.5), outcome("balthasar", "REJECTED", 0.5),
                       outcome("melchior", status="TIMEOUT")], 2).decision == "SPLIT"
    short = magi.tally([outcome("caspar", "APPROVED"), outcome("balthasar", status="ERROR"),
                        outcome("melchior", status="MALFORMED")], 2)
    assert (short.decision, short.failed, short.voters) == ("NO_QUORUM", 2, ("caspar",))
    assert magi.tally([outcome("caspar", "APPROVED"), outcome("balthasar", status="BLOCKED"),
                       outcome("melchior", status="ERROR")], 2).decision == "BLOCKED"


def test_a_failing_sage_is_a_failed_vote_and_the_others_still_decide(prompts, spans):
    script = unanimous()
    script.models["balthasar"].turns[:] = [Turn(error=RuntimeError("AccessDeniedException: not authorized"))]
    reply = run(prompts, script)
    balthasar = reply.agent_responses[1]
    assert balthasar["status"] == "ERROR" and "AccessDeniedException" in balthasar["error"] and "decision" not in balthasar
    assert reply.judge_response["finalDecision"] == "APPROVED"
    assert reply.judge_response["voteResult"] == {"approved": 2, "rejected": 0, "failed": 1}
    assert [s["errorCount"] for s in reply.steps] == [0, 1, 0, 0, 0]
    assert reply.steps[3]["citations"] == ["caspar", "melchior"]
    sage_span = next(s for s in spans.get_finished_spans() if s.name == "magi.sage.balthasar")
    assert sage_span.status.status_code.name == "ERROR"


def test_a_sage_past_its_timeout_is_a_failed_vote(prompts):
    script = unanimous()
    script.models["melchior"].turns[:] = [Turn(text='{"decision": "APPROVED"}', delay_seconds=5)]
    reply = run(prompts, script)
    assert reply.agent_responses[2]["status"] == "TIMEOUT"
    assert reply.agent_responses[2]["error"] == "no answer within 0.3 s"
    assert reply.execution_time_ms < 2000, "the slow sage was abandoned at its timeout"
    assert reply.judge_response["voteResult"]["failed"] == 1


@pytest.mark.parametrize("answer,problem", [
    ("I think yes.", "not a JSON object"),
    ('["APPROVED"]', "not a JSON object but list"),
    ('{"decision": "MAYBE", "confidence": 0.5, "reasoning": "x"}', "decision must be one of APPROVED, REJECTED"),
    ('{"decision": "APPROVED", "confidence": 1.5, "reasoning": "x"}', "confidence must be a number from 0 to 1"),
    ('{"decision": "APPROVED", "confidence": true, "reasoning": "x"}', "confidence must be a number from 0 to 1"),
    ('{"decision": "APPROVED", "confidence": 0.5, "reasoning": " "}', "reasoning must be non-empty text"),
])
def test_a_malformed_vote_is_recorded_as_malformed_never_guessed(prompts, answer, problem):
    script = unanimous("REJECTED")
    script.models["caspar"].turns[:] = [Turn(answer)]
    reply = run(prompts, script)
    caspar = reply.agent_responses[0]
    assert caspar["status"] == "MALFORMED" and problem in caspar["error"]
    assert reply.steps[0]["metadata"]["status"] == "MALFORMED"
    assert reply.judge_response["voteResult"] == {"approved": 0, "rejected": 2, "failed": 1}


def test_a_vote_in_a_code_fence_is_accepted():
    assert magi.parse_vote('```json\n{"decision": "REJECTED", "confidence": 0, "reasoning": "no"}\n```') == \
        magi.Vote("REJECTED", 0.0, "no")


def test_guardrail_intervention_on_sages_blocks_the_reply_without_calling_solomon(prompts):
    script = unanimous()
    for sage in ("caspar", "balthasar"):
        script.models[sage].turns[:] = [Turn("Sorry, the model cannot answer.", stop_reason="guardrail_intervened")]
    reply = run(prompts, script)
    assert [r["status"] for r in reply.agent_responses] == ["BLOCKED", "BLOCKED", "OK"]
    assert reply.content == prompts.blocked
    assert reply.judge_response["finalDecision"] == "BLOCKED" and reply.judge_response["status"] == "SKIPPED"
    assert script.models["solomon"].calls == [], "no judgement without a quorum"
    assert script.models["solomon"].turns, "SOLOMON's scripted turn is still unused"


def test_guardrail_intervention_on_solomon_blocks_the_reply(prompts):
    script = unanimous()
    script.models["solomon"].turns[:] = [Turn("blocked", stop_reason="guardrail_intervened")]
    reply = run(prompts, script)
    assert reply.content == prompts.blocked
    assert reply.judge_response["finalDecision"] == "BLOCKED"
    assert reply.steps[-1]["errorCount"] == 1


def test_no_quorum_when_too_few_sages_answer(prompts):
    script = unanimous()
    script.models["caspar"].turns[:] = [Turn(error=TimeoutError("read timed out"))]
    script.models["balthasar"].turns[:] = [Turn("not json")]
    reply = run(prompts, script)
    assert reply.content == "MAGI could not reach a decision: fewer than 2 sages gave a valid answer. Please try again."
    assert reply.judge_response["finalDecision"] == "NO_QUORUM"
    assert reply.steps[3]["errorCount"] == 1


@pytest.mark.parametrize("turn,status", [
    (Turn("no json here"), "MALFORMED"),
    (Turn(error=RuntimeError("ThrottlingException")), "ERROR"),
    (Turn("{}", delay_seconds=5), "TIMEOUT"),
])
def test_an_unusable_judgement_falls_back_to_the_vote(prompts, turn, status):
    script = unanimous("REJECTED")
    script.models["solomon"].turns[:] = [turn]
    reply = run(prompts, script)
    assert reply.content == "MAGI decision: REJECTED (approved 0, rejected 3)."
    assert reply.judge_response["status"] == status and reply.judge_response["finalDecision"] == "REJECTED"
    assert reply.steps[-1]["errorCount"] == 1


def test_history_from_memory_reaches_every_sage(prompts):
    script = unanimous()
    history = [magi.MemoryTurn("USER", "Is Aurora expensive?"), magi.MemoryTurn("ASSISTANT", "It costs more than RDS.")]
    run(prompts, script, "Should we still migrate?", history)
    for sage in SAGE_IDS:
        text = script.models[sage].calls[0].messages[0]["content"][0]["text"]
        assert "USER: Is Aurora expensive?\nASSISTANT: It costs more than RDS." in text
        assert text.endswith("Should we still migrate?")
    # SOLOMON judges the question itself, from the votes.
    assert "Question: Should we still migrate?" in script.models["solomon"].calls[0].messages[0]["content"][0]["text"]
