"""Reflect: judge finished steps against their goals; continue, retry, replan or finish.

It runs as soon as a step fails (other steps keep running meanwhile, so it never
serializes independent work), and at high depth also when the plan drains, to
judge whether the successes really answer the task. Obvious cases are decided
by rule without a model call: a transient failure (timeout, rate limit) is
retried once. Loops that make no progress are stopped: a step failing again
with the same error is not retried, and two replans in a row that bring no new
evidence end the run with what it has.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agent.budget import BudgetExhausted
from agent.errors import ModelOutputError
from agent.events import ReflectionEvent, emit
from agent.models.structured import ReplySchema, call_structured, json_schema_for
from agent.nodes._deps import NodeContext, NodeDeps
from agent.progress import (
    current_plan,
    depth_of,
    failed_unjudged,
    plan_finished,
    replans_used,
    unjudged_successes,
)
from agent.prompts import render_prompt
from agent.run_end import budget_exhausted
from agent.state import (
    Reflection,
    ReflectionDecision,
    ResearchState,
    StepRecord,
    Verdict,
    VerdictKind,
)
from agent.step_views import evidence_digest, plan_digest

__all__ = ["ReflectionReply", "reflect"]

MAX_ATTEMPTS = 2


class VerdictDraft(BaseModel):
    step_id: str
    verdict: VerdictKind
    reason: str = ""


class ReflectionReply(ReplySchema):
    """Judge each finished step against its goal, then decide what the run does next."""

    SCRIPT_KEY: ClassVar[str] = "Reflection"

    verdicts: list[VerdictDraft] = Field(default_factory=list)
    decision: ReflectionDecision
    reason: str = Field(description="one or two sentences")
    retry: list[str] = Field(default_factory=list, description="failed steps to run again")


def _stalled(record: StepRecord) -> bool:
    err = record.observation.error
    return err is not None and err.message in record.errors_before


def _barren_replans(state: ResearchState) -> bool:
    """The last two replans finished without a single successful step."""
    plans = [p for p in state.get("plans") or [] if p.version > 1]
    if len(plans) < 2:
        return False
    records = (state.get("steps") or {}).values()
    for p in plans[-2:]:
        new = [r for r in records if r.plan_version == p.version]
        if not new or any(r.ok for r in new):
            return False
    return True


async def reflect(
    state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, deps: NodeDeps
) -> dict[str, Any]:
    ctx = deps.context(state, runtime, config, node="reflect")
    settings, gate, run_id = ctx.settings, ctx.gate, ctx.run_id
    plan = current_plan(state)
    depth = depth_of(state, settings)
    failed = failed_unjudged(state)
    successes = unjudged_successes(state) if depth.reflect_every_step else []
    judged = failed + successes
    replans_left = min(depth.max_replans, settings.budgets.max_replans) - replans_used(state)
    budget_spent = replans_used(state) >= settings.budgets.max_replans
    index = len(state.get("reflections") or []) + 1
    version = plan.version if plan else 0
    default_verdicts = tuple(
        Verdict(
            step_id=r.step_id,
            attempt=r.attempt,
            verdict="ok" if r.ok else "failed",
            reason=r.observation.error.message[:200] if r.observation.error else "",
        )
        for r in judged
    )

    def made(
        decision: ReflectionDecision,
        reason: str,
        *,
        verdicts: tuple[Verdict, ...] = default_verdicts,
        retry: tuple[str, ...] = (),
        stalled: bool = False,
        by: Literal["model", "rules"] = "rules",
    ) -> Reflection:
        return Reflection(
            index=index,
            plan_version=version,
            verdicts=verdicts,
            decision=decision,
            reason=reason,
            retry=retry,
            stalled=stalled,
            by=by,
        )

    retryable = [
        r
        for r in failed
        if r.observation.error
        and r.observation.error.retryable
        and r.attempt < MAX_ATTEMPTS
        and not _stalled(r)
    ]
    if _barren_replans(state):
        reflection = made("finish", "two replans in a row brought no new evidence", stalled=True)
    elif failed and len(retryable) == len(failed) and not successes:
        reflection = made(
            "retry", "transient failure; trying again", retry=tuple(r.step_id for r in retryable)
        )
    else:
        try:
            reflection = await _judge(ctx, judged, index, version, replans_left)
        except BudgetExhausted as exc:
            return {
                "reflections": [made("finish", str(exc))],
                **budget_exhausted(str(exc), gate.usage_update()),
            }
        except ModelOutputError as exc:
            reflection = made(
                "continue" if not plan_finished(state) else "finish",
                f"reflection unusable, carrying on: {exc}",
            )
    reflection, replan_refused = _within_limits(reflection, judged, replans_left)
    update: dict[str, Any] = {"usage": gate.usage_update()}
    if replan_refused and budget_spent:
        reason = f"replans budget exhausted ({settings.budgets.max_replans} replans)"
        reflection = reflection.model_copy(
            update={"decision": "finish", "reason": f"{reflection.reason}; {reason}"}
        )
        update = budget_exhausted(reason, update["usage"])
    emit(
        ctx.sink,
        ReflectionEvent(
            run_id=run_id,
            verdicts=reflection.verdicts,
            decision=reflection.decision,
            reason=reflection.reason,
            stalled=reflection.stalled,
            by=reflection.by,
        ),
    )
    return {**update, "reflections": [reflection]}


async def _judge(
    ctx: NodeContext, judged: list[StepRecord], index: int, version: int, replans_left: int
) -> Reflection:
    state = ctx.state
    ids = [r.step_id for r in judged]
    js = json_schema_for(ReflectionReply)
    if ids:
        js["properties"]["verdicts"]["items"] = {
            "type": "object",
            "properties": {
                "step_id": {"type": "string", "enum": ids},
                "verdict": {"type": "string", "enum": list(get_args(VerdictKind))},
                "reason": {"type": "string", "maxLength": 300},
            },
            "required": ["step_id", "verdict", "reason"],
        }
        js.pop("$defs", None)
    messages = render_prompt(
        "reflect",
        task=state["task"],
        plan=plan_digest(state, current_plan(state)),
        judged=ids,
        evidence=evidence_digest(state, limit=4000),
        replans_left=replans_left,
    )
    reply = await call_structured(
        ctx.model,
        messages,
        ReflectionReply,
        gate=ctx.gate,
        json_schema=js,
        retries=ctx.settings.output_retries,
        config=ctx.config,
    )
    j = reply.value
    by_id = {r.step_id: r for r in judged}
    verdicts = tuple(
        Verdict(
            step_id=v.step_id, attempt=by_id[v.step_id].attempt, verdict=v.verdict, reason=v.reason
        )
        for v in j.verdicts
        if v.step_id in by_id
    )
    missing = [r for r in judged if r.step_id not in {v.step_id for v in verdicts}]
    verdicts += tuple(
        Verdict(step_id=r.step_id, attempt=r.attempt, verdict="ok" if r.ok else "failed")
        for r in missing
    )
    return Reflection(
        index=index,
        plan_version=version,
        verdicts=verdicts,
        decision=j.decision,
        reason=j.reason,
        retry=tuple(j.retry),
        by="model",
    )


def _within_limits(
    r: Reflection, judged: list[StepRecord], replans_left: int
) -> tuple[Reflection, bool]:
    """Hold the decision to the budgets and the stall rules, whoever made it.

    Also says whether a replan was wanted but refused for want of replans.
    """
    failed = {x.step_id: x for x in judged if not x.ok}
    decision, retry, reason, stalled = r.decision, r.retry, r.reason, r.stalled
    if decision == "retry":
        retry = tuple(
            i
            for i in retry
            if i in failed and failed[i].attempt < MAX_ATTEMPTS and not _stalled(failed[i])
        )
        if not retry:
            stalled = stalled or any(_stalled(x) for x in failed.values())
            decision = "replan" if replans_left > 0 else "continue"
            reason += " (retry not possible: attempts used up or the same error repeated)"
    refused = decision == "replan" and replans_left <= 0
    if refused:
        decision = "continue"
        reason += " (no replans left)"
    return r.model_copy(
        update={"decision": decision, "retry": retry, "reason": reason.strip(), "stalled": stalled}
    ), refused
