"""Where a run stands, read off its state alone: pure functions shared by nodes and routers."""

from __future__ import annotations

from typing import Literal

from agent.plan import Plan, PlanStep
from agent.settings import Depth, Settings
from agent.state import Reflection, ResearchState, StepRecord

__all__ = [
    "blocked_steps",
    "current_plan",
    "depth_of",
    "executed_count",
    "failed_unjudged",
    "next_attempt",
    "plan_finished",
    "ready_steps",
    "replans_used",
    "step_state",
    "unjudged_successes",
]

StepState = Literal["pending", "retry", "done", "failed", "skipped"]


def current_plan(state: ResearchState) -> Plan | None:
    plans = state.get("plans") or []
    return plans[-1] if plans else None


def depth_of(state: ResearchState, settings: Settings) -> Depth:
    triage = state.get("triage")
    return settings.depth(triage.depth if triage else None)


def replans_used(state: ResearchState) -> int:
    return sum(1 for p in state.get("plans") or [] if p.origin == "replan")


def executed_count(state: ResearchState) -> int:
    """Tool executions so far (every attempt counts), for the step budget.

    Plan version 0 is an earlier run's evidence (`agent.follow_up`): not spent here.
    """
    return sum(
        r.attempt
        for r in (state.get("steps") or {}).values()
        if r.status != "skipped" and r.plan_version > 0
    )


def _verdict_for(reflections: list[Reflection], record: StepRecord) -> Reflection | None:
    for reflection in reversed(reflections):
        if any(
            v.step_id == record.step_id and v.attempt == record.attempt for v in reflection.verdicts
        ):
            return reflection
    return None


def step_state(state: ResearchState, step_id: str) -> StepState:
    record = (state.get("steps") or {}).get(step_id)
    if record is None:
        return "pending"
    if record.status != "failed":
        return record.status
    judged = _verdict_for(state.get("reflections") or [], record)
    if judged is None:
        return "failed"
    if judged.decision == "retry" and step_id in judged.retry:
        return "retry"
    return "failed"


def next_attempt(state: ResearchState, step_id: str) -> int:
    record = (state.get("steps") or {}).get(step_id)
    return 1 if record is None else record.attempt + 1


def failed_unjudged(state: ResearchState) -> list[StepRecord]:
    """Failed attempts no reflection has looked at yet."""
    plan = current_plan(state)
    ids = set(plan.ids) if plan else set()
    reflections = state.get("reflections") or []
    return [
        r
        for r in (state.get("steps") or {}).values()
        if r.step_id in ids and r.status == "failed" and _verdict_for(reflections, r) is None
    ]


def unjudged_successes(state: ResearchState) -> list[StepRecord]:
    plan = current_plan(state)
    ids = set(plan.ids) if plan else set()
    reflections = state.get("reflections") or []
    return [
        r
        for r in (state.get("steps") or {}).values()
        if r.step_id in ids and r.status == "done" and _verdict_for(reflections, r) is None
    ]


def ready_steps(state: ResearchState) -> list[tuple[PlanStep, int]]:
    """Steps whose dependencies are all done and that have not run (or must run again)."""
    plan = current_plan(state)
    if plan is None:
        return []
    ready = []
    for step in plan.steps:
        status = step_state(state, step.id)
        if status not in ("pending", "retry"):
            continue
        if all(step_state(state, dep) == "done" for dep in step.depends_on):
            ready.append((step, next_attempt(state, step.id)))
    return ready


def blocked_steps(state: ResearchState) -> list[tuple[PlanStep, str]]:
    """Pending steps that can never run: a dependency failed for good or was skipped."""
    plan = current_plan(state)
    if plan is None:
        return []
    blocked = []
    for step in plan.steps:
        if step_state(state, step.id) != "pending":
            continue
        for dep in step.depends_on:
            dep_state = step_state(state, dep)
            judged_failure = dep_state == "failed" and not any(
                r.step_id == dep for r in failed_unjudged(state)
            )
            if dep_state == "skipped" or judged_failure:
                blocked.append((step, dep))
                break
    return blocked


def plan_finished(state: ResearchState) -> bool:
    """Every step of the current plan has a final outcome."""
    plan = current_plan(state)
    if plan is None:
        return True
    return all(step_state(state, s.id) in ("done", "failed", "skipped") for s in plan.steps)
