"""Synthesizer: the answer as cited claims, every citation checked before release.

When every step succeeded this is the only model call after planning: the
claims come with the gaps the evidence leaves, which is the reflection a happy
run needs. When a budget has run out, or the model's synthesis is unusable,
the answer is built without the model from the best passages gathered, so a
run always ends with the best cited answer its evidence allows.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agent._internal.step_pool import step_pool
from agent.budget import BudgetExhausted, BudgetGate
from agent.citations import (
    CitationCheck,
    ClaimDraft,
    assess_claims,
    check_claims,
    claims_schema,
    render_answer,
)
from agent.errors import ModelOutputError
from agent.events import AnswerEvent, CitationCheckEvent, UsageEvent, emit
from agent.models.structured import call_structured, grammar_constrained, json_schema_for
from agent.nodes._deps import NodeDeps
from agent.observation import fence_text
from agent.progress import current_plan, depth_of
from agent.prompts import render_prompt
from agent.state import Answer, ResearchState, Usage, add_usage
from agent.step_views import EvidenceItem, gather_evidence
from agent.support import lead_sentences
from agent.support_judge import judge_support

__all__ = ["Synthesis", "direct_answer_update", "synthesize"]


class Synthesis(BaseModel):
    """Answer the task as claims, each citing the evidence passages that support it."""

    claims: list[ClaimDraft] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list, description="what the evidence does not show")


def direct_answer_update(run_id: str, text: str, runtime: Runtime[Any]) -> dict[str, Any]:
    answer = Answer(markdown=text.strip())
    emit(runtime.stream_writer, AnswerEvent(run_id=run_id, status="done", markdown=answer.markdown))
    return {"answer": answer, "status": "done", "stop_reason": "answered directly"}


def _gaps(state: ResearchState) -> list[str]:
    plan = current_plan(state)
    records = state.get("steps") or {}
    return [
        f"{s.goal} (step {s.id} {records[s.id].status if s.id in records else 'did not run'})"
        for s in (plan.steps if plan else ())
        if s.id not in records or not records[s.id].ok
    ]


def _extractive(evidence: list[EvidenceItem], state: ResearchState, why: str) -> CitationCheck:
    """An answer without the model: the top passage of each successful step, cited."""
    firsts: dict[str, EvidenceItem] = {}
    for item in evidence:
        firsts.setdefault(item.record.step_id, item)
    plan = current_plan(state)
    goals = {s.id: s.goal for s in plan.steps} if plan else {}
    claims = [
        ClaimDraft(
            label=goals.get(sid, sid), text=lead_sentences(item.passage.text), cites=[item.id]
        )
        for sid, item in firsts.items()
    ]
    return check_claims(claims, evidence, gaps=_gaps(state), heading=f"_Partial answer: {why}._")


async def synthesize(
    state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, deps: NodeDeps
) -> dict[str, Any]:
    settings = deps.settings_of(state, runtime)
    gate = BudgetGate(state, settings.budgets, node="synthesizer")
    run_id = state["run_id"]
    step_pool().cancel(run_id)  # nothing keeps running past the answer
    status = state.get("status") or "running"
    stop_reason = state.get("stop_reason") or ""
    evidence = gather_evidence(state, task=state["task"], limit_chars=settings.evidence_chars)
    if status == "budget_exhausted":
        check = _extractive(evidence, state, stop_reason or "a budget ran out")
    elif not evidence:
        check = check_claims(
            [],
            [],
            gaps=_gaps(state),
            heading="_No step produced usable evidence, so there is no cited answer._",
        )
        status = "done"
    else:
        status = "done"
        written = await _model_answer(state, deps, settings, gate, config, evidence)
        if written is None:
            status = "budget_exhausted"
            stop_reason = stop_reason or "the budget ran out before the answer was written"
            written = _extractive(evidence, state, stop_reason)
        check = written
    answer = check.answer
    sink = runtime.stream_writer
    emit(
        sink,
        CitationCheckEvent(
            run_id=run_id,
            checked=check.checked,
            kept=answer.tally.supported,
            rejected=answer.rejected,
            **answer.tally.model_dump(exclude={"checked"}),
        ),
    )
    emit(
        sink,
        AnswerEvent(
            run_id=run_id,
            status=status,
            markdown=answer.markdown,
            citations=tuple(c.model_dump(mode="json") for c in answer.citations),
        ),
    )
    spent = gate.usage_update()
    total = add_usage(state.get("usage") or Usage(), spent)
    emit(sink, UsageEvent(run_id=run_id, **total.summary()))  # type: ignore[arg-type]
    return {
        "answer": answer,
        "status": status,
        "stop_reason": stop_reason or "answered",
        "usage": spent,
    }


async def _model_answer(
    state: ResearchState,
    deps: NodeDeps,
    settings: Any,
    gate: BudgetGate,
    config: RunnableConfig,
    evidence: list[EvidenceItem],
) -> CitationCheck | None:
    js = json_schema_for(Synthesis)
    js.pop("$defs", None)
    js["properties"]["claims"] = claims_schema(evidence, grammar=grammar_constrained(deps.model))
    js["properties"]["gaps"] = {
        "type": "array",
        "items": {"type": "string", "maxLength": 300},
        "maxItems": 6,
    }
    # Without this a grammar-constrained model may answer ``{}`` (claims has a default).
    js["required"] = ["claims"]
    prompt = "synthesize" if deps.purpose == "research" else "summarize_task"
    messages = render_prompt(prompt, task=state["task"], evidence=_evidence_block(evidence))
    try:
        reply = await call_structured(
            deps.model,
            messages,
            Synthesis,
            gate=gate,
            json_schema=js,
            retries=settings.output_retries,
            config=config,
        )
    except BudgetExhausted:
        return None
    except ModelOutputError as exc:
        return _extractive(evidence, state, f"the model's synthesis was unusable ({exc})")
    assessment = assess_claims(reply.value.claims, evidence)
    if depth_of(state, settings).name == "high":
        assessment = await judge_support(
            assessment, model=deps.model, gate=gate, retries=settings.output_retries, config=config
        )
    return render_answer(assessment, gaps=reply.value.gaps)


def _evidence_block(evidence: list[EvidenceItem]) -> str:
    blocks = []
    for item in evidence:
        text = item.passage.text.strip()
        text = text if len(text) <= item.shown else text[: item.shown] + " …"
        blocks.append(fence_text(text, item.passage.ref, ident=item.id))
    return "\n".join(blocks)
