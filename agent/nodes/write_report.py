"""Report writer (``Settings(report="long")``): outline, sections in parallel, summary.

After the evidence is in, the model plans an outline that assigns evidence to
sections; every section is then written at once (one model call each, run
concurrently), each from its own evidence; a short summary is written last
from what the sections established. Every claim goes through the citation
check a short answer does, and the sources are numbered once for the whole
report (`agent.long_report.assemble_report`). At high effort one more call has
the model judge the support of every claim of the report at once
(`agent.support_judge`), as it does for a short answer.

Budgets: the model calls the sections, the summary and the judgement need are counted before any
starts, so parallel calls cannot overrun ``max_model_calls`` together; sections
that do not fit are left out and listed as gaps. When no section could be
written, this node hands the run to the synthesizer (its short answer, or its
answer built from the evidence without the model) by returning no answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agent.budget import BudgetExhausted
from agent.citations import assess_claims
from agent.dispatch import cancel_steps
from agent.errors import ModelOutputError
from agent.events import CitationCheckEvent, UsageEvent, emit
from agent.long_report import (
    MAX_SECTIONS,
    Outline,
    PlannedSection,
    ReportPlan,
    SectionDraft,
    SummaryDraft,
    WrittenPart,
    assemble_report,
    claims_reply_schema,
    evidence_block,
    evidence_listing,
    merge_parts,
    outline_schema,
    plan_sections,
)
from agent.models.structured import call_structured, grammar_constrained
from agent.nodes._deps import NodeContext, NodeDeps
from agent.observation import fence_text
from agent.progress import depth_of
from agent.prompts import render_prompt
from agent.run_end import answered, final_outcome
from agent.state import ResearchState, Usage, add_usage
from agent.step_views import EvidenceItem, gather_evidence
from agent.support_judge import judge_support

__all__ = ["write_report"]

# A long report shows the model this many times the short answer's evidence:
# each section sees only its share of it.
LONG_EVIDENCE_FACTOR = 4
_SECTION_CLAIMS = 8
_SUMMARY_CLAIMS = 3


async def write_report(
    state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, deps: NodeDeps
) -> dict[str, Any]:
    ctx = deps.context(state, runtime, config, node="write_report")
    evidence = gather_evidence(
        state,
        task=state["task"],
        limit_chars=ctx.settings.evidence_chars * LONG_EVIDENCE_FACTOR,
    )
    if not evidence:
        return {}  # the synthesizer says there is nothing to cite
    cancel_steps(ctx.run_id)  # nothing keeps running past the answer
    try:
        plan = await _outline(ctx, evidence)
    except BudgetExhausted:
        return {"usage": ctx.gate.usage_update()}
    chosen, retries = _fitting(ctx, plan)
    cut = plan.sections[len(chosen) :]
    parts = list(await asyncio.gather(*(_section(ctx, plan, s, evidence, retries) for s in chosen)))
    parts += [WrittenPart(s.title, None, "the model-call budget ran out") for s in cut]
    if not any(p.assessment and p.assessment.claims for p in parts):
        return {"usage": ctx.gate.usage_update()}  # the synthesizer answers instead
    summary = await _summary(ctx, parts, evidence)
    judged = None
    if _judging(ctx):  # one more call: the model's second opinion on the whole report
        judged = await judge_support(
            merge_parts(summary, parts)[0],
            model=ctx.model,
            gate=ctx.gate,
            retries=0,
            config=ctx.config,
        )
    gaps = [plan.note] if plan.note else []
    check = assemble_report(plan.title or state["task"], summary, parts, gaps=gaps, judged=judged)
    answer = check.answer
    status, reason = final_outcome(state, answer, budget="", had_evidence=True)
    emit(
        ctx.sink,
        CitationCheckEvent(
            run_id=ctx.run_id,
            checked=check.checked,
            kept=answer.tally.supported,
            rejected=answer.rejected,
            **answer.tally.model_dump(exclude={"checked"}),
        ),
    )
    update = answered(ctx.sink, ctx.run_id, answer, status, reason)
    spent = ctx.gate.usage_update()
    total = add_usage(state.get("usage") or Usage(), spent)
    emit(ctx.sink, UsageEvent(run_id=ctx.run_id, **total.summary()))  # type: ignore[arg-type]
    return {**update, "usage": spent}


def _fitting(ctx: NodeContext, plan: ReportPlan) -> tuple[tuple[PlannedSection, ...], int]:
    """The sections the model-call budget can pay for, and the re-asks each may make.

    Decided before any section starts: calls made at once cannot see each other's
    spending, so the sections, their retries and the summary must fit in what is left.
    """
    left = ctx.settings.budgets.max_model_calls - ctx.gate.model_calls
    retries = ctx.settings.output_retries
    after = 2 if _judging(ctx) else 1  # the summary, and the judgement at high effort
    if left >= len(plan.sections) * (1 + retries) + after:
        return plan.sections, retries
    fit = left - after if left > after + 1 else left  # the summary only once 2+ sections fit
    return plan.sections[: max(0, fit)], 0


def _judging(ctx: NodeContext) -> bool:
    """At high effort a model also judges the support the word test found, as for answers."""
    return depth_of(ctx.state, ctx.settings).name == "high"


async def _outline(ctx: NodeContext, evidence: Sequence[EvidenceItem]) -> ReportPlan:
    """The model's outline, repaired; one section per source when its reply is unusable."""
    messages = render_prompt(
        "outline",
        task=ctx.state["task"],
        evidence=evidence_listing(evidence),
        max_sections=MAX_SECTIONS,
    )
    try:
        reply = await call_structured(
            ctx.model,
            messages,
            Outline,
            gate=ctx.gate,
            json_schema=outline_schema(evidence),
            retries=ctx.settings.output_retries,
            config=ctx.config,
        )
    except ModelOutputError as exc:
        return plan_sections(None, evidence, problem=str(exc)[:200])
    return plan_sections(reply.value, evidence)


async def _section(
    ctx: NodeContext,
    plan: ReportPlan,
    section: PlannedSection,
    evidence: Sequence[EvidenceItem],
    retries: int,
) -> WrittenPart:
    """One section's claims, checked against everything the run gathered."""
    messages = render_prompt(
        "write_section",
        task=ctx.state["task"],
        report_title=plan.title or ctx.state["task"],
        outline="; ".join(s.title for s in plan.sections),
        title=section.title,
        focus=section.focus,
        evidence=evidence_block(section.evidence),
    )
    js = claims_reply_schema(
        SectionDraft,
        section.evidence,
        grammar=grammar_constrained(ctx.model),
        max_claims=_SECTION_CLAIMS,
    )
    try:
        reply = await call_structured(
            ctx.model,
            messages,
            SectionDraft,
            gate=ctx.gate,
            json_schema=js,
            retries=retries,
            config=ctx.config,
        )
    except BudgetExhausted as exc:
        return WrittenPart(section.title, None, str(exc))
    except ModelOutputError as exc:
        return WrittenPart(section.title, None, f"the model's section was unusable ({exc})")
    # A section may cite any passage the run gathered: the check, not the outline,
    # decides whether a citation holds.
    return WrittenPart(section.title, assess_claims(reply.value.claims, evidence))


async def _summary(
    ctx: NodeContext, parts: Sequence[WrittenPart], evidence: Sequence[EvidenceItem]
) -> WrittenPart | None:
    """The report's summary from its supported claims; None when no call is left for it."""
    cited_ids: dict[str, None] = {}
    lines = []
    for part in parts:
        if part.assessment is None:
            continue
        kept = {v.claim for v in part.assessment.verdicts if v.verified}
        for v in part.assessment.verdicts:
            if v.verified:
                cited_ids.setdefault(v.passage_id)
        said = [c.text for i, c in enumerate(part.assessment.claims) if i in kept]
        if said:
            lines.append(f"{part.title}: " + " ".join(said))
    cited = [item for item in evidence if item.id in cited_ids]
    if not cited:
        return None
    messages = render_prompt(
        "summarize_report",
        task=ctx.state["task"],
        sections=fence_text("\n".join(lines), "the report's sections"),
        evidence=evidence_block(cited),
    )
    js = claims_reply_schema(
        SummaryDraft, cited, grammar=grammar_constrained(ctx.model), max_claims=_SUMMARY_CLAIMS
    )
    try:
        reply = await call_structured(
            ctx.model,
            messages,
            SummaryDraft,
            gate=ctx.gate,
            json_schema=js,
            retries=0,  # a summary is a nicety: one try, no retry past the budget
            config=ctx.config,
        )
    except (BudgetExhausted, ModelOutputError):
        return None
    return WrittenPart("Summary", assess_claims(reply.value.claims[:_SUMMARY_CLAIMS], evidence))
