"""The model's second opinion on citations that passed the word test (high effort only).

One structured call judges every claim at once, so the cost is one model call
per answer, and it goes through the run's budget gate like any other call. The
model can only withdraw support the word test gave, never grant support it
refused: a verified citation needs both. If the budget is spent or the reply is
unusable, the word test's verdicts stand and the tally says so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field

from agent.budget import BudgetExhausted, BudgetGate
from agent.citations import CitationVerdict, ClaimsAssessment
from agent.errors import ModelCallError, ModelOutputError
from agent.models.structured import ReplySchema, call_structured
from agent.observation import fence_text
from agent.prompts import render_prompt

__all__ = ["ClaimJudgement", "SupportJudgement", "judge_support"]

_SPAN_SHOWN = 1200


class ClaimJudgement(BaseModel):
    claim: int = Field(description="the claim's number")
    supported: bool
    reason: str = Field(default="", description="why, in a few words")


class SupportJudgement(ReplySchema):
    """Whether each claim is stated by the source text it cites."""

    SCRIPT_KEY: ClassVar[str] = "SupportJudgement"

    judgements: list[ClaimJudgement] = Field(default_factory=list)


async def judge_support(
    assessment: ClaimsAssessment,
    *,
    model: BaseChatModel,
    gate: BudgetGate,
    retries: int,
    config: RunnableConfig | None = None,
) -> ClaimsAssessment:
    """``assessment`` with the support the model does not confirm withdrawn."""
    passed: dict[int, list[CitationVerdict]] = {}
    for v in assessment.verdicts:
        if v.verified:
            passed.setdefault(v.claim, []).append(v)
    if not passed:
        return assessment
    numbered = list(passed)  # claim n (1-based) -> index into assessment.claims
    shown = [
        {
            "n": n,
            "text": assessment.claims[index].text.strip(),
            "sources": "\n".join(
                fence_text(
                    v.support.span[:_SPAN_SHOWN] if v.support else "",
                    v.item.passage.ref if v.item else v.passage_id,
                    ident=v.passage_id,
                )
                for v in passed[index]
            ),
        }
        for n, index in enumerate(numbered, start=1)
    ]
    try:
        reply = await call_structured(
            model,
            render_prompt("judge_support", claims=shown),
            SupportJudgement,
            gate=gate,
            retries=retries,
            config=config,
        )
    except BudgetExhausted:
        return replace(assessment, judged_by="words (model judgement skipped: budget)")
    except (ModelOutputError, ModelCallError) as exc:
        # The answer is already checked by words; a failed second opinion must not lose it.
        kind = "unusable" if isinstance(exc, ModelOutputError) else "failed"
        return replace(assessment, judged_by=f"words (model judgement {kind})")
    refused: dict[int, str] = {}
    judged: set[int] = set()
    for j in reply.value.judgements:
        if 1 <= j.claim <= len(numbered):
            index = numbered[j.claim - 1]
            judged.add(index)
            if not j.supported:
                refused[index] = j.reason.strip() or "no reason given"
    for index in numbered:
        if index not in judged:  # a claim the model skipped is not confirmed
            refused[index] = "the model gave no judgement"
    verdicts = tuple(
        v.refuted(f"the model judged it unsupported: {refused[v.claim]}")
        if v.verified and v.claim in refused
        else v
        for v in assessment.verdicts
    )
    return replace(assessment, verdicts=verdicts, judged_by="words+model")
