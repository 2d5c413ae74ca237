"""Planner: one model call for a visible chain of thought and a validated plan DAG.

First plans carry the model's triage (mode and depth) when effort is ``auto``.
With ``plan_samples`` > 1 a first plan is the critic's pick among several
(`agent.plan_critic`), and no step starts before the pick.
Replans keep every finished step with its observation and add only new steps.
While the reply streams in, each complete step whose inputs are already known
starts at once (LLMCompiler's streaming planner), so tools run before the plan
is finished; if the final plan drops or changes such a step, it is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import ValidationError

from agent.budget import BudgetExhausted
from agent.compact_plan import CompactPlanError, closed_lines, parse_line
from agent.dispatch import StepContext, StepKey, cancel_steps, start_step, step_key
from agent.errors import PlanningError
from agent.events import PlanEvent, ReplanEvent, TriageEvent, emit
from agent.models.structured import call_structured, grammar_constrained, grammar_in_process
from agent.nodes._deps import NodeContext, NodeDeps
from agent.plan import Plan, PlanChoice, PlanStep, TriageDecision, placeholder_refs
from agent.plan_critic import best_of_plans, sampled_task
from agent.plan_merge import merge_duplicates, merged_text, step_signature
from agent.plan_rules import (
    Planning,
    Replanning,
    StepDraft,
    check_plan,
    planning_json_schema,
    to_plan_steps,
)
from agent.progress import current_plan, depth_of, executed_count, step_state
from agent.prompts import render_prompt
from agent.run_end import answered, budget_exhausted
from agent.settings import DEPTHS
from agent.state import Answer, ResearchState
from agent.step_views import evidence_digest, plan_digest

__all__ = ["plan"]


class _EarlyStarter:
    """Starts complete, self-contained steps while the plan streams in.

    Every start goes through `start_step`, so an early start passes the same
    approval and budget gates as the executor's. At most ``limit`` steps of
    one reply start (a longer plan is invalid anyway), and when a reply is
    rejected every step it started is cancelled before the model is re-asked.
    """

    def __init__(
        self,
        ctx: StepContext,
        done: frozenset[str],
        limit: int,
        known: tuple[PlanStep, ...] = (),
    ) -> None:
        self.ctx, self.done, self.limit = ctx, done, limit
        self.started: dict[str, StepKey] = {}
        self.direct = False
        # A step equal to one already planned will be merged into it: never start it.
        self.known = {step_signature(s.tool, s.input) for s in known}
        self.signatures: set[str] = set()

    def __call__(self, partial: dict[str, Any]) -> None:
        if partial.get("mode") == "direct":
            self.direct = True
        if self.direct:
            return
        if partial.get("depth") in DEPTHS and self.ctx.state.get("triage") is None:
            # The reply's triage comes before its steps: they run at the depth it chose.
            self.ctx = replace(self.ctx, depth=partial["depth"])
        drafts = partial.get("steps") or []
        if not drafts and isinstance(partial.get("plan"), str):
            drafts = _closed_compact_steps(partial["plan"])
        for raw in drafts[: min(len(drafts) - 1, self.limit)]:  # the last may still stream
            try:
                draft = StepDraft.model_validate(raw)
            except ValidationError:
                continue
            if draft.id in self.started or draft.id in self.done or draft.for_each:
                continue
            if not set(draft.depends_on) <= self.done:
                continue
            if {ref for ref, _, _ in placeholder_refs(draft.input)} - self.done:
                continue
            if self.ctx.toolset.validate_input(draft.tool, draft.input):
                continue
            signature = step_signature(draft.tool, draft.input)
            if signature in self.known or signature in self.signatures:
                continue
            started = start_step(self.ctx, to_plan_steps([draft])[0], 1)
            if started.blocked is None:
                self.started[draft.id] = started.key
                self.signatures.add(signature)

    def rejected(self) -> None:
        """The reply was refused: nothing it started may run on or be counted."""
        if self.started:
            cancel_steps(self.ctx.run_id, only=self.started.values())
        self.started.clear()
        self.signatures.clear()
        self.direct = False


def _closed_compact_steps(text: str) -> list[dict[str, Any]]:
    """The steps of a streaming compact plan whose lines are finished, plus a stand-in for
    the line still streaming (callers skip the last draft, as with JSON steps)."""
    drafts: list[dict[str, Any]] = []
    for number, line in enumerate(closed_lines(text), start=1):
        try:
            step = parse_line(line, number)
        except CompactPlanError:
            continue  # reported when the whole reply is validated
        if step is not None:
            drafts.append(step)
    return [*drafts, {}]


def _compact(ctx: NodeContext) -> bool:
    """Whether this planner call asks for a compact plan (`Settings.plan_format`)."""
    chosen = ctx.settings.plan_format
    if chosen != "auto":
        return chosen == "compact"
    # Auto: where a grammar Ponder compiles holds every line to the compact form. A served
    # llama.cpp builds its own grammar from the JSON schema, which cannot carry it.
    return grammar_in_process(ctx.model)


async def plan(
    state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, deps: NodeDeps
) -> dict[str, Any]:
    ctx = deps.context(state, runtime, config, node="planner")
    previous = current_plan(state)
    try:
        rejected_before_any_step = bool(state.get("feedback")) and not state.get("steps")
        if previous is None or rejected_before_any_step:
            update = await _first_plan(ctx, previous)
        else:
            update = await _replan(ctx, previous)
    except BudgetExhausted as exc:
        cancel_steps(ctx.run_id)  # no plan came, so nothing started for it may run on
        return budget_exhausted(str(exc), ctx.gate.usage_update())
    except PlanningError:
        cancel_steps(ctx.run_id)
        raise
    return {**update, "feedback": "", "usage": ctx.gate.usage_update()}


async def _first_plan(ctx: NodeContext, rejected: Plan | None) -> dict[str, Any]:
    state, settings, toolset = ctx.state, ctx.settings, ctx.toolset
    triage = state.get("triage")
    ask_triage = triage is None or triage.decided_by != "rules"
    allow_direct = settings.effort == "auto" and rejected is None
    depth = depth_of(state, settings)
    cap = depth.max_plan_steps if triage else DEPTHS["high"].max_plan_steps
    max_steps = min(cap, settings.budgets.max_steps)
    version = (rejected.version + 1) if rejected else 1
    compact = _compact(ctx)
    js = planning_json_schema(
        toolset,
        max_steps=max_steps,
        triage=ask_triage,
        allow_direct=allow_direct,
        ordered=grammar_constrained(ctx.model),
        compact=compact,
    )

    def messages_for(task: str) -> list[BaseMessage]:
        return render_prompt(
            "plan",
            task=task,
            tools=toolset.describe(),
            max_steps=max_steps,
            purpose=ctx.deps.purpose,
            triage=ask_triage,
            allow_direct=allow_direct,
            effort=settings.effort,
            compact=compact,
            rejected=plan_digest(state, rejected) if rejected else "",
            feedback=state.get("feedback") or "",
        )

    def rules(p: Planning) -> str | None:
        if p.mode == "direct" and allow_direct:
            return None if p.answer.strip() else "mode is direct but the answer is empty"
        limit = max_steps
        if ask_triage and settings.effort == "auto" and p.depth:
            limit = min(DEPTHS[p.depth].max_plan_steps, max_steps)
        return check_plan(p.steps, toolset, max_steps=limit)

    choice: PlanChoice | None = None
    samples = settings.plan_samples if rejected is None else 1
    if samples > 1:

        async def sample(i: int) -> Planning:
            # No early starts: nothing may run before the critic has picked.
            task = sampled_task(state["task"], i, samples)
            return await _request(ctx, messages_for(task), Planning, js, rules, None)

        planning, choice = await best_of_plans(ctx, samples, sample)
    else:
        early = _EarlyStarter(ctx.step_context(version), frozenset(), max_steps)
        planning = await _request(ctx, messages_for(state["task"]), Planning, js, rules, early)
    update: dict[str, Any] = {}
    if ask_triage:
        depth_name = planning.depth or "medium" if settings.effort == "auto" else settings.effort
        decision = TriageDecision(
            mode=planning.mode if allow_direct or planning.mode != "direct" else "research",
            depth=depth_name,
            reason=planning.triage_reason or (triage.reason if triage else "planner's judgement"),
            decided_by="model" if settings.effort == "auto" else "effort",
        )
        update["triage"] = decision
        emit(ctx.sink, TriageEvent.of(ctx.run_id, decision))
    if planning.mode == "direct" and allow_direct:
        cancel_steps(ctx.run_id)
        answer = Answer(markdown=planning.answer.strip())
        return {**update, **answered(ctx.sink, ctx.run_id, answer, "done", "answered directly")}
    steps, merged = merge_duplicates(to_plan_steps(planning.steps))
    why = "rejected plan revised with feedback" if rejected else "first plan"
    if choice is not None:
        why += f"; plan {choice.chosen} of {choice.samples} ({choice.by}): {choice.reasons}"
    new_plan = Plan(
        version=version,
        reasoning=planning.reasoning,
        steps=steps,
        reason="; ".join(filter(None, [why, merged_text(merged)])),
        origin="revised" if rejected else "planner",
        choice=choice,
    )
    return {**update, "plans": [_publish(ctx, new_plan, rejected, merged)]}


async def _replan(ctx: NodeContext, previous: Plan) -> dict[str, Any]:
    state, settings, toolset = ctx.state, ctx.settings, ctx.toolset
    reflections = state.get("reflections") or []
    reason = state.get("feedback") or (reflections[-1].reason if reflections else "replan")
    emit(ctx.sink, ReplanEvent(run_id=ctx.run_id, from_version=previous.version, reason=reason))
    records = state.get("steps") or {}
    done = frozenset(
        i
        for i in set(records) | set(previous.ids)
        if "." not in i and step_state(state, i) == "done"
    )
    unfinished = [s for s in previous.steps if step_state(state, s.id) in ("pending", "retry")]
    depth = depth_of(state, settings)
    remaining = settings.budgets.max_steps - executed_count(state)
    max_steps = max(1, min(depth.max_plan_steps, remaining))
    taken_ids = set(records) | set(previous.ids)
    compact = _compact(ctx)
    js = planning_json_schema(
        toolset,
        max_steps=max_steps,
        triage=False,
        allow_direct=False,
        replan=True,
        ordered=grammar_constrained(ctx.model),
        first_id=1 + max((int(i[1:].split(".")[0]) for i in taken_ids), default=0),
        known=sorted(done),
        unfinished=[s.id for s in unfinished],
        compact=compact,
    )
    messages = render_prompt(
        "replan",
        task=state["task"],
        tools=toolset.describe(),
        max_steps=max_steps,
        plan=plan_digest(state, previous),
        evidence=evidence_digest(state, limit=3000),
        reason=reason,
        unfinished=[s.id for s in unfinished],
        compact=compact,
    )
    version = previous.version + 1
    early = _EarlyStarter(ctx.step_context(version), done, max_steps, known=previous.steps)
    taken = frozenset(taken_ids)

    def rules(r: Replanning) -> str | None:
        bad = [k for k in r.keep if k not in {s.id for s in unfinished}]
        if bad:
            return f"keep lists {', '.join(bad)}, which are not unfinished steps of the plan"
        return check_plan(
            r.steps,
            toolset,
            max_steps=max_steps,
            finished=taken,
            kept=frozenset(r.keep) | done,
        )

    replanning = await _request(ctx, messages, Replanning, js, rules, early)
    keep = set(replanning.keep)
    carried = tuple(s for s in previous.steps if s.id in done or s.id in keep)
    steps, merged = merge_duplicates(
        carried + to_plan_steps(replanning.steps), fixed=frozenset(s.id for s in carried)
    )
    new_plan = Plan(
        version=version,
        reasoning=replanning.reasoning,
        steps=steps,
        reason="; ".join(filter(None, [reason, merged_text(merged)])),
        origin="replan",
    )
    return {"plans": [_publish(ctx, new_plan, previous, merged)]}


T = TypeVar("T", Planning, Replanning)


async def _request(
    ctx: NodeContext,
    messages: list[BaseMessage],
    schema: type[T],
    js: dict[str, Any],
    rules: Callable[[T], str | None],
    early: _EarlyStarter | None,
) -> T:
    """One planning call: validated, repaired by re-asking, streamed into early starts."""
    settings = ctx.settings
    stream = settings.stream_planning and not settings.approve_plan and early is not None
    reply = await call_structured(
        ctx.model,
        messages,
        schema,
        gate=ctx.gate,
        retries=settings.plan_retries,
        json_schema=js,
        validate=rules,
        on_partial=early if stream else None,
        on_rejected=lambda _problem: early.rejected() if early else None,
        config=ctx.config,
        error=PlanningError,
    )
    return reply.value


def _publish(ctx: NodeContext, plan: Plan, previous: Plan | None, merged: dict[str, str]) -> Plan:
    """Stamp the diff, cancel running steps the plan dropped, and announce it."""
    plan = plan.model_copy(update={"diff": plan.diff_from(previous, merged)})
    _keep_only(ctx.run_id, plan.steps, ctx.state)
    emit(ctx.sink, PlanEvent.of(ctx.run_id, plan))
    return plan


def _keep_only(run_id: str, steps: tuple[PlanStep, ...], state: ResearchState) -> None:
    """Cancel running steps the final plan dropped or changed."""
    records = state.get("steps") or {}
    keep = set()
    for step in steps:
        record = records.get(step.id)
        for attempt in {1, (record.attempt + 1) if record else 1}:
            keep.add(step_key(run_id, step, attempt))
    cancel_steps(run_id, keep=keep)
