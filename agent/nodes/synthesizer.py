"""Synthesizer: the answer as cited claims, every citation checked before release.

When every step succeeded this is the only model call after planning: the
claims come with the gaps the evidence leaves, which is the reflection a happy
run needs. When a budget has run out, or the model's synthesis is unusable,
the answer is built without the model from the best passages gathered, so a
run always ends with the best cited answer its evidence allows.
"""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import Field

from agent.budget import BudgetExhausted
from agent.citations import (
    CitationCheck,
    ClaimDraft,
    assess_claims,
    check_claims,
    claims_schema,
    render_answer,
)
from agent.dispatch import cancel_steps
from agent.errors import ModelOutputError
from agent.events import CitationCheckEvent, UsageEvent, emit
from agent.models.structured import (
    ReplySchema,
    call_structured,
    grammar_constrained,
    json_schema_for,
)
from agent.nodes._deps import NodeContext, NodeDeps
from agent.observation import fence_text
from agent.progress import current_plan, depth_of
from agent.prompts import render_prompt
from agent.run_end import answered, final_outcome
from agent.state import ResearchState, Usage, add_usage
from agent.step_views import EvidenceItem, gather_evidence
from agent.support import lead_sentences
from agent.support_judge import judge_support

__all__ = ["Synthesis", "synthesize"]


class Synthesis(ReplySchema):
    """Answer the task as claims, each citing the evidence passages that support it."""

    SCRIPT_KEY: ClassVar[str] = "Synthesis"

    claims: list[ClaimDraft] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list, description="what the evidence does not show")


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
    ctx = deps.context(state, runtime, config, node="synthesizer")
    run_id, sink = ctx.run_id, ctx.sink
    cancel_steps(run_id)  # nothing keeps running past the answer
    budget = ""
    if state.get("status") == "budget_exhausted":
        budget = state.get("stop_reason") or "a budget ran out"
    evidence = gather_evidence(state, task=state["task"], limit_chars=ctx.settings.evidence_chars)
    if budget:
        check = _extractive(evidence, state, budget)
    elif not evidence:
        check = check_claims(
            [],
            [],
            gaps=_gaps(state),
            heading="_No step produced usable evidence, so there is no cited answer._",
        )
    else:
        written = await _model_answer(ctx, evidence)
        if written is None:
            budget = "the budget ran out before the answer was written"
            written = _extractive(evidence, state, budget)
        check = written
    answer = check.answer
    status, reason = final_outcome(state, answer, budget=budget, had_evidence=bool(evidence))
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
    update = answered(sink, run_id, answer, status, reason)
    spent = ctx.gate.usage_update()
    total = add_usage(state.get("usage") or Usage(), spent)
    emit(
        sink,
        UsageEvent(run_id=run_id, **total.summary(), by_role=dict(total.by_role())),  # type: ignore[arg-type]
    )
    return {**update, "usage": spent}


async def _model_answer(ctx: NodeContext, evidence: list[EvidenceItem]) -> CitationCheck | None:
    state = ctx.state
    js = json_schema_for(Synthesis)
    js.pop("$defs", None)
    js["properties"]["claims"] = claims_schema(evidence, grammar=grammar_constrained(ctx.model))
    js["properties"]["gaps"] = {
        "type": "array",
        "items": {"type": "string", "maxLength": 300},
        "maxItems": 6,
    }
    # Without this a grammar-constrained model may answer ``{}`` (claims has a default).
    js["required"] = ["claims"]
    prompt = "synthesize" if ctx.deps.purpose == "research" else "summarize_task"
    messages = render_prompt(prompt, task=state["task"], evidence=_evidence_block(evidence))
    try:
        reply = await call_structured(
            ctx.model,
            messages,
            Synthesis,
            gate=ctx.gate,
            json_schema=js,
            retries=ctx.settings.output_retries,
            config=ctx.config,
        )
    except BudgetExhausted:
        return None
    except ModelOutputError as exc:
        return _extractive(evidence, state, f"the model's synthesis was unusable ({exc})")
    assessment = assess_claims(reply.value.claims, evidence)
    if depth_of(state, ctx.settings).name == "high":
        assessment = await judge_support(
            assessment,
            model=ctx.model,
            gate=ctx.gate,
            retries=ctx.settings.output_retries,
            config=ctx.config,
        )
    return render_answer(assessment, gaps=reply.value.gaps)


def _evidence_block(evidence: list[EvidenceItem]) -> str:
    blocks = []
    for item in evidence:
        text = item.passage.text.strip()
        text = text if len(text) <= item.shown else text[: item.shown] + " …"
        if item.note:  # a note: its fact, then the page's exact words it rests on
            text = f"{item.note}\n> {text}"
        blocks.append(fence_text(text, item.passage.ref, ident=item.id))
    return "\n".join(blocks)
