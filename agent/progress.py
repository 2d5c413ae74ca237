"""Where a run stands, read off its state alone: pure functions shared by nodes and routers."""

from __future__ import annotations

from typing import Literal

from agent.fan_out import combined_record, expand
from agent.plan import Plan, PlanStep
from agent.settings import Depth, Settings
from agent.state import Reflection, ResearchState, StepRecord

__all__ = [
    "blocked_steps",
    "broken_fan_outs",
    "current_plan",
    "depth_of",
    "executed_count",
    "failed_unjudged",
    "fan_out_records",
    "next_attempt",
    "plan_finished",
    "ready_steps",
    "replans_used",
    "run_steps",
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


def run_steps(state: ResearchState) -> list[PlanStep]:
    """The steps that run: the plan's, with each expanded fan-out replaced by its children.

    A fan-out step with a record of its own (skipped, or failed to expand) has no children.
    """
    plan = current_plan(state)
    if plan is None:
        return []
    records = state.get("steps") or {}
    steps: list[PlanStep] = []
    for step in plan.steps:
        expansion = expand(step, records) if step.id not in records else None
        if expansion is not None and expansion.children:
            steps.extend(expansion.children)
        else:
            steps.append(step)
    return steps


def broken_fan_outs(state: ResearchState) -> list[tuple[PlanStep, str]]:
    """Fan-out steps due to run whose source is done but gives them no items, and why."""
    plan = current_plan(state)
    records = state.get("steps") or {}
    broken = []
    for step in plan.steps if plan else ():
        if step.for_each is None or step_state(state, step.id) not in ("pending", "retry"):
            continue
        expansion = expand(step, {k: v for k, v in records.items() if k != step.id})
        if expansion is not None and expansion.problem:
            broken.append((step, expansion.problem))
    return broken


def _fan_out_state(state: ResearchState, step: PlanStep) -> StepState:
    """A fan-out step is pending until every child is final, then done if any child is."""
    expansion = expand(step, state.get("steps") or {})
    if expansion is None or not expansion.children:
        return "pending"
    states = [step_state(state, c.id) for c in expansion.children]
    unjudged = {r.step_id for r in failed_unjudged(state)}
    if any(s in ("pending", "retry") for s in states) or any(
        c.id in unjudged for c in expansion.children
    ):
        return "pending"
    if "done" in states:
        return "done"
    return "skipped" if all(s == "skipped" for s in states) else "failed"


def fan_out_records(state: ResearchState) -> dict[str, StepRecord]:
    """A record per finished fan-out step, combining its children, for ``{{s3}}``."""
    plan = current_plan(state)
    records = state.get("steps") or {}
    combined = {}
    for step in plan.steps if plan else ():
        if step.for_each is None or step.id in records:
            continue
        expansion = expand(step, records)
        if expansion is not None and expansion.children and _fan_out_state(state, step) == "done":
            children = [records[c.id] for c in expansion.children if c.id in records]
            combined[step.id] = combined_record(step, children)
    return combined


def step_state(state: ResearchState, step_id: str) -> StepState:
    record = (state.get("steps") or {}).get(step_id)
    if record is None:
        plan = current_plan(state)
        step = plan.step(step_id) if plan else None
        if step is not None and step.for_each is not None:
            return _fan_out_state(state, step)
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
    ids = {s.id for s in run_steps(state)}
    reflections = state.get("reflections") or []
    return [
        r
        for r in (state.get("steps") or {}).values()
        if r.step_id in ids and r.status == "failed" and _verdict_for(reflections, r) is None
    ]


def unjudged_successes(state: ResearchState) -> list[StepRecord]:
    ids = {s.id for s in run_steps(state)}
    reflections = state.get("reflections") or []
    return [
        r
        for r in (state.get("steps") or {}).values()
        if r.step_id in ids and r.status == "done" and _verdict_for(reflections, r) is None
    ]


def ready_steps(state: ResearchState) -> list[tuple[PlanStep, int]]:
    """Steps whose dependencies are all done and that have not run (or must run again).

    Fan-out children count as steps; a fan-out step itself never runs.
    """
    ready = []
    for step in run_steps(state):
        if step.for_each is not None:
            continue
        status = step_state(state, step.id)
        if status not in ("pending", "retry"):
            continue
        if all(step_state(state, dep) == "done" for dep in step.depends_on):
            ready.append((step, next_attempt(state, step.id)))
    return ready


def blocked_steps(state: ResearchState) -> list[tuple[PlanStep, str]]:
    """Pending steps that can never run: a dependency failed for good or was skipped."""
    blocked = []
    for step in run_steps(state):
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
